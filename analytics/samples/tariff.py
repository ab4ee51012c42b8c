"""The programme's contract terms: `contracts/framework.yaml` (tariff, price revision clause, ceiling) and
`contracts/price_index.csv` (the published index values), written by the sample generator and committed as is.

The tariff is kept as a string rather than built from data so that the file keeps its comments, which are what a
finance officer reads first; tests check that the committed contracts equal these byte for byte and that they load.
The index values are made up for the sample (a Syntec-like monthly index, base 229.0 in October 2009), not the
published series; their publication dates are what a real series looks like: the value of a month is published
near the end of the next one, and February 2012's came late, on 3 April, after the 2012 anniversary.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

TARIFF_PATH = "framework.yaml"  # under the contracts folder
PRICE_INDEX_PATH = "price_index.csv"

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

# Annual price revision (docs/billing.md): from each anniversary of valid_from, every price P = P0 x (a + b x I / I0),
# I and I0 being values of the index in price_index.csv. The coefficient is always computed from the prices above.
revision:
  index: SYNTEC
  a: "0.15"                             # fixed part
  b: "0.85"                             # indexed part (a + b = 1)
  base_period: 2009-10                  # I0: the index of October 2009, the month the prices were set
  current: last_published               # I: the value of the latest month published before the anniversary date
  max_lag_months: 3                     # ...at most 3 months before the anniversary month, otherwise it is missing
  coefficient_decimals: 4               # coefficient rounded half-up to 4 decimals
  unit_price_decimals: 4                # revised unit and tier prices, half-up
  fee_decimals: 2                       # revised monthly fees and minimums, half-up to the cent

# Maximum of the agreement over its five years, excluding VAT (framework governance: `sansfilm governance`).
ceiling:
  amount: "1500000.00"
  volumes:                              # optional caps on usage over the agreement
    studies_archived: 2500

# When an invoice is due, in days after its issue date (`sansfilm payments list`): French public bodies pay within 30
# days, public hospitals within 50; a sector of the registry (public, private) may have its own.
payment_terms:
  days: 30
  sectors:
    public: 50

# Tele-opinions between the pilot's establishments (docs/billing.md): what a requester owes the responder per
# answered request, settled between them (`sansfilm opinions --statement`), never on the GCS's invoices.
settlement:
  fee: "30.00"                          # an answered request made in working hours
  on_call_fee: "45.00"                  # an answered request made on call (nights, weekends, public holidays)

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


# (month, value, published_on) of the sample's index, SYNTEC.
_INDEX_VALUES = (
    ("2009-09", "228.4", "2009-10-29"),
    ("2009-10", "229.0", "2009-11-27"),
    ("2009-11", "229.3", "2009-12-29"),
    ("2009-12", "229.1", "2010-01-28"),
    ("2010-01", "229.6", "2010-02-25"),
    ("2010-02", "229.9", "2010-03-29"),
    ("2010-03", "230.4", "2010-04-28"),
    ("2010-04", "230.9", "2010-05-28"),
    ("2010-05", "231.0", "2010-06-29"),
    ("2010-06", "231.5", "2010-07-29"),
    ("2010-07", "231.8", "2010-08-27"),
    ("2010-08", "232.2", "2010-09-29"),
    ("2010-09", "232.6", "2010-10-28"),
    ("2010-10", "233.0", "2010-11-29"),
    ("2010-11", "233.3", "2010-12-29"),
    ("2010-12", "233.1", "2011-01-28"),
    ("2011-01", "234.0", "2011-02-25"),
    ("2011-02", "235.4", "2011-03-29"),
    ("2011-03", "235.9", "2011-04-28"),
    ("2011-04", "236.3", "2011-05-27"),
    ("2011-05", "236.9", "2011-06-29"),
    ("2011-06", "237.2", "2011-07-28"),
    ("2011-07", "237.8", "2011-08-29"),
    ("2011-08", "238.1", "2011-09-29"),
    ("2011-09", "238.6", "2011-10-28"),
    ("2011-10", "239.0", "2011-11-29"),
    ("2011-11", "239.4", "2011-12-29"),
    ("2011-12", "239.2", "2012-01-27"),
    ("2012-01", "240.3", "2012-02-28"),
    ("2012-02", "241.1", "2012-04-03"),
    ("2012-03", "241.5", "2012-04-27"),
    ("2012-04", "241.9", "2012-05-29"),
    ("2012-05", "242.4", "2012-06-28"),
    ("2012-06", "242.6", "2012-07-27"),
    ("2012-07", "243.0", "2012-08-29"),
    ("2012-08", "243.3", "2012-09-27"),
    ("2012-09", "243.8", "2012-10-29"),
    ("2012-10", "244.0", "2012-11-29"),
    ("2012-11", "244.5", "2012-12-28"),
    ("2012-12", "244.2", "2013-01-29"),
)
PRICE_INDEX_CSV = "index,period,value,published_on\n" + "".join(
    f"SYNTEC,{period},{value},{published}\n" for period, value, published in _INDEX_VALUES
)


COMMITMENTS_PATH = "commitments.csv"
# An establishment commits to at least twelve months of its offer's fee and minimum, at the tariff's prices...
_COMMITTED_AMOUNT = {"PACS_RIS": "51600.00", "PACS": "36000.00", "VNA": "16200.00"}
# ...and to a yearly number of studies: 60 % of its expected daily studies over a year, to the ten.
_COMMITTED_SHARE_OF_DAYS = 0.6 * 365


def commitments_csv(sites: Iterable[tuple[str, str, float]]) -> str:
    """contracts/commitments.csv from (FINESS, offer, expected daily studies) of the registered sites."""
    rows = "".join(
        f"{finess},{round(daily * _COMMITTED_SHARE_OF_DAYS / 10) * 10},{_COMMITTED_AMOUNT[offer]}\n"
        for finess, offer, daily in sites
    )
    return "establishment_id,studies_per_year,amount_per_year\n" + rows


def write_commitments(contracts_dir: Path, sites: Iterable[tuple[str, str, float]]) -> Path:
    path = Path(contracts_dir) / COMMITMENTS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(commitments_csv(sites), encoding="utf-8", newline="\n")
    return path


def write_tariff(contracts_dir: Path) -> Path:
    """Write the programme's tariff and its price index into `contracts_dir`; return the tariff's path."""
    return write_contract_terms(contracts_dir)[0]


def write_contract_terms(contracts_dir: Path) -> list[Path]:
    """Write framework.yaml and price_index.csv into `contracts_dir`; return their paths."""
    folder = Path(contracts_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in ((TARIFF_PATH, FRAMEWORK_YAML), (PRICE_INDEX_PATH, PRICE_INDEX_CSV)):
        (folder / name).write_text(text, encoding="utf-8", newline="\n")
        written.append(folder / name)
    return written
