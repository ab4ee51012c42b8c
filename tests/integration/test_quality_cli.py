"""`sansfilm check` (JSON contract, exit codes), `sansfilm bill --issue` refused on an error failure, and the Dagster
blocking checks that keep the draft invoices from being built on broken data."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime

import dagster as dg
import duckdb
import pytest
from typer.testing import CliRunner

from analytics import operations
from analytics.billing import service
from analytics.billing.ledger import Ledger
from analytics.periods import Month
from analytics.quality import history
from analytics.quality.contracts import DEFAULT_RULES_DIR, RULES_FOLDER
from pipelines.billing.assets import USAGE_KEY
from pipelines.cli import app
from pipelines.definitions import build_definitions
from pipelines.resources import SansfilmConfig
from tests.billing_history import TODAY, issue_until
from tests.integration.test_quality_checks import STUDIES, config, good
from tests.warehouse_factory import RawWarehouse


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setenv("SANSFILM_NOW", f"{TODAY}T12:00:00")  # analytics.clock, the one clock


runner = CliRunner()
KEYS = {"name", "table", "severity", "passed", "observed", "details"}


def check(settings, *args: str):
    return runner.invoke(app, ["--config", str(settings.config_path), "check", *args])


def test_check_json_contract_exit_codes_and_issue_refused(tmp_path):
    raw = RawWarehouse(tmp_path)
    good(raw)
    settings = config(raw)
    raw.build().close()
    ok = check(settings, "--format", "json")
    assert ok.exit_code == 0, ok.output
    checks = json.loads(ok.stdout)["checks"]
    assert checks and all(KEYS <= set(c) for c in checks) and all(c["passed"] for c in checks)
    assert {c["severity"] for c in checks} == {"error", "warn"}

    con = raw.build()  # now break one error rule and one warn rule
    con.execute("insert into staged.stg_audit_events select * from staged.stg_audit_events limit 1")
    con.execute("update staged.stg_dicom_instances set modality = 'SCANNER'")
    con.close()
    bad = check(settings, "--format", "json")
    assert bad.exit_code == 1
    failed = {c["name"]: c for c in json.loads(bad.stdout)["checks"] if not c["passed"]}
    assert set(failed) == {"audit_records_unique", "modality_in_dicom_set"}
    assert (failed["audit_records_unique"]["severity"], failed["audit_records_unique"]["observed"]) == ("error", 1)
    table = check(settings)
    assert table.exit_code == 1
    assert "audit_records_unique" in table.stdout and "FAILED" in table.stdout
    assert "31 checks: 1 error(s), 1 warning(s)" in table.stdout

    # the agreement's first month (nothing to issue before it): the gate is what refuses
    issue = runner.invoke(
        app,
        [
            "--config",
            str(settings.config_path),
            "bill",
            "--month",
            "2010-04",
            "--issue",
            "--issue-date",
            "2010-05-03",
            "--format",
            "json",
        ],
    )
    assert issue.exit_code == 2
    assert "audit_records_unique (staged.stg_audit_events): observed 1" in issue.stderr
    assert "modality_in_dicom_set" not in issue.stderr  # a warning does not block
    assert issue.stdout == ""
    assert Ledger(settings.ledger.url).issued_months() == []
    assert [r["trigger"] for r in history.runs(settings.ledger.url)] == ["check", "check", "check", "issue"]


def test_warn_only_failures_exit_0(tmp_path):
    raw = RawWarehouse(tmp_path)
    good(raw)
    raw.instance("1.2.9.9", "1.2.9", "2012-03-01T11:00:00+01:00", 5, ae=None)  # unattributed, no receipt: warnings
    settings = config(raw)
    raw.build().close()
    result = check(settings, "--format", "json", "--as-of", "2012-04-01T00:00")
    assert result.exit_code == 0, result.output
    failed = sorted(c["name"] for c in json.loads(result.stdout)["checks"] if not c["passed"])
    assert failed == ["instances_attributed", "receipts_match_studies"]


def test_a_blocking_check_keeps_the_draft_invoices_from_being_built(tiny):
    """A file received before the framework agreement: the error check on stg_dicom_instances fails in the run, and
    nothing downstream of it (usage, draft invoices) is materialised in that run."""
    files = sorted(p for p in tiny.sources[0].path.rglob("*") if p.is_file())
    for path in files:
        stamp = datetime.fromisoformat("2012-03-02T10:00:00+01:00").timestamp()
        os.utime(path, (stamp, stamp))
    early = datetime.fromisoformat("2009-06-01T10:00:00+02:00").timestamp()
    os.utime(files[0], (early, early))
    defs = build_definitions(tiny)
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(
        assets,
        partition_key="2012-03-01",
        raise_on_error=False,
        resources={"sansfilm": SansfilmConfig(config_path=str(tiny.config_path))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert not result.success
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    window = evaluations[("staged/stg_dicom_instances", "received_in_harvest_window")]
    assert not window.passed and window.severity == dg.AssetCheckSeverity.ERROR
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    # the dbt models are built in one step, then the contracts run on them: a blocking failure stops the run there
    assert {"staged/stg_dicom_instances", "staged/int_studies"} <= materialized
    assert not materialized & {"marts/usage_monthly", "billing/draft_invoices", "published/warehouse"}
    recorded = {r["name"]: r for r in history.latest(tiny.ledger.url)}
    assert recorded["received_in_harvest_window"]["passed"] is False
    assert recorded["received_in_harvest_window"]["trigger"] == "dagster"


def test_issuing_checks_the_facts_it_prices_metered_afresh(tmp_path):
    """The models changed since the month was last metered (the warehouse's assets built alone in the Dagster UI): the
    issue meters the month again to price it, and its gate checks those facts, not the ones metered before."""
    raw = RawWarehouse(tmp_path)
    good(raw)
    settings = config(raw)
    rules = settings.contracts.dir / RULES_FOLDER  # the programme's own contracts: the defaults and a ceiling
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    (rules / "ceiling.yaml").write_text(
        "tables:\n  marts.fct_usage_daily:\n    - name: stored_bytes_under_a_ceiling\n      severity: error\n"
        "      description: no establishment stores more than 20 kB (this test's archive)\n"
        "      expectation: expect_column_values_to_be_between\n"
        "      kwargs: {column: stored_bytes, min_value: 0, max_value: 20000}\n",
        encoding="utf-8",
    )
    raw.build().close()
    issue_until(settings, Month(2012, 3))
    service.meter(settings, [Month(2012, 3)])  # March 2012 as received, 15 kB at most: every check passes
    con = duckdb.connect(str(settings.warehouse.path))
    try:  # the 5th's instance now ten times larger (50 kB): metered again, March stores more than the ceiling
        fifth = [STUDIES[4]]
        con.execute("update staged.stg_dicom_instances set size_bytes = 50000 where study_instance_uid = ?", fifth)
    finally:
        con.close()
    assert check(settings).exit_code == 0  # the facts as metered before still pass
    issue = runner.invoke(
        app,
        ["--config", str(settings.config_path), "bill", "--month", "2012-03", "--issue", "--issue-date", "2012-04-02"],
    )
    assert issue.exit_code == 2, issue.output
    assert "stored_bytes_under_a_ceiling (marts.fct_usage_daily)" in issue.stderr
    assert "nothing was issued" in issue.stderr
    assert Month(2012, 3) not in Ledger(settings.ledger.url).issued_months()


def test_the_monthly_usage_step_publishes_the_month_only_once_its_checks_pass(tiny):
    """The monthly job's usage step meters a month and runs the checks of the metered facts: a blocking failure keeps
    the readers' copy as it was; once they pass, the copy shows the month."""
    settings, month = tiny, Month(2012, 3)
    stamp = datetime.fromisoformat("2012-03-02T10:00:00+01:00").timestamp()
    for path in (p for p in settings.sources[0].path.rglob("*") if p.is_file()):
        os.utime(path, (stamp, stamp))  # received in March 2012
    operations.harvest(settings)
    operations.build_warehouse(settings)
    rules = settings.contracts.dir / RULES_FOLDER
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    ceiling = rules / "ceiling.yaml"
    ceiling.write_text(  # nothing may be stored: the month's facts break it
        "tables:\n  marts.fct_usage_daily:\n    - name: nothing_stored\n      severity: error\n"
        "      expectation: expect_column_values_to_be_between\n"
        "      kwargs: {column: stored_bytes, min_value: 0, max_value: 0}\n",
        encoding="utf-8",
    )
    published = settings.published_path.read_bytes()

    def materialize() -> dg.ExecuteInProcessResult:  # the definitions as loaded now, with the contracts of now
        (usage,) = (a for a in build_definitions(settings).assets if USAGE_KEY in getattr(a, "keys", ()))
        return dg.materialize(
            [usage],
            partition_key=f"{month}-01",
            raise_on_error=False,
            resources={"sansfilm": SansfilmConfig(config_path=str(settings.config_path))},
            instance=dg.DagsterInstance.ephemeral(),
        )

    failed = materialize()
    (evaluation,) = (e for e in failed.get_asset_check_evaluations() if e.check_name == "nothing_stored")
    assert not evaluation.passed
    assert settings.published_path.read_bytes() == published  # the readers keep the copy they had

    ceiling.unlink()
    passed = materialize()
    assert passed.success
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        (days,) = con.execute("select count(*) from marts.fct_usage_daily where month = ?", [str(month)]).fetchone()
    finally:
        con.close()
    assert days > 0
