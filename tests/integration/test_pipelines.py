"""The Dagster code location: Definitions load, the whole graph materialises, checks run, logs stay clean."""

from __future__ import annotations

import dagster as dg
import duckdb

from pipelines.definitions import ALL_ASSETS_JOB, build_definitions
from tests.dicom_factory import PATIENT_ID, PATIENT_NAME

EXPECTED_KEYS = {
    "raw/harvest_archive_files",
    "raw/harvest_audit",
    "ref/establishments",
    "staged/stg_study_numbers",
    "staged/stg_dicom_instances",
    "staged/stg_audit_events",
    "staged/stg_audit_studies",
    "staged/int_studies",
    "staged/int_study_owners",
    "staged/int_transfers_between_establishments",
    "marts/dim_establishments",
    "marts/mart_archive_daily",
    "marts/mart_archive_monthly",
    "marts/mart_quarantine",
    "marts/mart_source_freshness",
    "marts/mart_ingestion_delay",
    "marts/mart_reception_hours",
    "marts/mart_audit_outcomes",
    "marts/fct_metered_months",
    "published/warehouse",
    "raw/dicom_instances",
    "raw/audit_events",
    "raw/dicom_deletions",
    "raw/harvest_runs",
    "raw/quarantine",
    "ref/establishment_ae_titles",
    "ref/establishment_aliases",
    "ref/platform_ae_titles",
    "ref/audit_event_types",
    "ref/portal_ae_titles",
}
BILLING_KEYS = {"marts/usage_monthly", "billing/draft_invoices"}


def graph_parents(defs: dg.Definitions, key: str) -> set[dg.AssetKey]:
    return defs.resolve_asset_graph().get(dg.AssetKey(key.split("/"))).parent_keys


def test_definitions_load_from_the_config(tiny, monkeypatch):
    monkeypatch.setenv("SANSFILM_CONFIG", str(tiny.config_path))
    from pipelines import definitions

    defs = definitions.defs() if callable(definitions.defs) else definitions.defs
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert keys == EXPECTED_KEYS | BILLING_KEYS
    graph = defs.resolve_asset_graph()
    # lineage from the dbt project's source() and ref(): harvest -> raw table -> staging -> intermediate -> marts
    assert graph.get(dg.AssetKey(["staged", "stg_dicom_instances"])).parent_keys == {
        dg.AssetKey(["raw", "dicom_instances"]),
        dg.AssetKey(["raw", "dicom_deletions"]),
        dg.AssetKey(["ref", "establishment_ae_titles"]),
        dg.AssetKey(["ref", "establishment_aliases"]),
        dg.AssetKey(["staged", "stg_audit_studies"]),  # receptions the archive
        dg.AssetKey(["staged", "stg_audit_events"]),  # does not give come from the audit logs' first receipts
        dg.AssetKey(["staged", "stg_study_numbers"]),  # the studies' numbers, given from every raw record first
    }
    assert graph.get(dg.AssetKey(["staged", "stg_study_numbers"])).parent_keys == {
        dg.AssetKey(["raw", "dicom_instances"]),
        dg.AssetKey(["raw", "audit_events"]),
    }
    assert graph.get(dg.AssetKey(["staged", "stg_audit_studies"])).parent_keys == {
        dg.AssetKey(["staged", "stg_audit_events"])
    }
    assert graph.get(dg.AssetKey(["raw", "dicom_instances"])).parent_keys == {
        dg.AssetKey(["raw", "harvest_archive_files"])
    }
    assert graph.get(dg.AssetKey(["marts", "mart_archive_monthly"])).parent_keys == {
        dg.AssetKey(["marts", "mart_archive_daily"])
    }
    schedule = defs.resolve_schedule_def("daily_harvest")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "Europe/Paris")
    assert defs.resolve_job_def(ALL_ASSETS_JOB) is not None


def test_materialize_everything_on_the_corpus(tiny):
    defs = build_definitions(tiny)
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(ALL_ASSETS_JOB).execute_in_process(instance=instance)
    assert result.success
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("raw/harvest_archive_files", "files_accounted_for")]
    assert checks[("staged/stg_dicom_instances", "sop_instance_uid_unique")]
    assert checks[("staged/stg_dicom_instances", "instances_attributed")] is False  # the tiny corpus has one
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == EXPECTED_KEYS
    assert tiny.published_path.exists()
    assert graph_parents(defs, "published/warehouse") >= {dg.AssetKey(["marts", "fct_metered_months"])}
    with duckdb.connect(str(tiny.published_path), read_only=True) as con:  # readers get every month metered
        assert con.execute("select count(distinct month) from marts.fct_usage_daily").fetchall()[0][0] > 0
    # nothing patient-identifying in Dagster's event log (messages, metadata, check results)
    records = instance.get_records_for_run(result.run_id).records
    text = "\n".join(str(r.event_log_entry.to_json()) for r in records)
    assert "harvest_archive_files" in text
    for secret in (PATIENT_ID, PATIENT_NAME, PATIENT_NAME.split("^")[0], "DUPONT", "PAT778899"):
        assert secret not in text


def test_materialize_with_dg_materialize_and_a_test_resource(tiny):
    from pipelines.resources import SansfilmConfig

    defs = build_definitions(tiny)
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.partitions_def is None]
    result = dg.materialize(
        assets,
        resources={"sansfilm": SansfilmConfig(config_path=str(tiny.config_path))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    harvest_meta = [
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["raw", "harvest_audit"])
    ]
    assert harvest_meta[0]["records_added"].value == 5


def test_monthly_usage_and_draft_invoices_partition(tiny):
    import os
    from datetime import datetime

    from analytics import warehouse
    from pipelines.billing.assets import DRAFT_JOB

    for path in tiny.sources[0].path.rglob("*"):
        if path.is_file():
            stamp = datetime.fromisoformat("2012-03-05T10:00:00+01:00").timestamp()
            os.utime(path, (stamp, stamp))
    defs = build_definitions(tiny)
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def(ALL_ASSETS_JOB).execute_in_process(instance=instance).success
    draft = defs.resolve_job_def(DRAFT_JOB)
    assert draft.partitions_def.get_first_partition_key() == "2010-04-01"  # the agreement's first month
    result = draft.execute_in_process(instance=instance, partition_key="2012-03-01")
    assert result.success
    drafts = tiny.billing.out_dir / "drafts" / "2012-03" / "invoices.json"
    assert drafts.exists() and '"establishment_id": "750000015"' in drafts.read_text()
    con = warehouse.connect(tiny.published_path, read_only=True)
    try:
        assert (
            con.execute(
                "select count(distinct usage_date) from marts.fct_usage_daily where month = '2012-03'"
            ).fetchone()[0]
            == 31
        )
    finally:
        con.close()
    schedule = defs.resolve_schedule_def("monthly_drafts")
    assert schedule.execution_timezone == "Europe/Paris" and schedule.cron_schedule == "0 6 1 * *"
    assert defs.resolve_job_def("issue_month") is not None  # issuing: a job launched by hand, never scheduled


def test_dagster_definitions_validate_loads_the_dbt_assets(tiny, tmp_path):
    """What `make dev` loads: the code location, the dbt project's manifest and one asset per model."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = {**os.environ, "SANSFILM_CONFIG": str(tiny.config_path), "DAGSTER_HOME": str(home)}
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "pipelines.definitions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All code locations passed validation" in done.stdout + done.stderr
    from pipelines.warehouse.assets import warehouse_models

    assert {k.to_user_string() for k in warehouse_models.keys} >= {"staged/int_studies", "marts/dim_establishments"}
