"""One sensor per Orthanc source: polls the change feed cheaply and launches that source's harvest run.

A tick costs two or three small requests: `/changes?since=<last seen>&limit=200`, `/statistics` and, when a run is
requested, `/changes?last`. A run is requested when a new instance (or a `Deleted` change) appeared in the feed since
the last tick, when the instance count moved (deletions are not in Orthanc 1.10's feed), or when the source's last
run failed; never while one of its runs is queued or in progress. Orthanc's own `Stable*` changes start nothing.
The harvest reads from the cursor committed in the warehouse, so a run that fails loses nothing: the next one starts
where the last commit stopped.
"""

from __future__ import annotations

import json

import dagster as dg

from analytics.config import OrthancSourceConfig, Settings
from analytics.errors import SansfilmError
from pipelines.harvest.assets import source_job_selection

SOURCE_TAG = "sansfilm/source"
POLL_SECONDS = 30
_PROBE_CHANGES = 200
_HARVESTED_CHANGES = frozenset({"NewInstance", "Deleted"})
_IN_FLIGHT = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def harvest_job_name(source: OrthancSourceConfig) -> str:
    return f"harvest_{source.asset_name}"


def build_orthanc_sensor(source: OrthancSourceConfig) -> tuple[dg.SensorDefinition, dg.UnresolvedAssetJobDefinition]:
    job = dg.define_asset_job(
        harvest_job_name(source),
        selection=source_job_selection(source),
        description=f"Harvest Orthanc source '{source.name}', rebuild the warehouse, publish it.",
        # one source, then a chain of models: nothing to fan out, and a run may start every 30 s, so its steps run
        # in one process rather than paying a process start (~6 CPU-s, docs/scaling.md) each
        executor_def=dg.in_process_executor,
    )
    probe = source.model_copy(update={"retries": 0})  # a tick is cheap and frequent: no retry, the next tick is one

    @dg.sensor(
        name=f"orthanc_{source.asset_name}_changes",
        job=job,
        minimum_interval_seconds=POLL_SECONDS,
        description=f"Polls the change feed of '{source.name}' and launches its harvest when the archive changed.",
    )
    def _changes(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        from analytics.orthanc.client import OrthancClient

        seen = json.loads(context.cursor) if context.cursor else {"last": 0, "instances": 0}
        runs = context.instance.get_runs(filters=dg.RunsFilter(tags={SOURCE_TAG: source.name}), limit=1)
        if runs and runs[0].status in _IN_FLIGHT:
            return dg.SensorResult(skip_reason=f"a harvest of '{source.name}' is running", cursor=context.cursor)
        failed = bool(runs) and runs[0].status == dg.DagsterRunStatus.FAILURE
        try:
            with OrthancClient(probe) as client:
                page = client.changes(seen["last"], _PROBE_CHANGES)
                arrived = any(c.change_type in _HARVESTED_CHANGES for c in page.changes)
                now = {
                    "last": max([c.seq for c in page.changes], default=seen["last"]),
                    "instances": client.instance_count(),
                }
                if not (arrived or failed or now["instances"] != seen["instances"]):
                    return dg.SensorResult(
                        skip_reason=f"no new instance in '{source.name}' up to change {now['last']}",
                        cursor=json.dumps(now),
                    )
                now["last"] = max(now["last"], client.last_change())  # the run reads everything up to here
        except SansfilmError as exc:  # names the source, never the credentials
            return dg.SensorResult(skip_reason=str(exc), cursor=context.cursor)
        tags = {SOURCE_TAG: source.name, "sansfilm/orthanc_last_change": str(now["last"])}
        return dg.SensorResult(run_requests=[dg.RunRequest(tags=tags)], cursor=json.dumps(now))

    return _changes, job


def build_orthanc_sensors(settings: Settings) -> tuple[list[dg.SensorDefinition], list]:
    """Sensors and their jobs, only for the configured Orthanc sources (none: nothing to register)."""
    built = [build_orthanc_sensor(s) for s in settings.sources if isinstance(s, OrthancSourceConfig)]
    return [sensor for sensor, _ in built], [job for _, job in built]
