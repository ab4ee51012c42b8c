"""Service levels on hand-written raw rows, every figure computed by hand: the study time (Paris, DST), availability
from Application Stop/Start across midnight, a month boundary and DST, failure-only minutes, the p95 ingestion delay,
the retrieval failure rate, and the credits on the next month's invoice (preview JSON and issued documents)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from analytics.billing import service
from analytics.billing.contracts import load_contracts
from analytics.billing.credits import recorded_credit_lines
from analytics.billing.documents import check_einvoice
from analytics.billing.model import round_money
from analytics.config import load_settings
from analytics.periods import Month
from analytics.samples.service_levels import write_service_levels
from analytics.samples.tariff import write_tariff
from analytics.warehouse import connect
from pipelines.cli import app
from tests.billing_history import TODAY, issue_until
from tests.warehouse_factory import A, B, RawWarehouse

UTC = UTC
MARCH, APRIL, MAY, OCTOBER = Month(2012, 3), Month(2012, 4), Month(2012, 5), Month(2012, 10)
STOP, START = "110121", "110120"
runner = CliRunner()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_study_time_is_paris_wall_clock_time_dst_aware(tmp_path):
    wh = RawWarehouse(tmp_path)
    cases = {  # study: (StudyDate, StudyTime, study_at in UTC, time known)
        "1.1": ("2012-03-25", "023000", "2012-03-25T01:30:00+00:00", True),  # skipped hour: read as winter time
        "1.2": ("2012-10-28", "023000", "2012-10-28T01:30:00+00:00", True),  # repeated hour: the winter one
        "1.3": ("2012-07-14", "1015", "2012-07-14T08:15:00+00:00", True),  # HHMM
        "1.4": ("2012-07-14", "10:15:30", "2012-07-14T08:15:30+00:00", True),  # old ACR-NEMA form
        "1.5": ("2012-01-10", "101530.25", "2012-01-10T09:15:30.250000+00:00", True),
        "1.6": ("2012-01-10", "251000", "2012-01-09T23:00:00+00:00", False),  # invalid hour: midnight, flagged
        "1.7": ("2012-07-14", None, "2012-07-13T22:00:00+00:00", False),  # missing: midnight (summer time)
        "1.9": ("2012-01-10", "1260 ", "2012-01-09T23:00:00+00:00", False),  # minute 60: invalid
        "1.10": ("2012-01-10", "12.5", "2012-01-09T23:00:00+00:00", False),  # a fraction needs seconds
    }
    for study, (day, time, _, _) in cases.items():
        wh.instance(f"{study}.1", study, "2012-11-01T12:00:00+01:00", 100, study_date=day, study_time=time)
    # two instances, one without a time: the study's time is the known one
    wh.instance("1.8.1", "1.8", "2012-11-01T12:00:00+01:00", 100, study_date="2012-11-01", study_time="")
    wh.instance("1.8.2", "1.8", "2012-11-01T12:00:00+01:00", 100, study_date="2012-11-01", study_time="093000")
    con = wh.build()
    try:
        rows = dict(  # in UTC: an aware time in the repeated hour never equals one of another zone (PEP 495)
            (r[0], (r[1].astimezone(UTC), r[2]))
            for r in con.execute(
                "select study_instance_uid, study_at, study_time_known from staged.int_studies"
            ).fetchall()
        )
        for study, (_, _, at, known) in cases.items():
            assert rows[study] == (_utc(at), known), study
        assert rows["1.8"] == (_utc("2012-11-01T09:30:00+01:00"), True)
        # the delay histogram: 1.8 received 2 h 30 after its study time; the two studies without a time are counted
        histogram = con.execute(
            """select delay_hours, studies, studies_time_unknown from marts.mart_ingestion_delay
               where month = date '2012-11-01' and delay_hours in (2, 105, 720) order by 1"""
        ).fetchall()
        assert histogram == [(2, 1, 0), (105, 1, 0), (720, 8, 4)]  # 1.2: 4 days 9.5 h; the others clipped at 720 h
    finally:
        con.close()


@pytest.fixture
def scenario(tmp_path):
    """A (PACS_RIS: archive, viewer, RIS) and B (PACS: archive, viewer) under the committed tariff and service levels.

    March 2012 (44 580 minutes: the clocks go forward on the 25th):
    - the archive stops 31 March 20:00 and restarts 1 April 03:00 (Paris): 240 min in March, 180 in April, both;
    - the RIS stops 31 March 19:00 (again at 19:30: no new outage) and restarts 1 April 01:00: A only, overlapping;
    - the viewer starts on 10 April with no stop before it (a crash it never logged): nothing;
    - A's retrievals on 15 March: 10:00 has only failures (a failure-only minute), 10:01 a failure and a success;
      one more failure inside the outage adds no minute: 5 retrievals, 4 failed.
    May: 20 studies of A made 10 May 08:00 and received i x 90 min + 30 s later (i = 1..20), one without a time.
    """
    wh = RawWarehouse(tmp_path)
    contracts = tmp_path / "contracts"
    write_tariff(contracts)
    write_service_levels(contracts)
    (tmp_path / "sansfilm.toml").write_text(
        '[warehouse]\npath = "w.duckdb"\n[contracts]\ndir = "contracts"\n[ledger]\nurl = "sqlite:///ledger.sqlite"\n'
        '[archive]\nae_titles = ["RSF_ARCHIVE"]\n[privacy]\nallow_development_key = true\n',
        encoding="utf-8",
    )
    for application, stop, start in (
        ("RSF_ARCHIVE", "2012-03-31T20:00:00+02:00", "2012-04-01T03:00:00+02:00"),
        ("RSF_RIS", "2012-03-31T19:00:00+02:00", "2012-04-01T01:00:00+02:00"),
    ):
        wh.event("110100", stop, None, None, [None], event_type_code=STOP, audit_source_id=application)
        wh.event("110100", start, None, None, [None], event_type_code=START, audit_source_id=application)
    wh.event("110100", "2012-03-31T19:30:00+02:00", None, None, [None], event_type_code=STOP, audit_source_id="RSF_RIS")
    wh.event(
        "110100", "2012-04-10T08:00:00+02:00", None, None, [None], event_type_code=START, audit_source_id="RSF_VIEWER"
    )
    wh.instance("9.1.1", "9.1", "2012-03-01T09:00:00+01:00", 1000)
    for when, outcome in (
        ("2012-03-15T10:00:10+01:00", 8),
        ("2012-03-15T10:00:40+01:00", 4),
        ("2012-03-15T10:01:05+01:00", 8),
        ("2012-03-15T10:01:30+01:00", 0),
        ("2012-03-31T21:00:30+02:00", 12),
    ):
        wh.event("110104", when, "RSF_ARCHIVE", "A_CT", ["9.1"], outcome=outcome)
    for i in range(1, 21):
        received = datetime(2012, 5, 10, 6, 0, 30, tzinfo=UTC).timestamp() + i * 90 * 60
        wh.instance(
            f"5.{i}.1",
            f"5.{i}",
            datetime.fromtimestamp(received, UTC).isoformat(),
            1000,
            study_date="2012-05-10",
            study_time="080000",
        )
    wh.instance("5.99.1", "5.99", "2012-05-12T10:00:00+02:00", 1000, study_date="2012-05-12")
    wh.build().close()
    return load_settings(tmp_path / "sansfilm.toml")


def _by_term(assessments, establishment):
    return {a.term.name: a for a in assessments if a.establishment_id == establishment}


def test_availability_failure_rate_and_delay_measured_by_hand(scenario):
    contracts = load_contracts(scenario)
    march = service.assess_service_levels(scenario, contracts, MARCH)
    a, b = _by_term(march, A), _by_term(march, B)
    # A: outages 19:00-24:00 (RIS, archive inside it) = 300 min, + 1 failure-only minute: 44 279 / 44 580 = 99.3248 %
    assert (a["availability"].sample_size, a["availability"].measured) == (44580, D("99.32")), a["availability"].details
    assert "300.00 min d'arrêt (1 arrêt(s)), 1.00 min d'échecs seuls (1 minute(s))" in a["availability"].details
    # the fee is revised (docs/billing.md): March 2012 is priced at 1.0238 (from 2011-04-01): 1 800.00 x 1.0238 =
    # 1 842.84, and 5 % of it = 92.142 -> 92.14
    assert (a["availability"].breached, a["availability"].credit_percent, a["availability"].credit_amount) == (
        True,
        D("5"),
        D("92.14"),
    )
    # B (PACS) does not depend on the RIS: 240 min -> 44 340 / 44 580 = 99.4616 % -> 99.46 %, and no failure minute;
    # its fee revised like A's: 1 200.00 x 1.0238 = 1 228.56, 5 % = 61.428 -> 61.43
    assert (b["availability"].measured, b["availability"].credit_amount) == (D("99.46"), D("61.43"))
    # retrievals: 4 failed of 5 = 80 % > 5 % -> 5 % of the March fee (92.14, as above)
    assert (a["retrieval_failure_rate"].measured, a["retrieval_failure_rate"].sample_size) == (D("80.00"), 5)
    assert a["retrieval_failure_rate"].credit_amount == D("92.14")
    assert (b["retrieval_failure_rate"].measured, b["retrieval_failure_rate"].breached) == (None, False)
    # April: 00:00-03:00 for both (RIS 00:00-01:00 inside it): 43 020 / 43 200 = 99.5833 % -> met
    april = service.assess_service_levels(scenario, contracts, APRIL)
    assert [(a.establishment_id, a.measured, a.breached) for a in april if a.term.name == "availability"] == [
        (A, D("99.58"), False),
        (B, D("99.58"), False),
    ]
    # October has 745 hours (the clocks go back on the 28th)
    october = service.assess_service_levels(scenario, contracts, OCTOBER)
    assert {a.sample_size for a in october if a.term.name == "availability"} == {44700}
    # May: delays i x 90 min + 30 s; p95 = the 19th of 20 = 1 710.5 min > 1 440 -> 3 %; the study without a time is out
    delay = _by_term(service.assess_service_levels(scenario, contracts, MAY), A)["ingestion_delay_p95"]
    assert (delay.measured, delay.sample_size, delay.credit_percent, delay.credit_amount) == (
        D("1710.50"),
        20,
        D("3"),
        D("56.26"),
    )  # 3 % of 1 800.00 x 1.0419 = 1 875.42 -> 56.2626
    assert "1 sans heure d'examen exclu(s)" in delay.details


def test_the_mart_holds_the_month_and_a_rerun_replaces_it(scenario):
    contracts = load_contracts(scenario)
    service.assess_service_levels(scenario, contracts, MARCH)
    service.assess_service_levels(scenario, contracts, MARCH)
    service.assess_service_levels(scenario, contracts, APRIL)
    con = connect(scenario.warehouse.path, read_only=True)
    try:
        rows = con.execute(
            """select month, count(*), count(*) filter (where breached), sum(credit_amount)::varchar
               from marts.mart_service_levels group by month order by month"""
        ).fetchall()
        # what a reader of the published warehouse gets for April's invoices: the lines the preview computes
        recorded = recorded_credit_lines(con, APRIL)
        assert recorded_credit_lines(con, MAY) == {}
    finally:
        con.close()
    assert rows == [("2012-03", 6, 3, "245.71"), ("2012-04", 6, 0, "0.00")]  # 92.14 + 92.14 + 61.43
    previewed = {
        i.establishment_id: [l for l in i.lines if l.code.startswith("SLA:")] for i in service.preview(scenario, APRIL)
    }
    assert recorded == {k: v for k, v in previewed.items() if v} and len(recorded[A]) == 2


def _bill(settings, *args: str) -> dict:
    result = runner.invoke(app, ["--config", str(settings.config_path), "bill", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_breaches_are_credited_on_the_next_invoice(scenario, tmp_path):
    preview = _bill(scenario, "--month", "2012-04")
    invoices = {i["establishment_id"]: i for i in preview["invoices"]}
    credits = {i: [l for l in inv["lines"] if l["code"].startswith("SLA:")] for i, inv in invoices.items()}
    assert [(l["code"], l["quantity"], l["unit_price"], l["amount"]) for l in credits[A]] == [
        ("SLA:availability:2012-03", "-1", "92.14", "-92.14"),
        ("SLA:retrieval_failure_rate:2012-03", "-1", "92.14", "-92.14"),
    ]
    assert credits[A][0]["description"] == (
        "Crédit niveau de service – Disponibilité mars 2012 : 99,32 % < 99,5 % ; 5 % de l'abonnement de mars 2012 "
        "(1 842,84 EUR)"
    )
    assert credits[B][0]["description"].startswith(
        "Crédit niveau de service – Disponibilité mars 2012 : 99,46 % < 99,5 %"
    )
    for invoice in invoices.values():  # VAT on the net, credits included
        net = sum(D(l["amount"]) for l in invoice["lines"])
        assert (D(invoice["net"]), D(invoice["vat"])) == (net, round_money(net * D("0.20")))
    # nothing for a month whose levels were met (April -> the May invoice)
    may = _bill(scenario, "--month", "2012-05")
    assert not [l for i in may["invoices"] for l in i["lines"] if l["code"].startswith("SLA:")]

    out = scenario.billing.out_dir  # where `check` (the gate of May's issue) verifies the documents
    issue_until(scenario, APRIL)
    issued = service.issue(scenario, APRIL, issue_date=date(2012, 5, 2), today=TODAY, out_dir=out)
    invoice_a = next(i for i in issued.invoices if i.establishment_id == A)
    assert [l.amount for l in invoice_a.lines if l.code.startswith("SLA:")] == [D("-92.14"), D("-92.14")]
    xml = (out / "2012-04" / f"{invoice_a.number}.xml").read_bytes()
    assert check_einvoice(xml) == []
    assert b"Disponibilit\xc3\xa9 mars 2012 : 99,32 %" in xml
    with (out / "2012-04" / f"{invoice_a.number}.csv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["code"].startswith("SLA:")]
    assert [(r["code"], r["amount"]) for r in rows] == [
        ("SLA:availability:2012-03", "-92.14"),
        ("SLA:retrieval_failure_rate:2012-03", "-92.14"),
    ]
    assert (out / "2012-04" / f"{invoice_a.number}.pdf").read_bytes().startswith(b"%PDF")
    # the next month neither regularises the credits away nor credits them again; May's delay breach goes to June
    may_issued = service.issue(scenario, MAY, issue_date=date(2012, 6, 1), today=TODAY)
    assert not [l for i in may_issued.invoices for l in i.lines if l.code.startswith(("SLA:", "REGUL:"))]
    june = {i.establishment_id: i for i in service.preview(scenario, Month(2012, 6))}
    assert [(l.code, l.amount) for l in june[A].lines if l.code.startswith("SLA:")] == [
        ("SLA:ingestion_delay_p95:2012-05", D("-56.26"))
    ]


def test_an_establishment_that_left_gets_its_credit_on_a_credit_note(scenario, tmp_path):
    """B's contract ends on 31 March: no April invoice of its own, so its March credit comes on a document of its
    own, whose total is negative: a credit note (type 381) in the e-invoice."""
    from analytics import warehouse
    from analytics.registry import load_registry

    registry = scenario.contracts.dir / "establishments.csv"
    lines = registry.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("2011-01-15,,", "2011-01-15,2012-03-31,")
    registry.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with warehouse.open_warehouse(scenario.warehouse.path) as con:
        warehouse.load_reference(con, load_registry(scenario.contracts.dir), ["RSF_ARCHIVE"])
        warehouse.build_models(con)
    issue_until(scenario, APRIL)
    issued = service.issue(scenario, APRIL, issue_date=date(2012, 5, 2), today=TODAY, out_dir=tmp_path / "out")
    invoice_b = next(i for i in issued.invoices if i.establishment_id == B)
    assert invoice_b.active_days == 0
    assert [(l.code, l.amount) for l in invoice_b.lines] == [("SLA:availability:2012-03", D("-61.43"))]
    assert (invoice_b.net, invoice_b.vat, invoice_b.gross) == (D("-61.43"), D("-12.29"), D("-73.72"))
    xml = (tmp_path / "out" / "2012-04" / f"{invoice_b.number}.xml").read_bytes()
    assert check_einvoice(xml) == [] and b">381<" in xml
