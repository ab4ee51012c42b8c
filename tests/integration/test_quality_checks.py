"""Each data-quality check fails on purpose-built bad data (RawWarehouse or direct inserts) and passes on good data
and on the sample corpus; history accumulates; an `error` failure blocks issuing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest

from analytics import metering, warehouse
from analytics.billing import service
from analytics.config import Settings, load_settings
from analytics.periods import Month
from analytics.quality import CheckResult, DataQualityFailed, history, runner
from analytics.samples.tariff import write_tariff
from tests.billing_history import TODAY, issue_until
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)
from tests.warehouse_factory import RawWarehouse

MARCH = Month(2012, 3)
STUDIES = [f"1.2.250.1.999.{i}" for i in range(1, 6)]


def config(raw: RawWarehouse) -> Settings:
    write_tariff(raw.root / "contracts")
    (raw.root / "sansfilm.toml").write_text(
        '[warehouse]\npath = "w.duckdb"\n[ledger]\nurl = "sqlite:///ledger.sqlite"\n'
        '[contracts]\ndir = "contracts"\n[archive]\nae_titles = ["RSF_ARCHIVE"]\n'
    )
    return load_settings(raw.root / "sansfilm.toml")


def good(raw: RawWarehouse) -> None:
    """Five studies of A's received in March 2012, each with its receipt event and a view."""
    for n, study in enumerate(STUDIES, start=1):
        raw.instance(f"{study}.1.1", study, f"2012-03-0{n}T10:00:00+01:00", 1000 * n)
        raw.event("110104", f"2012-03-0{n}T10:00:05+01:00", "A_CT", "RSF_ARCHIVE", [study])
        raw.event("110103", f"2012-03-1{n}T09:00:00+01:00", "RSF_ARCHIVE", "A_WS", [study])


def harvest_run(con, harvest_id: str, source: str, finished: str, seen=1, parsed=1, unchanged=0) -> None:
    con.execute(
        """insert into raw.harvest_runs (harvest_id, source, kind, started_at, finished_at, files_seen,
                   files_parsed, files_unchanged, quarantined, records_added)
                   values (?, ?, 'dicom_files', ?, ?, ?, ?, ?, 0, ?)""",
        [harvest_id, source, finished, finished, seen, parsed, unchanged, parsed],
    )


def sql(statement: str) -> Callable:
    return lambda raw, con: con.execute(statement)


def raw_rows(change: Callable[[RawWarehouse], None]) -> Callable:
    """A bad case made of raw rows: added before the models are built."""
    change.before_build = True
    return change


FRESHNESS = ("marts", "mart_source_freshness")
BAD = {
    "sop_instance_uid_present": sql(
        "insert into staged.stg_dicom_instances by name select * replace "
        "(null as sop_instance_uid) from staged.stg_dicom_instances limit 1"
    ),
    "sop_instance_uid_unique": sql(
        "insert into staged.stg_dicom_instances select * from staged.stg_dicom_instances limit 1"
    ),
    "sop_instance_uid_well_formed": raw_rows(
        lambda r: r.instance("1.2.03.4", STUDIES[0], "2012-03-01T11:00:00+01:00", 5)
    ),
    "instance_study_uid_well_formed": raw_rows(
        lambda r: r.instance("1.2.9.9", "1.2.x", "2012-03-01T11:00:00+01:00", 5)
    ),
    "modality_in_dicom_set": sql(
        f"update staged.stg_dicom_instances set modality = 'SCANNER' where study_instance_uid = '{STUDIES[0]}'"
    ),
    "sizes_positive": raw_rows(lambda r: r.instance("1.2.9.9", STUDIES[0], "2012-03-01T11:00:00+01:00", 0)),
    "received_in_harvest_window": raw_rows(lambda r: r.instance("1.2.9.9", "1.2.9", "2009-12-31T23:00:00+01:00", 5)),
    "sender_ae_titles_known": raw_rows(
        lambda r: r.instance(
            "1.2.9.9", "1.2.9", "2012-03-01T11:00:00+01:00", 5, ae="MYSTERY_CT", institution="Hôpital A"
        )
    ),
    "instances_attributed": raw_rows(lambda r: r.instance("1.2.9.9", "1.2.9", "2012-03-01T11:00:00+01:00", 5, ae=None)),
    "audit_record_key_present": sql(
        "insert into staged.stg_audit_events by name select * replace (null as record_key) "
        "from staged.stg_audit_events limit 1"
    ),
    "audit_records_unique": sql("insert into staged.stg_audit_events select * from staged.stg_audit_events limit 1"),
    "audit_event_ids_known": raw_rows(
        lambda r: r.event("119999", "2012-03-02T10:00:00+01:00", "A_CT", "RSF_ARCHIVE", [STUDIES[0]])
    ),
    "audit_outcomes_known": raw_rows(
        lambda r: r.event("110103", "2012-03-02T10:00:00+01:00", "RSF_ARCHIVE", "A_WS", [STUDIES[0]], outcome=3)
    ),
    "audit_study_uid_well_formed": raw_rows(
        lambda r: r.event("110103", "2012-03-02T10:00:00+01:00", "RSF_ARCHIVE", "A_WS", ["01.2.3"])
    ),
    "audit_event_in_harvest_window": raw_rows(
        lambda r: r.event("110103", "2009-05-02T10:00:00+01:00", "RSF_ARCHIVE", "A_WS", [STUDIES[0]])
    ),
    "audit_source_ae_titles_known": raw_rows(
        lambda r: [
            r.event("110112", f"2012-03-0{i}T10:00:00+01:00", "STRANGER", "RSF_ARCHIVE", [None]) for i in range(1, 4)
        ]
    ),
    "study_instance_uid_unique": sql("insert into staged.int_studies select * from staged.int_studies limit 1"),
    "study_instance_uid_well_formed": sql(
        "update staged.int_studies set study_instance_uid = '1.2.03.' || "
        "study_instance_uid where study_instance_uid = '1.2.250.1.999.1'"
    ),
    "study_bytes_positive": sql("update staged.int_studies set bytes = 0 where study_instance_uid = '1.2.250.1.999.1'"),
    "study_attribution_consistent": raw_rows(
        lambda r: r.instance("1.2.9.9", STUDIES[0], "2012-03-01T11:00:00+01:00", 5, ae="B_CT")
    ),
    "study_owner_unique": sql("insert into staged.int_study_owners select * from staged.int_study_owners limit 1"),
    "files_accounted_for": lambda raw, con: harvest_run(
        con, "h1", "files", "2012-04-01T02:00:00+02:00", seen=10, parsed=8, unchanged=1
    ),
    "sources_harvested_together": lambda raw, con: (
        harvest_run(con, "h1", "files", "2012-04-01T02:00:00+02:00"),
        harvest_run(con, "h2", "audit", "2012-03-28T02:00:00+02:00"),
        warehouse.build_models(con, [FRESHNESS]),
    ),
    "source_records_current": lambda raw, con: (
        harvest_run(con, "h1", "files", "2012-04-01T02:00:00+02:00"),
        harvest_run(con, "h2", "audit", "2012-04-01T02:00:00+02:00"),
        con.execute("update raw.audit_events set event_time = event_time + interval 10 day"),
        warehouse.build_models(con, [FRESHNESS]),
    ),
    "receipts_match_studies": raw_rows(lambda r: r.instance("1.2.9.9", "1.2.9", "2012-03-01T11:00:00+01:00", 5)),
    "establishment_id_unique": sql(
        "insert into marts.dim_establishments select * from marts.dim_establishments limit 1"
    ),
    "stored_bytes_not_negative": lambda raw, con: (
        metering.meter_month(con, MARCH),
        con.execute("update marts.fct_usage_daily set stored_bytes = -1 where usage_date = date '2012-03-02'"),
    ),
    "usage_daily_matches_monthly": lambda raw, con: (
        metering.meter_month(con, MARCH),
        con.execute(
            "update marts.fct_usage_daily set usage_date = date '2012-04-01' where usage_date = "
            "(select min(usage_date) from marts.fct_usage_daily)"
        ),
    ),
}


def _results(settings: Settings, con, **kwargs) -> dict:
    return {r.name: r for r in runner.run_checks(settings, con=con, **kwargs)}


@pytest.fixture
def raw(tmp_path) -> RawWarehouse:
    raw = RawWarehouse(tmp_path)
    good(raw)
    return raw


def test_every_check_passes_on_good_data(raw):
    settings = config(raw)
    con = raw.build()
    try:
        metering.meter_month(con, MARCH)
        results = _results(settings, con)
    finally:
        con.close()
    assert {name for name, r in results.items() if not r.passed} == set()
    # every rule of the contracts has its bad case (the ledger's own in tests/integration/test_ledger_integrity.py)
    assert set(BAD) | {"invoices_match_usage", "ledger_chain_verified", "invoice_documents_intact"} == set(results)


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_check_fails_on_bad_data(raw, name):
    settings = config(raw)
    change = BAD[name]
    if getattr(change, "before_build", False):
        change(raw)
    con = raw.build()
    try:
        if not getattr(change, "before_build", False):
            change(raw, con)
        rule = next(r for r in runner.rules_for(settings) if r.name == name)
        result = _results(settings, con, tables=[rule.table])[name]
    finally:
        con.close()
    assert not result.passed, result
    assert result.observed not in (None, 0, 0.0) or result.details.get("error")
    assert result.severity == rule.severity and result.table == rule.table


def test_a_record_after_the_newest_harvest_is_in_the_future(raw):
    """The window's upper bound is the newest harvest (or as_of), never the wall clock."""
    settings = config(raw)
    con = raw.build()
    try:
        harvest_run(con, "h1", "files", "2012-03-04T02:00:00+01:00")
        late = _results(settings, con, tables=["staged.stg_dicom_instances"])["received_in_harvest_window"]
        as_of = _results(
            settings,
            con,
            tables=["staged.stg_dicom_instances"],
            as_of=datetime.fromisoformat("2012-04-01T00:00:00+02:00"),
        )["received_in_harvest_window"]
    finally:
        con.close()
    assert (late.passed, late.observed) == (False, 2)  # studies 4 and 5 were received after that harvest
    assert as_of.passed


def test_receipts_details_name_example_uids_on_both_sides(raw):
    raw.instance("1.2.9.9", "1.2.9", "2012-03-01T11:00:00+01:00", 5)  # harvested, never received per the logs
    raw.event("110104", "2012-03-02T10:00:00+01:00", "A_CT", "RSF_ARCHIVE", ["1.2.8"])  # received, never harvested
    settings = config(raw)
    con = raw.build()
    try:
        result = _results(settings, con, tables=["staged.int_studies"])["receipts_match_studies"]
    finally:
        con.close()
    assert result.details["no_receipt_event"] == {"studies": 1, "examples": ["1.2.9"]}
    assert result.details["not_harvested"] == {"studies": 1, "examples": ["1.2.8"]}
    assert result.observed == round(2 / 7, 6)


def test_every_check_passes_on_the_sample(harvested):
    settings, _ = harvested
    results = runner.run_checks(settings)
    assert [r.name for r in results if not r.passed] == []
    assert len(results) == len(BAD) + 3


def test_error_failure_blocks_issuing_and_writes_nothing(raw):
    settings = config(raw)
    con = raw.build()
    con.execute("insert into staged.stg_dicom_instances select * from staged.stg_dicom_instances limit 1")
    con.close()
    with pytest.raises(DataQualityFailed) as caught:  # the agreement's first month: the gate is what refuses
        service.issue(settings, Month(2010, 4), issue_date=date(2010, 5, 3), today=TODAY)
    assert "sop_instance_uid_unique (staged.stg_dicom_instances): observed 1" in str(caught.value)
    from analytics.billing.ledger import Ledger

    assert Ledger(settings.ledger.url).issued_months() == []
    assert [r["trigger"] for r in history.runs(settings.ledger.url)] == ["issue"]


def test_issued_invoices_against_later_usage_and_history_accumulates(raw):
    settings = config(raw)
    raw.build().close()
    issue_until(settings, MARCH)
    march = service.issue(settings, MARCH, issue_date=date(2012, 4, 2), today=TODAY).invoices
    number = next(i.number for i in march if i.establishment_id == "750000015")
    first, results = runner.check_and_record(settings, trigger="check")
    assert {r.name: r.passed for r in results}["invoices_match_usage"]
    # a study of A's received in March but harvested after March was issued, then March metered again
    raw.instance("1.2.250.1.999.77.1", "1.2.250.1.999.77", "2012-03-20T10:00:00+01:00", 4000)
    raw.event("110104", "2012-03-20T10:00:05+01:00", "A_CT", "RSF_ARCHIVE", ["1.2.250.1.999.77"])
    con = raw.build()
    metering.meter_month(con, MARCH)
    con.close()
    second, results = runner.check_and_record(settings, trigger="check")
    late = {r.name: r for r in results}["invoices_match_usage"]
    assert not late.passed and late.severity == "warn"
    assert any(f"{number} 750000015 REGUL:studies_archived" in e for e in late.details["not_regularised"])
    runs = history.runs(settings.ledger.url)
    assert [r["run_id"] for r in runs if r["trigger"] == "check"] == [first, second]
    assert [r["trigger"] for r in runs] == ["issue", "check", "check"]
    failures = history.failures(settings.ledger.url)
    assert [(f["name"], f["run_id"]) for f in failures] == [("invoices_match_usage", second)]
    latest = {r["name"]: r for r in history.latest(settings.ledger.url)}
    assert latest["invoices_match_usage"]["passed"] is False and latest["invoices_match_usage"]["run_id"] == second
    assert late.observed >= 1


def test_history_on_a_real_postgresql(postgres_database):
    url = postgres_database()
    ok = CheckResult("sizes_positive", "staged.stg_dicom_instances", "error", True, 0, {"rows": 3})
    bad = CheckResult("sizes_positive", "staged.stg_dicom_instances", "error", False, 2, {"examples": ["0", "0"]})
    first = history.record(url, [ok], trigger="check", at=datetime.fromisoformat("2026-11-01T06:00:00+01:00"))
    second = history.record(url, [bad], trigger="dagster", at=datetime.fromisoformat("2026-11-02T06:00:00+01:00"))
    assert [r["run_id"] for r in history.runs(url)] == [first, second]
    (latest,) = history.latest(url)
    assert (latest["run_id"], latest["passed"], latest["observed"], latest["details"]) == (
        second,
        False,
        2,
        {"examples": ["0", "0"]},
    )
    assert [f["run_id"] for f in history.failures(url)] == [second]


def _row_level_both_ways(raw: RawWarehouse, name: str | None, monkeypatch) -> tuple[dict, dict]:
    """The results of every row-level rule of the contracts, counted by DuckDB and then all by GX on pulled chunks."""
    from analytics.quality import rules as quality_rules

    settings = config(raw)
    change = BAD.get(name) if name else None
    if change is not None and getattr(change, "before_build", False):
        change(raw)
    con = raw.build()
    try:
        if change is not None and not getattr(change, "before_build", False):
            change(raw, con)
        row_level = {r.table for r in runner.rules_for(settings) if r.kind in quality_rules.ROW_LEVEL}
        by_sql = {
            n: r
            for n, r in _results(settings, con, tables=row_level).items()
            if r.details.get("computed_by") == "duckdb"
        }
        with monkeypatch.context() as patched:
            patched.setattr(quality_rules, "sql_condition", lambda *args: None)
            by_gx = _results(settings, con, tables=row_level)
    finally:
        con.close()
    return by_sql, by_gx


ROW_LEVEL_BAD = [
    "sop_instance_uid_present",
    "sop_instance_uid_well_formed",
    "instance_study_uid_well_formed",
    "modality_in_dicom_set",
    "sizes_positive",
    "received_in_harvest_window",
    "audit_record_key_present",
    "audit_event_ids_known",
    "audit_outcomes_known",
    "audit_study_uid_well_formed",
    "audit_event_in_harvest_window",
    "study_instance_uid_well_formed",
    "study_bytes_positive",
]


@pytest.mark.parametrize("name", [None, *ROW_LEVEL_BAD])
def test_row_level_rules_counted_in_duckdb_agree_with_great_expectations(raw, name, monkeypatch):
    """The row-level rules DuckDB counts (a scan, at any size) give what GX gives on the pulled rows: the verdict, the
    offending rows and their examples, on good data and on each rule's bad case."""
    by_sql, by_gx = _row_level_both_ways(raw, name, monkeypatch)
    assert len(by_sql) >= 15 and (name is None or name in by_sql)  # the contracts' row-level rules, nearly all
    for rule, result in by_sql.items():
        other = by_gx[rule]
        assert other.details["computed_by"] == "great_expectations"
        assert (result.passed, result.observed, result.details["rows"]) == (
            other.passed,
            other.observed,
            other.details["rows"],
        ), rule
        assert sorted(result.details["examples"]) == sorted(other.details["examples"]), rule
    if name is not None:
        assert not by_sql[name].passed and by_sql[name].observed


def test_an_expectation_duckdb_cannot_evaluate_is_left_to_great_expectations(raw):
    """A regular expression RE2 refuses (a look-ahead), and an expectation type without SQL, still run: through GX."""
    from analytics.quality import rules as quality_rules
    from analytics.quality.contracts import Rule

    config(raw)  # writes the corpus's configuration
    con = raw.build()
    try:
        ctx = quality_rules.RunContext(con, datetime(2010, 1, 1), None)
        lookahead = Rule(
            "uid_lookahead",
            "staged.stg_dicom_instances",
            "error",
            "",
            "expectation",
            {
                "type": "expect_column_values_to_match_regex",
                "columns": ("sop_instance_uid",),
                "kwargs": {"column": "sop_instance_uid", "regex": r"^(?=1\.)[0-9.]+$"},
            },
            raw.root / "rules.yaml",
            1,
        )
        lengths = Rule(
            "uid_lengths",
            "staged.stg_dicom_instances",
            "warn",
            "",
            "expectation",
            {
                "type": "expect_column_value_lengths_to_be_between",
                "columns": ("sop_instance_uid",),
                "kwargs": {"column": "sop_instance_uid", "max_value": 10},
            },
            raw.root / "rules.yaml",
            2,
        )
        present = Rule(
            "uid_present",
            "staged.stg_dicom_instances",
            "error",
            "",
            "expectation",
            {
                "type": "expect_column_values_to_not_be_null",
                "columns": ("sop_instance_uid",),
                "kwargs": {"column": "sop_instance_uid"},
            },
            raw.root / "rules.yaml",
            3,
        )
        results = quality_rules.run_row_level(ctx, "staged.stg_dicom_instances", [lookahead, lengths, present])
    finally:
        con.close()
    # the scan of the rules DuckDB can count failed on the look-ahead: each is tried alone, the others still counted
    assert [r.details["computed_by"] for r in results] == ["great_expectations"] * 2 + ["duckdb"]
    assert results[2].passed and results[2].details["rows"] == len(STUDIES)
    assert results[0].passed and results[0].observed == 0
    assert not results[1].passed and results[1].observed == len(STUDIES)  # every UID is longer than 10 characters


def test_where_sql_and_great_expectations_read_values_differently_great_expectations_computes(raw):
    """Floats (NaN is a null to pandas, a number to DuckDB), mixed value sets, Python-only regular expression syntax:
    left to GX; the DICOM UID rule refuses a trailing newline both ways."""
    from analytics.quality import rules as quality_rules
    from analytics.quality.contracts import Rule

    def rule(name, kind, column, **kwargs):
        return Rule(
            name,
            "staged.probe",
            "error",
            "",
            "expectation",
            {"type": kind, "columns": (column,), "kwargs": {"column": column, **kwargs}},
            raw.root / "rules.yaml",
            1,
        )

    con = raw.build()
    try:
        con.execute(
            "create table staged.probe as select * from (values (1.0, 'ABC', '1'), ('nan'::double, "
            "'ABC\n', '1.2.3\n'), (null, 'é', '1.2')) t(x, word, uid)"
        )
        ctx = quality_rules.RunContext(con, datetime(2010, 1, 1), None)
        probes = [
            rule("x_present", "expect_column_values_to_not_be_null", "x"),
            rule("x_small", "expect_column_values_to_be_between", "x", max_value=2),
            rule("word_letters", "expect_column_values_to_match_regex", "word", regex=r"^\w+$"),
            rule("uid_mixed_set", "expect_column_values_to_be_in_set", "uid", value_set=["1.2", 1]),
            rule("uid_set", "expect_column_values_to_be_in_set", "uid", value_set=["1", "1.2"]),
        ]
        uid = Rule("uid_form", "staged.probe", "error", "", "dicom_uid", {"column": "uid"}, raw.root / "rules.yaml", 2)
        results = {r.name: r for r in quality_rules.run_row_level(ctx, "staged.probe", [*probes, uid])}
    finally:
        con.close()
    engines = {name: r.details["computed_by"] for name, r in results.items()}
    assert engines == {
        "x_present": "great_expectations",
        "x_small": "great_expectations",
        "word_letters": "great_expectations",
        "uid_mixed_set": "great_expectations",
        "uid_set": "duckdb",
        "uid_form": "duckdb",
    }
    assert results["x_present"].observed == 2  # the NaN and the null, as GX counts them
    assert results["uid_mixed_set"].observed == 2  # '1' is not 1 for GX
    assert results["uid_set"].observed == 1 and results["uid_form"].observed == 1  # '1.2.3\n'


def test_a_failed_check_of_the_metered_facts_waits_for_metering_not_blocks_it(tiny_built):
    """A blocking check of metering's facts that failed is checked again after the next metering: metering must run
    for it to pass again, so it is not stopped by it (it was, for ever). The readers' copy is not replaced while it
    stands, and a model's failed check still stops metering."""
    from analytics import operations
    from analytics.warehouse import WarehouseNotBuilt

    month = Month(2012, 3)
    path = tiny_built.warehouse.path
    with warehouse.open_warehouse(path) as con:
        warehouse.record_blocking_checks(con, list(runner.METERED), [failed("usage_check", "marts.fct_usage_daily")])
    assert month in service.meter(tiny_built, [month])
    with pytest.raises(WarehouseNotBuilt, match=r"usage_check \(marts.fct_usage_daily\)"):
        operations.publish(tiny_built)
    with warehouse.open_warehouse(path) as con:
        warehouse.record_blocking_checks(con, ["staged.int_studies"], [failed("model_check", "staged.int_studies")])
    with pytest.raises(WarehouseNotBuilt, match=r"model_check \(staged.int_studies\)"):
        service.meter(tiny_built, [month])


def test_a_failed_check_of_the_ledger_blocks_neither_metering_nor_publishing(tiny_built, monkeypatch):
    """The drafts' checks of the ledger (a document missing) concern the invoices, which the issuing gate checks
    afresh: the Dagster step records none as blocking the warehouse, and clears one an earlier version recorded, so
    that `sansfilm run` still meters and publishes."""
    from types import SimpleNamespace

    from analytics import operations
    from pipelines.quality.checks import check_results

    documents = failed("invoice_documents_intact", runner.LEDGER_TABLE)
    monkeypatch.setattr(runner, "run_checks", lambda settings, tables, con: [documents])
    with warehouse.open_warehouse(tiny_built.warehouse.path) as con:
        warehouse.record_blocking_checks(con, [runner.LEDGER_TABLE], [documents])  # as an earlier version left it
        (result,) = check_results(
            SimpleNamespace(run=SimpleNamespace(run_id="r")), tiny_built, [runner.LEDGER_TABLE], con
        )
        assert not result.passed  # Dagster still shows it failed
    assert Month(2012, 3) in service.meter(tiny_built, [Month(2012, 3)])
    assert operations.publish(tiny_built) == str(tiny_built.published_path)


def failed(name: str, table: str) -> CheckResult:
    return CheckResult(name, table, "error", False, 1, {})
