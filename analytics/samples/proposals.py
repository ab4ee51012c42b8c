"""Proposed tariffs for the next framework agreement, `contracts/proposals/*.yaml`: written by the sample generator
and committed as is (strings, like framework.yaml, so that the header comments a GCS reader starts with stay).

Each is a complete tariff in framework.yaml's schema (`sansfilm simulate --tariff FILE` validates it with the same
loader); the shared head (dates, revision clause, seller) is written once below.
"""

from __future__ import annotations

from pathlib import Path

from analytics.billing.simulation import PROPOSALS_DIR

_HEAD = """\
contract_id: {contract_id}
currency: EUR
vat_rate: "0.20"
valid_from: 2015-04-01
valid_to: 2020-03-31

revision:                               # the same clause as the agreement in force, prices set in October 2014
  index: SYNTEC
  a: "0.15"
  b: "0.85"
  base_period: 2014-10
  current: last_published
  max_lag_months: 3
  coefficient_decimals: 4
  unit_price_decimals: 4
  fee_decimals: 2

ceiling:                                # maximum over the five years, excluding VAT
  amount: "{ceiling}"

seller:
  name: GCS e-santé Île-de-France
  siret: "18007521000013"
  vat_id: FR50180075210
  address:
    - Programme Région sans film
    - 21 rue des Archives
  postcode: "75004"
  city: Paris
  country: FR
"""

STORAGE_CUT = (
    """\
# Proposal A for the next framework agreement (2015-2020): storage cheaper, archiving dearer.
# Why: storage is most of the bill of long-standing sites, whose archives only grow, while the operator's cost of
# storage per GB keeps falling; the cost that does not fall is ingesting and indexing each new study.
# What changes against framework.yaml (RSF-AC-2010): storage_gb_month 0.06 -> 0.035 (PACS_RIS, PACS) and the VNA's
# storage tiers 0.08/0.06/0.04 -> 0.05/0.04/0.03; every studies_archived price about +15 % (2.40 -> 2.75...).
# Fees, minimums, retrievals and shares are unchanged. Simulate: `sansfilm simulate --tariff
# contracts/proposals/a_storage_cut.yaml` (docs/billing.md#simulating-a-proposed-tariff).
"""
    + _HEAD.format(contract_id="RSF-AC-2015-A", ceiling="1800000.00")
    + """
offers:
  PACS_RIS:
    monthly_fee: "1800.00"
    minimum_monthly: "2500.00"
    charges:
      - metric: studies_archived
        model: graduated
        tiers:
          - {up_to: 1000, unit_price: "2.75"}
          - {up_to: 5000, unit_price: "2.20"}
          - {up_to: null, unit_price: "1.75"}
      - metric: storage_gb_month
        model: per_unit
        unit_price: "0.035"
      - metric: retrievals
        model: per_unit
        unit_price: "0.05"
      - metric: shares
        model: volume
        tiers:
          - {up_to: 200, unit_price: "1.00"}
          - {up_to: 1000, unit_price: "0.80"}
          - {up_to: null, unit_price: "0.60"}

  PACS:
    monthly_fee: "1200.00"
    minimum_monthly: "1800.00"
    charges:
      - metric: studies_archived
        model: graduated
        tiers:
          - {up_to: 1000, unit_price: "2.40"}
          - {up_to: 5000, unit_price: "1.90"}
          - {up_to: null, unit_price: "1.50"}
      - metric: storage_gb_month
        model: per_unit
        unit_price: "0.035"
      - metric: retrievals
        model: per_unit
        unit_price: "0.05"
      - metric: shares
        model: per_unit
        unit_price: "0.80"

  VNA:
    monthly_fee: "450.00"
    minimum_monthly: "900.00"
    charges:
      - metric: storage_gb_month
        model: graduated
        tiers:
          - {up_to: 2000, unit_price: "0.05"}
          - {up_to: 10000, unit_price: "0.04"}
          - {up_to: null, unit_price: "0.03"}
      - metric: studies_archived
        model: per_unit
        unit_price: "0.18"
      - metric: retrievals
        model: volume
        tiers:
          - {up_to: 500, unit_price: "0.80"}
          - {up_to: 2000, unit_price: "0.60"}
          - {up_to: null, unit_price: "0.40"}
      - metric: shares
        model: per_unit
        unit_price: "0.50"
"""
)

BUNDLE = (
    """\
# Proposal B for the next framework agreement (2015-2020): one bundle per offer, no minimum of consumption.
# Why: small and newly live sites pay the minimum top-up for usage they do not have, which they read as a penalty;
# a higher monthly fee that includes a first allowance is simpler to budget and removes the top-up line.
# What changes against framework.yaml (RSF-AC-2010): no minimum_monthly; monthly fees 1800 -> 2600 (PACS_RIS),
# 1200 -> 1900 (PACS), 450 -> 700 (VNA); the fee includes the first 500 studies archived and the first 1 000 GB-month
# stored (2 000 for the VNA), zero-priced first tiers; beyond them prices a little under today's.
# Retrievals and shares are unchanged. Simulate: `sansfilm simulate --tariff contracts/proposals/b_bundle.yaml`.
"""
    + _HEAD.format(contract_id="RSF-AC-2015-B", ceiling="1600000.00")
    + """
offers:
  PACS_RIS:
    monthly_fee: "2600.00"
    charges:
      - metric: studies_archived
        model: graduated
        tiers:
          - {up_to: 500, unit_price: "0.00"}
          - {up_to: 5000, unit_price: "2.10"}
          - {up_to: null, unit_price: "1.50"}
      - metric: storage_gb_month
        model: graduated
        tiers:
          - {up_to: 1000, unit_price: "0.00"}
          - {up_to: null, unit_price: "0.055"}
      - metric: retrievals
        model: per_unit
        unit_price: "0.05"
      - metric: shares
        model: volume
        tiers:
          - {up_to: 200, unit_price: "1.00"}
          - {up_to: 1000, unit_price: "0.80"}
          - {up_to: null, unit_price: "0.60"}

  PACS:
    monthly_fee: "1900.00"
    charges:
      - metric: studies_archived
        model: graduated
        tiers:
          - {up_to: 500, unit_price: "0.00"}
          - {up_to: 5000, unit_price: "1.85"}
          - {up_to: null, unit_price: "1.30"}
      - metric: storage_gb_month
        model: graduated
        tiers:
          - {up_to: 1000, unit_price: "0.00"}
          - {up_to: null, unit_price: "0.055"}
      - metric: retrievals
        model: per_unit
        unit_price: "0.05"
      - metric: shares
        model: per_unit
        unit_price: "0.80"

  VNA:
    monthly_fee: "700.00"
    charges:
      - metric: storage_gb_month
        model: graduated
        tiers:
          - {up_to: 2000, unit_price: "0.00"}
          - {up_to: 10000, unit_price: "0.06"}
          - {up_to: null, unit_price: "0.04"}
      - metric: studies_archived
        model: per_unit
        unit_price: "0.15"
      - metric: retrievals
        model: volume
        tiers:
          - {up_to: 500, unit_price: "0.80"}
          - {up_to: 2000, unit_price: "0.60"}
          - {up_to: null, unit_price: "0.40"}
      - metric: shares
        model: per_unit
        unit_price: "0.50"
"""
)

PROPOSALS = {"a_storage_cut.yaml": STORAGE_CUT, "b_bundle.yaml": BUNDLE}


def write_proposals(contracts_dir: Path) -> list[Path]:
    """Write the proposals into `contracts_dir/proposals/`; return their paths."""
    folder = Path(contracts_dir) / PROPOSALS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in PROPOSALS.items():
        (folder / name).write_text(text, encoding="utf-8", newline="\n")
        written.append(folder / name)
    return written
