"""The Dagster code location: `dagster dev` at the repo root loads `defs` from here ([tool.dagster] in pyproject).

The asset graph follows the configuration (one harvest asset per source), so the config is read at load: a broken
config fails here with the same message the CLI gives.
"""

from __future__ import annotations

import dagster as dg

from analytics.billing.contracts import load_contracts
from analytics.config import Settings, load_settings
from pipelines.alerts.sensors import build_alerts_sensor
from pipelines.billing.assets import build_billing_definitions
from pipelines.harvest.assets import build_harvest_assets
from pipelines.harvest.schedules import build_pacs_schedules
from pipelines.harvest.sensors import build_orthanc_sensors
from pipelines.lake.assets import build_lake_assets
from pipelines.resources import SansfilmConfig
from pipelines.warehouse.assets import build_warehouse_assets

ALL_ASSETS_JOB = "sansfilm_all"


def build_definitions(settings: Settings) -> dg.Definitions:
    contracts = load_contracts(settings)  # broken contracts fail here, with file, line and field
    billing_assets, billing_jobs, billing_schedules = build_billing_definitions(settings, contracts.tariff.valid_from)
    assets = [
        *build_harvest_assets(settings),
        *build_warehouse_assets(settings),
        *build_lake_assets(settings),
        *billing_assets,
    ]
    everything = dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.all() - dg.AssetSelection.groups("billing"),
        description="Harvest every source, rebuild the warehouse, meter every month, draft the finished ones, publish.",
    )
    daily = dg.ScheduleDefinition(
        name="daily_harvest",
        job=everything,
        cron_schedule="0 2 * * *",
        execution_timezone="Europe/Paris",
        description="Every night at 02:00 Paris time: harvest what the archive received and logged.",
    )
    orthanc_sensors, orthanc_jobs = build_orthanc_sensors(settings)  # only when an orthanc source is configured
    pacs_schedules, pacs_jobs = build_pacs_schedules(settings)  # one per dicomweb / dimse source
    return dg.Definitions(
        assets=assets,
        jobs=[everything, *billing_jobs, *orthanc_jobs, *pacs_jobs],
        schedules=[daily, *billing_schedules, *pacs_schedules],
        sensors=[*orthanc_sensors, build_alerts_sensor(settings)],
        resources={"sansfilm": SansfilmConfig(config_path=str(settings.config_path))},
        # One process per step, as many at once as cores: the harvests of several sources run side by side, each
        # taking the warehouse (DuckDB: one writing process at a time) for one batch at a time; see docs/deploy.md.
        executor=dg.multiprocess_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Built when Dagster loads the code location, from --config / $SANSFILM_CONFIG / ./sansfilm.toml."""
    return build_definitions(load_settings())
