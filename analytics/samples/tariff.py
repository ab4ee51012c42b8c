"""The programme's tariff, `contracts/framework.yaml`: one text, written by the sample generator and committed as is.

Kept as a string rather than built from data so that the file keeps its comments, which are what a finance officer
reads first; tests check that the committed contract equals it byte for byte and that it loads.
"""

from __future__ import annotations

from pathlib import Path

TARIFF_PATH = "framework.yaml"  # under the contracts folder

FRAMEWORK_YAML = """\
# Tariff of the framework agreement "Région sans film" (Île-de-France), per use, in force for five years.
# Rules: docs/billing.md. Amounts are exact decimals (quoted so that no tool reads them as floats), excluding VAT.
# Per offer: a monthly fee, an optional monthly minimum of consumption, and one charge per billed metric:
#   per_unit   quantity x unit_price
#   graduated  each tier band at its own price (the first 1 000 at 2.40, the next 4 000 at 1.90...)
#   volume     every unit at the price of the tier the month's total falls in (total <= up_to)
# Metrics not listed are reported but not billed (views never are).
contract_id: RSF-AC-2010
currency: EUR
vat_rate: "0.20"
valid_from: 2010-04-01
valid_to: 2015-03-31

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

offers:
  PACS_RIS:                             # image archive + viewer and radiology information system
    monthly_fee: "1800.00"
    minimum_monthly: "2500.00"          # commitment on usage charges, prorated like the fee
    charges:
      - metric: studies_archived
        model: graduated
        tiers:
          - {up_to: 1000, unit_price: "2.40"}
          - {up_to: 5000, unit_price: "1.90"}
          - {up_to: null, unit_price: "1.50"}
      - metric: storage_gb_month
        model: per_unit
        unit_price: "0.06"
      - metric: retrievals
        model: per_unit
        unit_price: "0.05"
      - metric: shares
        model: volume
        tiers:
          - {up_to: 200, unit_price: "1.00"}
          - {up_to: 1000, unit_price: "0.80"}
          - {up_to: null, unit_price: "0.60"}

  PACS:                                 # archive + viewer, the site keeps its own RIS
    monthly_fee: "1200.00"
    minimum_monthly: "1800.00"
    charges:
      - metric: studies_archived
        model: graduated
        tiers:
          - {up_to: 1000, unit_price: "2.10"}
          - {up_to: 5000, unit_price: "1.65"}
          - {up_to: null, unit_price: "1.30"}
      - metric: storage_gb_month
        model: per_unit
        unit_price: "0.06"
      - metric: retrievals
        model: per_unit
        unit_price: "0.05"
      - metric: shares
        model: per_unit
        unit_price: "0.80"

  VNA:                                  # backup and vendor-neutral archive behind the site's own PACS
    monthly_fee: "450.00"
    minimum_monthly: "900.00"
    charges:
      - metric: storage_gb_month
        model: graduated
        tiers:
          - {up_to: 2000, unit_price: "0.08"}
          - {up_to: 10000, unit_price: "0.06"}
          - {up_to: null, unit_price: "0.04"}
      - metric: studies_archived
        model: per_unit
        unit_price: "0.15"
      - metric: retrievals                # restores to the site's PACS
        model: volume
        tiers:
          - {up_to: 500, unit_price: "0.80"}
          - {up_to: 2000, unit_price: "0.60"}
          - {up_to: null, unit_price: "0.40"}
      - metric: shares
        model: per_unit
        unit_price: "0.50"
"""


def write_tariff(contracts_dir: Path) -> Path:
    """Write the programme's tariff into `contracts_dir` and return its path."""
    path = Path(contracts_dir) / TARIFF_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FRAMEWORK_YAML, encoding="utf-8", newline="\n")
    return path
