"""The committed production example (deploy/): it loads, and Dagster keeps its runs and events in PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import make_url

from analytics.config import OrthancSourceConfig, load_settings
from pipelines.definitions import build_definitions
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_example_configuration_is_valid_and_holds_no_secret():
    settings = load_settings(DEPLOY / "sansfilm.toml")
    assert settings.lake is not None and settings.ledger.url.startswith("postgresql+psycopg://")
    assert make_url(settings.ledger.url).password is None  # from PGPASSWORD, never from the file
    assert not settings.privacy.allow_development_key
    assert any(isinstance(s, OrthancSourceConfig) for s in settings.sources)
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "pipelines.definitions"


def test_dagster_instance_keeps_runs_and_events_in_postgresql(
    postgres_database,
    tiny,
    tmp_path,
    monkeypatch,  # noqa: F811
):
    url = make_url(postgres_database())
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    variables = {
        "DAGSTER_PG_HOST": url.host,
        "DAGSTER_PG_PORT": str(url.port),
        "DAGSTER_PG_DB": url.database,
        "DAGSTER_PG_USER": url.username,
        "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    job = dg.define_asset_job("harvest_sources", selection=dg.AssetSelection.groups("harvest"))
    defs = dg.Definitions.merge(build_definitions(tiny), dg.Definitions(jobs=[job]))
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        result = defs.resolve_job_def("harvest_sources").execute_in_process(instance=instance)
        assert result.success

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("select status from runs where run_id = :r"), {"r": result.run_id}).all()
            events = conn.execute(
                sa.text("select count(*) from event_logs where run_id = :r and dagster_event_type = :t"),
                {"r": result.run_id, "t": "ASSET_MATERIALIZATION"},
            ).scalar_one()
    finally:
        engine.dispose()
    assert runs == [("SUCCESS",)]
    assert events == len(tiny.sources)  # one materialisation per harvested source, stored in PostgreSQL
