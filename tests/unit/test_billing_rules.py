import re
from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from analytics.billing.model import Invoice
from analytics.billing.rules import active_days, charge_lines, draft_invoice, regularisation_lines
from analytics.billing.tariff import Charge, OfferTariff, Tariff, Tier, load_tariff
from analytics.errors import ContractError
from analytics.periods import Month
from analytics.registry import Establishment

REPO = Path(__file__).resolve().parents[2]

STUDIES = Charge(
    "studies_archived",
    "graduated",
    None,
    (
        Tier(D(1000), D("2.40")),
        Tier(D(5000), D("1.90")),
        Tier(None, D("1.50")),
    ),
)
STORAGE = Charge("storage_gb_month", "per_unit", D("0.06"), ())
SHARES = Charge("shares", "volume", None, (Tier(D(200), D("1.00")), Tier(D(1000), D("0.80")), Tier(None, D("0.60"))))
RETRIEVALS = Charge("retrievals", "per_unit", D("0.05"), ())
TARIFF = Tariff(
    path=Path("contracts/framework.yaml"),
    contract_id="RSF-TEST",
    currency="EUR",
    vat_rate=D("0.20"),
    valid_from=date(2010, 4, 1),
    valid_to=date(2015, 3, 31),
    seller=None,
    offers={
        "PACS_RIS": OfferTariff("PACS_RIS", D("1800.00"), D("2500.00"), (STUDIES, STORAGE, SHARES)),
        "PACS": OfferTariff("PACS", D("1200.00"), None, (RETRIEVALS,)),
    },
)
JUNE = Month(2012, 6)


def site(go_live: str | None = "2011-01-01", end: str | None = None, offer: str = "PACS_RIS") -> Establishment:
    as_date = lambda text: date.fromisoformat(text) if text else None  # noqa: E731
    return Establishment(
        establishment_id="930000001",
        name="CH Test",
        siret="18007521000013",
        departement="93",
        category="CH",
        sector="public",
        offer=offer,
        adhesion_date=date(2010, 4, 1),
        planned_go_live=date(2010, 9, 1),
        actual_go_live=as_date(go_live),
        end_date=as_date(end),
        ae_titles=(),
        institution_names=(),
    )


def rows(lines) -> list[tuple[str, D, D, D]]:
    return [(line.code, line.quantity, line.unit_price, line.amount) for line in lines]


# ---- charges ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (D(0), []),
        (D(600), [("studies_archived:T1", D(600), D("2.40"), D("1440.00"))]),
        (D(1000), [("studies_archived:T1", D(1000), D("2.40"), D("2400.00"))]),
        (
            D(1001),
            [
                ("studies_archived:T1", D(1000), D("2.40"), D("2400.00")),
                ("studies_archived:T2", D(1), D("1.90"), D("1.90")),
            ],
        ),
        (
            D(3500),
            [
                ("studies_archived:T1", D(1000), D("2.40"), D("2400.00")),
                ("studies_archived:T2", D(2500), D("1.90"), D("4750.00")),
            ],
        ),
        (
            D(6200),
            [
                ("studies_archived:T1", D(1000), D("2.40"), D("2400.00")),  # crosses two tier bounds
                ("studies_archived:T2", D(4000), D("1.90"), D("7600.00")),
                ("studies_archived:T3", D(1200), D("1.50"), D("1800.00")),
            ],
        ),
    ],
)
def test_graduated_bills_each_band_at_its_price(quantity, expected):
    lines = charge_lines(STUDIES, quantity)
    assert rows(lines) == expected
    assert all(line.metric == "studies_archived" for line in lines)


def test_graduated_descriptions_name_the_band():
    assert [line.description for line in charge_lines(STUDIES, D(6200))] == [
        "Examens archivés, tranche 1 (jusqu'à 1 000)",
        "Examens archivés, tranche 2 (1 001 à 5 000)",
        "Examens archivés, tranche 3 (au-delà de 5 000)",
    ]
    storage = Charge("storage_gb_month", "graduated", None, (Tier(D(2000), D("0.08")), Tier(None, D("0.06"))))
    assert [line.description for line in charge_lines(storage, D("2500.5"))] == [
        "Stockage (Go·mois), tranche 1 (jusqu'à 2 000)",
        "Stockage (Go·mois), tranche 2 (au-delà de 2 000)",
    ]


@pytest.mark.parametrize(
    ("quantity", "unit_price", "amount", "tier"),
    [
        (D(1), D("1.00"), D("1.00"), 1),
        (D(200), D("1.00"), D("200.00"), 1),  # == up_to stays in the tier
        (D(201), D("0.80"), D("160.80"), 2),  # one more: every unit at the next price
        (D(1000), D("0.80"), D("800.00"), 2),
        (D(1001), D("0.60"), D("600.60"), 3),
    ],
)
def test_volume_prices_every_unit_at_the_tier_of_the_total(quantity, unit_price, amount, tier):
    (line,) = charge_lines(SHARES, quantity)
    assert (line.code, line.metric, line.quantity, line.unit_price, line.amount) == (
        "shares",
        "shares",
        quantity,
        unit_price,
        amount,
    )
    assert f"tarif de la tranche {tier}" in line.description


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [
        (D("1234.5678"), D("74.07")),  # 74.074068
        (D("0.75"), D("0.05")),  # 0.045: half up (half-even would give 0.04)
        (D("0.25"), D("0.02")),  # 0.015
        (D("0.08"), D("0.00")),  # 0.0048
        (D(0), None),
    ],
)
def test_per_unit_rounds_half_up_and_keeps_the_quantity(quantity, amount):
    lines = charge_lines(STORAGE, quantity)
    if amount is None:
        assert lines == []
    else:
        assert rows(lines) == [("storage_gb_month", quantity, D("0.06"), amount)]
        assert lines[0].description == "Stockage (Go·mois)"


def test_graduated_band_rounds_half_up():
    vna_storage = Charge("storage_gb_month", "graduated", None, (Tier(D(2000), D("0.08")), Tier(None, D("0.06"))))
    assert [line.amount for line in charge_lines(vna_storage, D("2346.75"))] == [D("160.00"), D("20.81")]  # 20.805


# ---- active days -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("go_live", "end", "month", "days"),
    [
        ("2011-01-01", None, JUNE, 30),
        ("2012-06-01", None, JUNE, 30),
        ("2012-06-17", None, JUNE, 14),  # go-live on the 17th of a 30-day month: 17..30
        ("2011-01-01", "2012-06-10", JUNE, 10),  # end on the 10th: 1..10
        ("2012-06-17", "2012-06-17", JUNE, 1),
        ("2012-06-05", "2012-06-24", JUNE, 20),
        ("2012-06-30", None, JUNE, 1),
        (None, None, JUNE, 0),
        ("2012-07-01", None, JUNE, 0),
        ("2011-01-01", "2012-05-31", JUNE, 0),
        ("2011-01-01", None, Month(2012, 2), 29),  # leap year
        ("2012-02-15", None, Month(2012, 2), 15),  # 15..29
        ("2011-01-01", None, Month(2013, 2), 28),
        ("2012-07-17", None, Month(2012, 7), 15),
    ],
)
def test_active_days(go_live, end, month, days):
    assert active_days(site(go_live, end), month) == days


# ---- invoices --------------------------------------------------------------------------------------------------------


def test_full_month_above_the_minimum():
    invoice = draft_invoice(
        site(),
        JUNE,
        {"studies_archived": D(3500), "storage_gb_month": D("812.4"), "shares": D(201), "views": D(999)},
        TARIFF,
    )
    assert rows(invoice.lines) == [
        ("SUBSCRIPTION", D(1), D("1800.00"), D("1800.00")),
        ("studies_archived:T1", D(1000), D("2.40"), D("2400.00")),
        ("studies_archived:T2", D(2500), D("1.90"), D("4750.00")),
        ("storage_gb_month", D("812.4"), D("0.06"), D("48.74")),  # 48.744
        ("shares", D(201), D("0.80"), D("160.80")),
    ]
    assert [line.metric for line in invoice.lines] == [
        None,
        "studies_archived",
        "studies_archived",
        "storage_gb_month",
        "shares",
    ]
    assert invoice.lines[0].description == "Abonnement mensuel PACS + RIS, 30 jours sur 30"
    assert (invoice.net, invoice.vat, invoice.gross) == (D("9159.54"), D("1831.91"), D("10991.45"))  # VAT 1831.908
    assert (invoice.establishment_id, invoice.month, invoice.offer) == ("930000001", JUNE, "PACS_RIS")
    assert (invoice.active_days, invoice.days_in_month, invoice.vat_rate) == (30, 30, D("0.20"))
    assert (invoice.contract_id, invoice.currency, invoice.number) == ("RSF-TEST", "EUR", None)
    assert invoice.usage == {
        "studies_archived": D(3500),
        "storage_gb_month": D("812.4"),
        "shares": D(201),
        "views": D(999),
    }


def test_go_live_on_the_17th_prorates_fee_and_minimum_with_top_up():
    usage = {"studies_archived": D(300), "storage_gb_month": D("250.5"), "shares": D(12)}
    invoice = draft_invoice(site("2012-06-17"), JUNE, usage, TARIFF)
    # fee 1800 × 14/30 = 840.00; usage 720.00 + 15.03 + 12.00 = 747.03; minimum 2500 × 14/30 = 1166.666… -> 1166.67
    assert rows(invoice.lines) == [
        ("SUBSCRIPTION", D(14) / D(30), D("1800.00"), D("840.00")),
        ("studies_archived:T1", D(300), D("2.40"), D("720.00")),
        ("storage_gb_month", D("250.5"), D("0.06"), D("15.03")),
        ("shares", D(12), D("1.00"), D("12.00")),
        ("MINIMUM", D("419.64"), D("1.00"), D("419.64")),
    ]
    assert invoice.active_days == 14
    assert invoice.lines[0].description == "Abonnement mensuel PACS + RIS, 14 jours sur 30"
    assert invoice.lines[-1].description == (
        "Complément au minimum de consommation (2 500,00 EUR par mois, 14 jours sur 30 : 1 166,67 EUR)"
    )
    assert invoice.lines[-1].metric is None
    assert (invoice.net, invoice.vat, invoice.gross) == (D("2006.67"), D("401.33"), D("2408.00"))  # VAT 401.334


def test_end_date_on_the_10th_prorates_and_usage_above_minimum_has_no_top_up():
    invoice = draft_invoice(site("2011-01-01", "2012-06-10"), JUNE, {"studies_archived": D(1200)}, TARIFF)
    # fee 1800 × 10/30 = 600.00; minimum 2500 × 10/30 = 833.33 < 2400.00 + 380.00
    assert rows(invoice.lines) == [
        ("SUBSCRIPTION", D(10) / D(30), D("1800.00"), D("600.00")),
        ("studies_archived:T1", D(1000), D("2.40"), D("2400.00")),
        ("studies_archived:T2", D(200), D("1.90"), D("380.00")),
    ]
    assert (invoice.net, invoice.vat, invoice.gross) == (D("3380.00"), D("676.00"), D("4056.00"))


@pytest.mark.parametrize(
    ("usage", "top_up"),
    [
        ({"studies_archived": D(1000), "shares": D(100)}, None),  # 2400.00 + 100.00 == 2500.00: nothing to make up
        ({"studies_archived": D(1000), "shares": D(99)}, D("1.00")),
        ({}, D("2500.00")),  # no usage at all: the whole minimum
        ({"studies_archived": D(0)}, D("2500.00")),
    ],
)
def test_minimum_top_up(usage, top_up):
    invoice = draft_invoice(site(), JUNE, usage, TARIFF)
    minimum = [line for line in invoice.lines if line.code == "MINIMUM"]
    assert [line.amount for line in minimum] == ([top_up] if top_up else [])
    assert invoice.net == D("4300.00")  # 1800.00 + usage made up to at least the 2500.00 minimum


def test_no_minimum_in_the_offer_no_top_up():
    invoice = draft_invoice(site(offer="PACS"), JUNE, {"retrievals": D(3)}, TARIFF)
    assert rows(invoice.lines) == [
        ("SUBSCRIPTION", D(1), D("1200.00"), D("1200.00")),
        ("retrievals", D(3), D("0.05"), D("0.15")),
    ]


def test_leap_february():
    invoice = draft_invoice(site("2012-02-15"), Month(2012, 2), {"studies_archived": D(100)}, TARIFF)
    # 15 active days of 29: fee 1800 × 15/29 = 931.034… -> 931.03; minimum 2500 × 15/29 = 1293.103… -> 1293.10
    assert (invoice.active_days, invoice.days_in_month) == (15, 29)
    assert rows(invoice.lines) == [
        ("SUBSCRIPTION", D(15) / D(29), D("1800.00"), D("931.03")),
        ("studies_archived:T1", D(100), D("2.40"), D("240.00")),
        ("MINIMUM", D("1053.10"), D("1.00"), D("1053.10")),
    ]
    assert (invoice.net, invoice.vat, invoice.gross) == (D("2224.13"), D("444.83"), D("2668.96"))  # VAT 444.826
    full = draft_invoice(site(), Month(2012, 2), {"studies_archived": D(2000)}, TARIFF)
    assert (full.active_days, full.days_in_month, full.lines[0].quantity) == (29, 29, D(1))


def test_vat_rounds_half_up():
    tariff = replace(TARIFF, vat_rate=D("0.055"), offers={"PACS": OfferTariff("PACS", D("3.00"), None, ())})
    invoice = draft_invoice(site(offer="PACS"), JUNE, {}, tariff)
    assert (invoice.net, invoice.vat, invoice.gross) == (D("3.00"), D("0.17"), D("3.17"))  # 0.165


@pytest.mark.parametrize(("go_live", "end"), [(None, None), ("2012-07-01", None), ("2011-01-01", "2012-05-31")])
def test_no_active_day_no_invoice(go_live, end):
    assert draft_invoice(site(go_live, end), JUNE, {"studies_archived": D(10)}, TARIFF) is None


@pytest.mark.parametrize(("month", "field"), [(Month(2010, 3), "valid_from"), (Month(2015, 4), "valid_to")])
def test_month_outside_the_agreement_is_refused(month, field):
    with pytest.raises(ContractError, match="valid_from 2010-04-01, valid_to 2015-03-31") as info:
        draft_invoice(site("2010-01-01"), month, {}, TARIFF)
    assert info.value.field == field


def test_months_at_the_bounds_of_the_agreement_are_billed():
    assert draft_invoice(site("2010-04-01"), Month(2010, 4), {}, TARIFF) is not None
    assert draft_invoice(site("2010-04-01"), Month(2015, 3), {}, TARIFF) is not None


def test_offer_without_prices_is_a_contract_error():
    with pytest.raises(ContractError, match="offer VNA") as info:
        draft_invoice(site(offer="VNA"), JUNE, {}, TARIFF)
    assert info.value.field == "offers.VNA"


@pytest.mark.parametrize(
    ("usage", "error"),
    [
        ({"studies_archived": 12.5}, TypeError),
        ({"studies_archived": D(-1)}, ValueError),
        ({"studies_archived": D("NaN")}, ValueError),
        ({"studies": D(1)}, ValueError),
    ],
)
def test_bad_usage_is_refused(usage, error):
    with pytest.raises(error):
        draft_invoice(site(), JUNE, usage, TARIFF)


# ---- regularisation --------------------------------------------------------------------------------------------------


def issued(usage: dict[str, D], number: str = "RSF-000007") -> Invoice:
    return replace(draft_invoice(site(), JUNE, usage, TARIFF), number=number, issue_date=date(2012, 7, 1))


def test_unchanged_month_gives_no_line():
    usage = {"studies_archived": D(900), "shares": D(5)}
    assert regularisation_lines(issued(usage), draft_invoice(site(), JUNE, dict(usage), TARIFF)) == []


def test_late_data_crossing_a_tier_and_clearing_the_minimum():
    original = issued({"studies_archived": D(900)})  # 2160.00, top-up 340.00
    corrected = draft_invoice(site(), JUNE, {"studies_archived": D(1100)}, TARIFF)  # 2400.00 + 190.00, no top-up
    lines = regularisation_lines(original, corrected)
    assert rows(lines) == [
        ("REGUL:studies_archived:T1", D(100), D("2.40"), D("240.00")),
        ("REGUL:studies_archived:T2", D(100), D("1.90"), D("190.00")),
        ("REGUL:MINIMUM", D("-340.00"), D("1.00"), D("-340.00")),
    ]
    assert [line.metric for line in lines] == ["studies_archived", "studies_archived", None]
    assert {line.reference for line in lines} == {"RSF-000007"}
    assert lines[1].description == (
        "Régularisation de la facture RSF-000007 (juin 2012) : Examens archivés, tranche 2 (1 001 à 5 000)"
    )
    assert sum(line.amount for line in lines) == corrected.net - original.net == D("90.00")


def test_amount_is_the_difference_of_rounded_amounts():
    original = issued({"studies_archived": D(2000), "storage_gb_month": D("0.75")})  # 0.045 -> 0.05
    corrected = draft_invoice(site(), JUNE, {"studies_archived": D(2000), "storage_gb_month": D("1.5")}, TARIFF)  # 0.09
    (line,) = regularisation_lines(original, corrected)
    assert (line.code, line.quantity, line.unit_price, line.amount) == (
        "REGUL:storage_gb_month",
        D("0.75"),
        D("0.06"),
        D("0.04"),  # not 0.75 × 0.06 = 0.045 -> 0.05
    )


def test_usage_going_down_and_a_line_disappearing():
    original = issued({"studies_archived": D(6200), "storage_gb_month": D(10)})
    corrected = draft_invoice(site(), JUNE, {"studies_archived": D(4000)}, TARIFF)
    assert rows(regularisation_lines(original, corrected)) == [
        ("REGUL:studies_archived:T2", D(-1000), D("1.90"), D("-1900.00")),  # 4000 -> 3000 in band 2
        ("REGUL:studies_archived:T3", D(-1200), D("1.50"), D("-1800.00")),
        ("REGUL:storage_gb_month", D(-10), D("0.06"), D("-0.60")),
    ]


def test_volume_tier_change_cancels_and_rebills():
    original = issued({"studies_archived": D(2000), "shares": D(200)})  # 200 × 1.00
    corrected = draft_invoice(site(), JUNE, {"studies_archived": D(2000), "shares": D(201)}, TARIFF)  # 201 × 0.80
    lines = regularisation_lines(original, corrected)
    assert rows(lines) == [
        ("REGUL:shares", D(-200), D("1.00"), D("-200.00")),
        ("REGUL:shares", D(201), D("0.80"), D("160.80")),
    ]
    assert "annulation" in lines[0].description and "refacturation" in lines[1].description
    assert all(line.unit_price >= 0 for line in lines)


def test_late_go_live_correction_regularises_the_subscription():
    original = replace(draft_invoice(site("2012-06-17"), JUNE, {}, TARIFF), number="RSF-000007")
    corrected = draft_invoice(site("2012-06-11"), JUNE, {}, TARIFF)
    assert rows(regularisation_lines(original, corrected)) == [
        ("REGUL:SUBSCRIPTION", D(20) / D(30) - D(14) / D(30), D("1800.00"), D("360.00")),  # 1200.00 - 840.00
        ("REGUL:MINIMUM", D("500.00"), D("1.00"), D("500.00")),  # 1666.67 - 1166.67
    ]


def test_regularisation_needs_an_issued_invoice_of_the_same_month():
    draft = draft_invoice(site(), JUNE, {}, TARIFF)
    with pytest.raises(ValueError, match="no number"):
        regularisation_lines(draft, draft)
    july = draft_invoice(site(), Month(2012, 7), {}, TARIFF)
    with pytest.raises(ValueError, match="cannot regularise invoice RSF-000007"):
        regularisation_lines(issued({}), july)


# ---- the worked example of docs/billing.md ---------------------------------------------------------------------------

DOC = (REPO / "docs" / "billing.md").read_text(encoding="utf-8")


def doc_example() -> dict:
    # the example is the yaml block that names a tariff (the others show a configuration excerpt)
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S) if b.startswith("tariff:")]
    return yaml.safe_load(block)


def as_decimal(text: str) -> D:
    numerator, _, denominator = str(text).partition("/")
    return D(numerator) / D(denominator) if denominator else D(numerator)


def expected_rows(lines: list[list[str]]) -> list[tuple[str, D, D, D]]:
    return [(code, as_decimal(q), D(p), D(a)) for code, q, p, a in lines]


def test_worked_example_of_the_doc():
    example = doc_example()
    tariff = load_tariff(REPO / Path(example["tariff"]).parent, ["PACS_RIS", "PACS", "VNA"])
    month = Month.parse(example["month"])
    establishment = replace(site(), **example["establishment"])
    usage = {metric: D(value) for metric, value in example["usage"].items()}
    invoice = draft_invoice(establishment, month, usage, tariff)
    assert invoice.active_days == example["active_days"]
    revision, expected = invoice.revision, example["revision"]
    assert (revision.coefficient, revision.anniversary) == (D(expected["coefficient"]), expected["anniversary"])
    for point, (index, period, value, published_on) in (
        (revision.current, expected["current"]),
        (revision.base, expected["base"]),
    ):
        assert (revision.index, str(point.period), point.value, point.published_on) == (
            index,
            period,
            D(value),
            published_on,
        )
    assert rows(invoice.lines) == expected_rows(example["lines"])
    assert (invoice.net, invoice.vat, invoice.gross) == (D(example["net"]), D(example["vat"]), D(example["gross"]))

    regul = example["regularisation"]
    late = {metric: D(value) for metric, value in regul["late_usage"].items()}
    corrected = draft_invoice(establishment, month, {**usage, **late}, tariff)
    assert corrected.net == D(regul["net"])
    lines = regularisation_lines(replace(invoice, number=regul["number"]), corrected)
    assert rows(lines) == expected_rows(regul["lines"])
    assert sum(line.amount for line in lines) == D(regul["total"]) == corrected.net - invoice.net
    assert {line.reference for line in lines} == {regul["number"]}


def test_worked_example_tables_show_the_computed_amounts():
    """The tables a reader follows carry the same amounts as the checked data block."""
    example = doc_example()
    prose = DOC[: DOC.index("```yaml")]
    amounts = [line[3] for line in example["lines"] + example["regularisation"]["lines"]]
    amounts += [example["net"], example["vat"], example["gross"], example["regularisation"]["total"]]
    for amount in amounts:
        assert f"| {amount.replace('-', '−')} |" in prose or f"**{amount}**" in prose, amount


def test_tariff_table_of_the_doc_matches_the_contract():
    tariff = load_tariff(REPO / "contracts")
    fr = lambda amount: f"{amount:,.2f}".replace(",", " ")  # noqa: E731
    fees = " | ".join(fr(tariff.offers[o].monthly_fee) for o in ("PACS_RIS", "PACS", "VNA"))
    minimums = " | ".join(fr(tariff.offers[o].minimum_monthly) for o in ("PACS_RIS", "PACS", "VNA"))
    assert f"| monthly fee | {fees} |" in DOC
    assert f"| monthly minimum of usage charges | {minimums} |" in DOC


def test_every_metric_can_be_priced_and_printed():
    from analytics.billing.documents import METRIC_LABELS as PRINTED
    from analytics.billing.rules import METRIC_LABELS
    from analytics.metrics import METRICS

    assert set(METRIC_LABELS) == set(PRINTED) == set(METRICS)
    for metric in METRICS:
        (line,) = charge_lines(Charge(metric, "per_unit", D("0.10"), ()), D(3))
        assert line.description == METRIC_LABELS[metric] and line.amount == D("0.30")
