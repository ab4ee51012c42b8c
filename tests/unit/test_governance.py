"""Framework governance on purpose-built data: months left, ceiling consumption and projection, commitments vs
actual, the commitments file's errors and what each viewer may see. Every figure is computed by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from analytics.billing.governance import (
    Billed,
    Commitment,
    agreement_year,
    billed_months,
    ceiling_use,
    commitment_use,
    complete_months,
    load_commitments,
    months_between,
    validity,
)
from analytics.billing.model import Invoice
from analytics.billing.tariff import Ceiling, load_tariff
from analytics.errors import ContractError
from analytics.periods import Month
from analytics.registry import Establishment, Registry
from analytics.reporting.governance import (
    GovernanceReport,
    ceiling_table,
    commitment_table,
    scoped_tables,
    validity_table,
)
from analytics.reporting.scope import Forbidden, Viewer

REPO = Path(__file__).resolve().parents[2]
TARIFF = replace(
    load_tariff(REPO / "contracts"),
    valid_from=date(2011, 4, 1),
    valid_to=date(2012, 12, 31),
    ceiling=Ceiling(D("1000.00"), {"studies_archived": D(100)}),
)
A, B, C = "750000015", "940000027", "920000013"


def site(finess: str, go_live: date | None, end: date | None = None) -> Establishment:
    return Establishment(
        finess,
        f"CH {finess}",
        "26750045200011",
        "75",
        "CH",
        "public",
        "PACS",
        date(2011, 1, 1),
        go_live or date(2013, 1, 1),
        go_live,
        end,
        (f"AE{finess}",),
        (),
    )


REGISTRY = Registry(Path("establishments.csv"), (site(A, date(2011, 6, 1)), site(B, date(2012, 6, 10)), site(C, None)))


# ---- validity ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2013, 1, 1), date(2015, 3, 31), 26),
        (date(2014, 4, 1), date(2015, 3, 31), 11),  # 11 months and 30 days
        (date(2014, 3, 31), date(2015, 3, 31), 12),
        (date(2015, 3, 1), date(2015, 3, 31), 0),
    ],
)
def test_months_between(start, end, months):
    assert months_between(start, end) == months


def test_validity_and_renewal_alert():
    tariff = load_tariff(REPO / "contracts")  # 2010-04-01 to 2015-03-31
    v = validity(tariff, date(2013, 1, 1))
    assert (v.months_left, v.days_left, v.status) == (26, 819, "valid")
    assert validity(tariff, date(2014, 3, 31)).status == "valid"  # 12 months left: not under the threshold
    due = validity(tariff, date(2014, 4, 1))
    assert (due.months_left, due.status) == (11, "renewal_due")
    assert validity(tariff, date(2014, 4, 1), alert_months=6).status == "valid"
    assert validity(tariff, date(2015, 3, 31)).status == "renewal_due"
    gone = validity(tariff, date(2015, 4, 1))
    assert (gone.months_left, gone.days_left, gone.status) == (0, -1, "expired")
    assert validity(tariff, date(2010, 3, 1)).status == "not_started"


# ---- what counts ---------------------------------------------------------------------------------------------------


def draft(finess: str, month: Month, net: str) -> Invoice:
    from analytics.billing.model import InvoiceLine

    line = InvoiceLine("SUBSCRIPTION", "Abonnement", None, D(1), D(net), D(net))
    return Invoice(finess, month, "PACS", month.days, month.days, (line,), D("0.20"))


def test_complete_months_and_billed_rows():
    assert complete_months(TARIFF, date(2011, 7, 1)) == [Month(2011, 4), Month(2011, 5), Month(2011, 6)]
    jan, feb, mar = Month(2012, 1), Month(2012, 2), Month(2012, 3)
    usage = {
        jan: {A: {"studies_archived": D(10)}},
        feb: {A: {"studies_archived": D(20)}, B: {}},
        mar: {A: {"studies_archived": D(99)}},
    }
    drafts = [draft(A, jan, "999.00"), draft(A, feb, "150.00"), draft(A, mar, "500.00")]
    rows = billed_months(TARIFF, date(2012, 3, 15), [jan], {(jan, A): D("100.00")}, drafts, usage)
    # January is issued (the ledger's 100.00, not the draft's 999.00), February drafted; March is not complete;
    # B has usage in February but no invoice
    assert [(str(r.month), r.establishment_id, r.status, r.net) for r in rows] == [
        ("2012-01", A, "issued", D("100.00")),
        ("2012-02", A, "draft", D("150.00")),
        ("2012-02", B, "none", D("0.00")),
    ]


# ---- ceiling -------------------------------------------------------------------------------------------------------


def test_ceiling_consumption_and_projection():
    jan, feb = Month(2012, 1), Month(2012, 2)
    billed = [
        Billed(jan, A, "issued", D("100.00"), {"studies_archived": D(10)}),
        Billed(feb, A, "draft", D("150.00"), {"studies_archived": D(20)}),
    ]
    amount, studies = ceiling_use(TARIFF, date(2012, 3, 15), billed)
    # 250.00 of 1000.00; 2 months at 125.00 a month; 10 months left (March to December 2012): 250 + 1250 = 1500.00
    assert (amount.measure, amount.consumed, amount.issued, amount.share) == (
        "amount",
        D("250.00"),
        D("100.00"),
        D("0.2500"),
    )
    assert (amount.months_counted, amount.monthly_rate, amount.months_remaining) == (2, D("125.00"), 10)
    assert (amount.projected, amount.projected_share) == (D("1500.00"), D("1.5000"))
    # 30 studies of 100; 15 a month; 30 + 150 = 180
    assert (studies.measure, studies.consumed, studies.share) == ("studies_archived", D(30), D("0.3000"))
    assert (studies.monthly_rate, studies.projected, studies.projected_share) == (D("15.00"), D("180.00"), D("1.8000"))


def test_the_rate_is_the_last_twelve_months():
    months = [Month(2011, 4)]
    while len(months) < 13:
        months.append(months[-1].next())
    # the first month 1300.00, the next twelve 100.00 each: rate 100.00, not 2500 / 13
    billed = [Billed(m, A, "issued", D("1300.00") if i == 0 else D("100.00"), {}) for i, m in enumerate(months)]
    (amount, _) = ceiling_use(TARIFF, date(2012, 6, 1), billed)
    assert (amount.consumed, amount.monthly_rate, amount.months_remaining) == (D("2500.00"), D("100.00"), 8)
    assert amount.projected == D("3300.00")  # 2500 + 8 x 100 (May to December 2012 after April)


def test_no_ceiling_no_rows():
    assert ceiling_use(replace(TARIFF, ceiling=None), date(2012, 3, 1), []) == []


# ---- commitments ---------------------------------------------------------------------------------------------------


def test_commitment_vs_actual():
    assert agreement_year(TARIFF, date(2012, 7, 10)) == (date(2012, 4, 1), date(2013, 3, 31))
    assert agreement_year(TARIFF, date(2012, 3, 31)) == (date(2011, 4, 1), date(2012, 3, 31))
    apr, may, jun = Month(2012, 4), Month(2012, 5), Month(2012, 6)
    billed = [
        Billed(Month(2012, 3), A, "issued", D("900.00"), {"studies_archived": D(50)}),  # the previous agreement year
        Billed(apr, A, "issued", D("100.00"), {"studies_archived": D(10)}),
        Billed(may, A, "issued", D("110.00"), {"studies_archived": D(12)}),
        Billed(jun, A, "draft", D("95.50"), {"studies_archived": D(5)}),
        Billed(jun, B, "draft", D("40.00"), {"studies_archived": D(11)}),
        Billed(Month(2012, 7), A, "draft", D("500.00"), {"studies_archived": D(40)}),  # not complete at 2012-07-10
    ]
    commitments = {f: Commitment(f, D(120), D("1200.00")) for f in (A, B, C)}
    a, c, b = commitment_use(TARIFF, REGISTRY, commitments, date(2012, 7, 10), billed)  # in FINESS order
    # A, live April to June: expects 120 x 3/12 = 30 studies and 300.00; has 27 and 305.50: below on studies
    assert (a.months_live, a.expected_studies, a.actual_studies, a.expected_amount, a.actual_amount) == (
        3,
        D(30),
        D(27),
        D("300.00"),
        D("305.50"),
    )
    assert (a.studies_share, a.amount_share) == (D("0.9000"), D("1.0183"))  # 305.50 / 300 = 1.018333...
    assert (a.projected_studies, a.projected_amount, a.status) == (D(108), D("1222.00"), "below")
    # B, live from 10 June: one month, expects 10 studies and 100.00; has 11 studies but 40.00
    assert (b.months_live, b.expected_studies, b.expected_amount, b.status) == (1, D(10), D("100.00"), "below")
    assert (b.projected_studies, b.projected_amount) == (D(132), D("480.00"))
    # C never went live
    assert (c.months_live, c.expected_studies, c.studies_share, c.status) == (0, D(0), None, "not_live")
    on_track = commitment_use(TARIFF, REGISTRY, {A: Commitment(A, D(100), D("1200.00"))}, date(2012, 7, 10), billed)
    assert on_track[0].status == "on_track"  # 100 x 3/12 = 25 studies expected, 27 done; 300.00 expected, 305.50


# ---- the commitments file ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("750000099,120,1200.00", "establishment_id", "750000099 is not in the registry"),
        ("75000001,120,1200.00", "establishment_id", "not a FINESS number"),
        ("750000015,12.5,1200.00", "studies_per_year", "not a whole number"),
        ('750000015,120,"1200,00"', "amount_per_year", "decimal comma"),
        ("750000015,120,-5", "amount_per_year", "is not a number"),
        ("940000027,120,1200.00", "establishment_id", r"given twice \(first on line 2\)"),
    ],
)
def test_commitment_file_errors_name_file_line_and_column(tmp_path, row, field, message):
    path = tmp_path / "commitments.csv"
    path.write_text(f"establishment_id,studies_per_year,amount_per_year\n940000027,10,0\n{row}\n", encoding="utf-8")
    with pytest.raises(ContractError, match=message) as info:
        load_commitments(tmp_path, REGISTRY)
    assert (info.value.path, info.value.line, info.value.field) == (path, 3, field)


def test_the_sample_commitments_load():
    from analytics.registry import load_registry

    registry = load_registry(REPO / "contracts")
    commitments = load_commitments(REPO / "contracts", registry)
    assert set(commitments) == {e.establishment_id for e in registry.establishments}
    assert commitments["750238172"] == Commitment("750238172", D(100), D("51600.00"))


# ---- who sees what -------------------------------------------------------------------------------------------------


def report() -> GovernanceReport:
    jan = Month(2012, 1)
    billed = [
        Billed(jan, A, "issued", D("100.00"), {"studies_archived": D(10)}),
        Billed(jan, B, "issued", D("50.00"), {"studies_archived": D(5)}),
    ]
    commitments = {f: Commitment(f, D(120), D("1200.00")) for f in (A, B)}
    as_of = date(2012, 2, 1)
    return GovernanceReport(
        as_of,
        validity(TARIFF, as_of),
        ceiling_use(TARIFF, as_of, billed),
        commitment_use(TARIFF, REGISTRY, commitments, as_of, billed),
        [jan],
        [],
        [],
    )


@pytest.mark.parametrize("role", ["gcs", "finance"])
def test_gcs_and_finance_see_the_money(role):
    viewer = Viewer("x", role)
    assert ceiling_table(report(), viewer)["measure"].to_list() == ["amount", "studies_archived"]
    table = commitment_table(report(), viewer)
    assert table["establishment_id"].to_list() == [A, B] and "actual_amount" in table.columns


def test_the_operator_sees_volumes_only():
    viewer = Viewer("x", "operator")
    assert ceiling_table(report(), viewer)["measure"].to_list() == ["studies_archived"]
    table = commitment_table(report(), viewer)
    assert table["establishment_id"].to_list() == [A, B]
    assert not [c for c in table.columns if "amount" in c]


def test_ars_sees_regional_volumes_and_no_establishment_row():
    viewer = Viewer("x", "ars")
    assert ceiling_table(report(), viewer)["measure"].to_list() == ["studies_archived"]
    with pytest.raises(Forbidden):
        commitment_table(report(), viewer)
    assert scoped_tables(report(), viewer)["commitments"] is None


def test_an_establishment_sees_only_itself_and_not_the_ceiling():
    viewer = Viewer("x", f"establishment:{B}")
    table = commitment_table(report(), viewer)
    assert table["establishment_id"].to_list() == [B] and table["actual_amount"].to_list() == [50.0]
    with pytest.raises(Forbidden):
        ceiling_table(report(), viewer)
    assert validity_table(report(), viewer)["months_left"].to_list() == [10]  # 2012-02-01 to 2012-12-31


@pytest.mark.parametrize(
    ("ceiling", "line", "field", "message"),
    [
        ('ceiling:\n  amount: "1,5"\n', 2, "ceiling.amount", "decimal comma"),
        ('ceiling:\n  amount: "100.00"\n  volumes:\n    studies: 10\n', 4, "ceiling.volumes.studies", "unknown metric"),
        ('ceiling:\n  amount: "100.00"\n  volumes: [10]\n', 3, "ceiling.volumes", "must be a mapping"),
        ("ceiling:\n  volumes: {}\n", 1, "ceiling.amount", "missing required key 'amount'"),
    ],
)
def test_ceiling_errors_name_line_and_field(tmp_path, ceiling, line, field, message):
    from analytics.samples.tariff import FRAMEWORK_YAML, write_contract_terms

    write_contract_terms(tmp_path)
    start = FRAMEWORK_YAML.index("ceiling:\n")
    end = FRAMEWORK_YAML.index("\n\n", start) + 1
    (tmp_path / "framework.yaml").write_text(FRAMEWORK_YAML[:start] + ceiling + FRAMEWORK_YAML[end:], encoding="utf-8")
    first = FRAMEWORK_YAML[:start].count("\n")
    with pytest.raises(ContractError, match=message) as info:
        load_tariff(tmp_path)
    assert (info.value.line, info.value.field) == (first + line, field)


def test_the_sample_ceiling():
    ceiling = load_tariff(REPO / "contracts").ceiling
    assert (ceiling.amount, ceiling.volumes) == (D("1500000.00"), {"studies_archived": D(2500)})
