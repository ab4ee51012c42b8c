from decimal import Decimal
from pathlib import Path

import pytest

from analytics.billing.model import Party
from analytics.billing.rules import charge_lines
from analytics.billing.tariff import TARIFF_FILE, Charge, Tier, load_tariff
from analytics.errors import ContractError
from analytics.periods import Month
from analytics.registry import OFFERS
from analytics.samples.tariff import FRAMEWORK_YAML, write_tariff

REPO = Path(__file__).resolve().parents[2]

# Line numbers matter: the invalid cases below name them.
BASE = """\
contract_id: TEST-1
currency: EUR
vat_rate: "0.20"
valid_from: 2010-04-01
valid_to: 2015-03-31
offers:
  PACS_RIS:
    monthly_fee: "1800.00"
    minimum_monthly: "2500.00"
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
  VNA:
    monthly_fee: 450
    charges: []
"""

SELLER = """\
seller:
  name: GCS Test
  siret: "18007521000013"
  vat_id: FR50180075210
  address: [1 rue de la Paix]
  postcode: "75002"
  city: Paris
"""

TIERS = BASE[BASE.index("        tiers:\n") : BASE.index("      - metric: storage_gb_month")]
T1, T2, T3 = (f"offers.PACS_RIS.charges[1].tiers[{n}]" for n in (1, 2, 3))
STORAGE = "offers.PACS_RIS.charges[2]"


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / TARIFF_FILE).write_text(text, encoding="utf-8")
    return tmp_path


def mutate(old: str, new: str, base: str = BASE) -> str:
    assert base.count(old) == 1, old
    return base.replace(old, new)


def test_valid_tariff_loads(tmp_path):
    tariff = load_tariff(write(tmp_path, BASE), ["PACS_RIS", "VNA"])
    assert (tariff.contract_id, tariff.currency, tariff.vat_rate) == ("TEST-1", "EUR", Decimal("0.20"))
    assert (str(tariff.valid_from), str(tariff.valid_to)) == ("2010-04-01", "2015-03-31")
    assert tariff.path == tmp_path / "framework.yaml"
    assert tariff.seller is None
    pacs_ris = tariff.offers["PACS_RIS"]
    assert (pacs_ris.monthly_fee, pacs_ris.minimum_monthly) == (Decimal("1800.00"), Decimal("2500.00"))
    assert pacs_ris.charges == (
        Charge(
            "studies_archived",
            "graduated",
            None,
            (
                Tier(Decimal(1000), Decimal("2.40")),
                Tier(Decimal(5000), Decimal("1.90")),
                Tier(None, Decimal("1.50")),
            ),
        ),
        Charge("storage_gb_month", "per_unit", Decimal("0.06"), ()),
    )
    assert str(pacs_ris.charges[0].tiers[0].unit_price) == "2.40"  # the written scale is kept
    vna = tariff.offers["VNA"]
    assert (vna.monthly_fee, vna.minimum_monthly, vna.charges) == (Decimal(450), None, ())


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "first", "last", "count"),
    [
        ("2010-04-01", "2015-03-31", "2010-04", "2015-03", 60),
        ("2010-04-15", "2015-03-30", "2010-05", "2015-02", 58),  # neither partial month is priced
        ("2012-02-01", "2012-02-29", "2012-02", "2012-02", 1),  # a leap February, whole
        ("2012-02-02", "2012-03-30", None, None, 0),
    ],
)
def test_the_months_an_agreement_prices(tmp_path, valid_from, valid_to, first, last, count):
    text = mutate(
        "valid_to: 2015-03-31", f"valid_to: {valid_to}", mutate("valid_from: 2010-04-01", f"valid_from: {valid_from}")
    )
    tariff = load_tariff(write(tmp_path, text), ["PACS_RIS", "VNA"])
    months = tariff.months()
    assert len(months) == count and all(tariff.covers(m) for m in months)
    assert all(b == a.next() for a, b in zip(months, months[1:], strict=False))  # consecutive
    if count:
        assert (str(months[0]), str(months[-1])) == (first, last)
        assert not tariff.covers(months[0].previous()) and not tariff.covers(months[-1].next())
    else:
        assert not any(tariff.covers(m) for m in (Month(2012, 1), Month(2012, 2), Month(2012, 3)))


def test_seller_block(tmp_path):
    tariff = load_tariff(write(tmp_path, BASE + SELLER))
    assert tariff.seller == Party(
        name="GCS Test",
        siret="18007521000013",
        vat_id="FR50180075210",
        address=("1 rue de la Paix",),
        postcode="75002",
        city="Paris",
        country="FR",
    )


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2.40", "2.40"),
        ('"2.40"', "2.40"),
        ("'2.40'", "2.40"),
        ("0.1", "0.1"),
        ("2.675", "2.675"),  # as a float: 2.67499999999999982236431605997495353221893310546875
        ("0.30000000000000004", "0.30000000000000004"),
        ("3", "3"),
        ("0.000001", "0.000001"),
        ('"-0.00"', "0.00"),
    ],
)
def test_prices_are_read_from_the_text_never_through_float(tmp_path, written, expected):
    tariff = load_tariff(write(tmp_path, mutate('unit_price: "0.06"', f"unit_price: {written}")))
    price = tariff.offers["PACS_RIS"].charges[1].unit_price
    assert isinstance(price, Decimal) and str(price) == expected


def test_float_pitfalls_do_not_reach_amounts(tmp_path):
    text = mutate('unit_price: "0.06"', "unit_price: 2.675")
    storage = load_tariff(write(tmp_path, text)).offers["PACS_RIS"].charges[1]
    assert charge_lines(storage, Decimal(1))[0].amount == Decimal("2.68")  # round(2.675, 2) == 2.67 in float
    text = mutate('unit_price: "0.06"', "unit_price: 0.1")
    storage = load_tariff(write(tmp_path, text)).offers["PACS_RIS"].charges[1]
    assert storage.unit_price * 3 == Decimal("0.3")  # 0.1 * 3 == 0.30000000000000004 in float


def test_decimal_up_to_is_allowed_for_storage(tmp_path):
    text = mutate("metric: studies_archived", "metric: storage_gb_month")
    text = mutate("metric: storage_gb_month\n        model: per", "metric: retrievals\n        model: per", text)
    text = mutate("up_to: 1000,", "up_to: 1000.5,", text)
    tariff = load_tariff(write(tmp_path, text))
    assert tariff.offers["PACS_RIS"].charges[0].tiers[0].up_to == Decimal("1000.5")


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("metric: storage_gb_month", "metric: storage_gb", 17, f"{STORAGE}.metric", "unknown metric 'storage_gb'"),
        ("model: per_unit", "model: flat", 18, f"{STORAGE}.model", "unknown model 'flat'"),
        ("up_to: 5000", "up_to: 1000", 15, f"{T2}.up_to", "strictly increasing (1000 after 1000)"),
        ("up_to: 5000", "up_to: 900", 15, f"{T2}.up_to", "strictly increasing (900 after 1000)"),
        ("{up_to: 5000, ", "{up_to: null, ", 15, f"{T2}.up_to", "only the last tier may be open-ended"),
        ("{up_to: 5000, ", "{", 15, f"{T2}.up_to", "only the last tier may be open-ended"),
        ("up_to: null", "up_to: 9000", 16, f"{T3}.up_to", "the last tier must be open-ended"),
        ("up_to: 1000,", "up_to: 0,", 14, f"{T1}.up_to", "greater than 0"),
        ("up_to: 1000,", "up_to: 1000.5,", 14, f"{T1}.up_to", "studies_archived is a count"),
        ('"1.90"', '"-1.90"', 15, f"{T2}.unit_price", "must not be negative"),
        ('"1800.00"', "-1800.00", 8, "offers.PACS_RIS.monthly_fee", "must not be negative"),
        ('"2500.00"', '"-1"', 9, "offers.PACS_RIS.minimum_monthly", "must not be negative"),
        ('        unit_price: "0.06"\n', "", 17, f"{STORAGE}.unit_price", "needs a unit_price"),
        ('unit_price: "0.06"\n', 'unit_price: "0.06"\n        tiers: []\n', 20, f"{STORAGE}.tiers", "not tiers"),
        (
            "        tiers:\n          - {up_to: 1000",
            "        tieres:\n          - {up_to: 1000",
            13,
            "offers.PACS_RIS.charges[1].tieres",
            "unknown key 'tieres'",
        ),
        (
            "model: graduated\n",
            'model: graduated\n        unit_price: "2"\n',
            13,
            "offers.PACS_RIS.charges[1].unit_price",
            "priced by its tiers",
        ),
        ('"2.40"}', '"2.40", discount: 1}', 14, f"{T1}.discount", "unknown key 'discount'"),
        ("    minimum_monthly:", "    minimum_monthly_fee:", 9, "offers.PACS_RIS.minimum_monthly_fee", "unknown key"),
        ("charges: []\n", "charges: []\ncolour: blue\n", 23, "colour", "unknown key 'colour'"),
        ("currency: EUR\n", "", 1, "currency", "missing required key 'currency'"),
        ("    monthly_fee: 450\n", "", 20, "offers.VNA.monthly_fee", "missing required key 'monthly_fee'"),
        (
            "charges: []",
            "monthly_fee: 500\n    charges: []",
            22,
            "offers.VNA.monthly_fee",
            "given twice (first on line 21)",
        ),
        ('vat_rate: "0.20"', 'vat_rate: "1"', 3, "vat_rate", "not a rate between 0 and 1"),
        ('vat_rate: "0.20"', "vat_rate: 1.5", 3, "vat_rate", "not a rate between 0 and 1"),
        ('vat_rate: "0.20"', 'vat_rate: "-0.05"', 3, "vat_rate", "must not be negative"),
        ('vat_rate: "0.20"', "vat_rate: 20%", 3, "vat_rate", "'20%' is not a rate"),
        ("valid_to: 2015-03-31", "valid_to: 2010-03-31", 5, "valid_to", "before valid_from (2010-04-01)"),
        ("valid_from: 2010-04-01", "valid_from: 2010-04-31", 4, "valid_from", "not a date"),
        ("valid_from: 2010-04-01", "valid_from: 1 April 2010", 4, "valid_from", "not a date"),
        ("currency: EUR", "currency: eur", 2, "currency", "not an ISO 4217 code"),
        ("currency: EUR", "currency: EURO", 2, "currency", "not an ISO 4217 code"),
        ("  VNA:", "  CLOUD:", 20, "offers.CLOUD", "unknown offer 'CLOUD'"),
        ('unit_price: "0.06"', 'unit_price: "0,06"', 19, f"{STORAGE}.unit_price", "decimal comma: write 0.06"),
        ('unit_price: "0.06"', "unit_price: 6e-2", 19, f"{STORAGE}.unit_price", "is not an amount"),
        ('unit_price: "0.06"', "unit_price: .inf", 19, f"{STORAGE}.unit_price", "is not an amount"),
        ('unit_price: "0.06"', "unit_price: yes", 19, f"{STORAGE}.unit_price", "is not an amount"),
        ('unit_price: "0.06"', "unit_price:", 19, f"{STORAGE}.unit_price", "is not an amount"),
        ('unit_price: "0.06"', 'unit_price: "0.06 EUR"', 19, f"{STORAGE}.unit_price", "is not an amount"),
        ('unit_price: "0.06"', "unit_price: [0.06]", 19, f"{STORAGE}.unit_price", "single value"),
        (
            'unit_price: "0.06"',
            "unit_price: !!python/object:decimal.Decimal 0.06",
            19,
            f"{STORAGE}.unit_price",
            "unsupported YAML tag",
        ),
        (
            "metric: storage_gb_month",
            "metric: studies_archived",
            17,
            f"{STORAGE}.metric",
            "already charged by charges[1]",
        ),
        ("    charges: []", "    charges: none", 22, "offers.VNA.charges", "must be a list"),
        (TIERS, "        tiers: []\n", 13, "offers.PACS_RIS.charges[1].tiers", "at least one tier"),
        (TIERS, "", 11, "offers.PACS_RIS.charges[1].tiers", "a graduated charge needs tiers"),
        (TIERS, "        unit_price: '2.40'\n", 13, "offers.PACS_RIS.charges[1].unit_price", "priced by its tiers"),
        (
            "model: graduated\n" + TIERS,
            "model: volume\n",
            11,
            "offers.PACS_RIS.charges[1].tiers",
            "a volume charge needs tiers",
        ),
        ('{up_to: 5000, unit_price: "1.90"}', '{up_to: 5000, unit_price: "1.90"', 16, None, "is not valid YAML"),
        ("currency: EUR", "currency: EUR\n\tbad: tab", 3, None, "is not valid YAML"),
    ],
)
def test_invalid_tariff_names_line_and_field(tmp_path, old, new, line, field, message):
    with pytest.raises(ContractError) as info:
        load_tariff(write(tmp_path, mutate(old, new)), ["PACS_RIS", "VNA"])
    assert (info.value.line, info.value.field) == (line, field), str(info.value)
    assert message in str(info.value)
    assert str(tmp_path / "framework.yaml") in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ('siret: "18007521000013"', 'siret: "18007521000014"', 25, "seller.siret", "not a valid SIRET"),
        ("vat_id: FR50180075210", "vat_id: FR51180075210", 26, "seller.vat_id", "not the French VAT number"),
        ("  name: GCS Test\n", "", 23, "seller.name", "missing required key 'name'"),
        ("  city: Paris\n", "  city: Paris\n  country: France\n", 30, "seller.country", "not an ISO 3166 code"),
        ("address: [1 rue de la Paix]", "address: []", 27, "seller.address", "at least one street line"),
        ("address: [1 rue de la Paix]", "address: [1 rue de la Paix, '']", 27, "seller.address[2]", "empty"),
        ("  city: Paris\n", "  city: Paris\n  iban: FR76\n", 30, "seller.iban", "unknown key 'iban'"),
    ],
)
def test_invalid_seller(tmp_path, old, new, line, field, message):
    with pytest.raises(ContractError) as info:
        load_tariff(write(tmp_path, mutate(old, new, BASE + SELLER)))
    assert (info.value.line, info.value.field) == (line, field), str(info.value)
    assert message in str(info.value)


def test_offer_used_by_the_registry_must_be_priced(tmp_path):
    with pytest.raises(ContractError) as info:
        load_tariff(write(tmp_path, BASE), ["PACS_RIS", "PACS", "VNA"])
    assert (info.value.line, info.value.field) == (6, "offers.PACS")
    assert "offer PACS is used by the registry but has no prices here" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "is empty"),
        ("# only a comment\n", 1, "is empty"),
        ("- contract_id: X\n", 1, "must be a mapping"),
        ("base: &b {a: 1}\n<<: *b\n", 2, "merge key"),
        ("a: 1\n---\nb: 2\n", 2, "is not valid YAML"),
    ],
)
def test_file_level_errors(tmp_path, text, line, message):
    with pytest.raises(ContractError) as info:
        load_tariff(write(tmp_path, text))
    assert info.value.line == line
    assert message in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ContractError, match="framework tariff is missing") as info:
        load_tariff(tmp_path)
    assert info.value.line is None


def test_committed_tariff_is_the_sample_constant_and_loads():
    committed = REPO / "contracts" / "framework.yaml"
    assert committed.read_bytes() == FRAMEWORK_YAML.encode("utf-8")
    tariff = load_tariff(committed.parent, OFFERS)
    assert set(tariff.offers) == {"PACS_RIS", "PACS", "VNA"}
    assert (tariff.contract_id, tariff.currency, tariff.vat_rate) == ("RSF-AC-2010", "EUR", Decimal("0.20"))
    models = {charge.model for offer in tariff.offers.values() for charge in offer.charges}
    assert models == {"per_unit", "graduated", "volume"}
    billed = {charge.metric for offer in tariff.offers.values() for charge in offer.charges}
    assert "views" not in billed
    assert tariff.offers["PACS"].monthly_fee < tariff.offers["PACS_RIS"].monthly_fee
    assert tariff.seller is not None and tariff.seller.siret == "18007521000013"


def test_write_tariff_writes_the_constant(tmp_path):
    path = write_tariff(tmp_path / "contracts")
    assert path == tmp_path / "contracts" / "framework.yaml"
    assert path.read_bytes() == FRAMEWORK_YAML.encode("utf-8")
    assert set(load_tariff(path.parent, OFFERS).offers) == set(OFFERS)
