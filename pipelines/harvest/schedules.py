"""One schedule per archive queried through the standards (dicomweb, dimse): they have no change feed to watch.

Every hour, the source's job (its harvest, then the warehouse and its publication) re-asks the recent StudyDate
windows; a run that fails loses nothing, the next one starts again from the cursor committed in the warehouse.
"""

from __future__ import annotations

import dagster as dg

from analytics.config import DicomwebSourceConfig, DimseSourceConfig, Settings
from pipelines.harvest.assets import source_job_selection

CRON = "20 * * * *"  # hourly, off the nightly 02:00 full run's minute


def build_pacs_schedule(
    source: DicomwebSourceConfig | DimseSourceConfig,
) -> tuple[dg.ScheduleDefinition, dg.UnresolvedAssetJobDefinition]:
    job = dg.define_asset_job(
        f"harvest_{source.asset_name}",
        selection=source_job_selection(source),
        description=f"Harvest {source.kind} source '{source.name}', rebuild the warehouse, publish it.",
        executor_def=dg.in_process_executor,  # one source, then a chain of models: nothing to fan out
    )
    schedule = dg.ScheduleDefinition(
        name=f"{source.kind}_{source.asset_name}_hourly",
        job=job,
        cron_schedule=CRON,
        execution_timezone="Europe/Paris",
        description=f"Every hour: ask '{source.name}' for the studies of its recent StudyDate windows.",
    )
    return schedule, job


def build_pacs_schedules(settings: Settings) -> tuple[list[dg.ScheduleDefinition], list]:
    pacs = [s for s in settings.sources if isinstance(s, (DicomwebSourceConfig, DimseSourceConfig))]
    built = [build_pacs_schedule(s) for s in pacs]
    return [schedule for schedule, _ in built], [job for _, job in built]
