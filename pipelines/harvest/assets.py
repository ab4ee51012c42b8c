"""One harvest asset per configured source: `raw/harvest_<source>`."""

import dagster as dg

from analytics import operations, warehouse
from analytics.config import AnySourceConfig, Settings
from pipelines.quality.checks import check_results, check_specs
from pipelines.resources import SansfilmConfig

_KINDS = {"dicom_files": "dicom", "orthanc": "orthanc", "dicomweb": "dicom", "dimse": "dicom"}  # Dagster UI badges
RUNS_TABLE = "raw.harvest_runs"  # its contract (files seen = parsed + unchanged + quarantined) is checked here


def harvest_asset_key(source: AnySourceConfig) -> dg.AssetKey:
    return dg.AssetKey(["raw", f"harvest_{source.asset_name}"])


def source_job_selection(source: AnySourceConfig) -> dg.AssetSelection:
    """A source's own job: its harvest, then the whole warehouse (the registry reloaded, every model built
    incrementally, the contracts, the metering, the publication). Not only what follows the source: a subset of the
    dbt models would be rebuilt whole, and the multi-assets (raw tables, contracts) are not split."""
    return dg.AssetSelection.assets(harvest_asset_key(source)) | dg.AssetSelection.groups("contracts", "warehouse")


def build_harvest_asset(source: AnySourceConfig, settings: Settings) -> dg.AssetsDefinition:
    key = harvest_asset_key(source)

    @dg.asset(
        key=key,
        group_name="harvest",
        kinds={"duckdb", _KINDS.get(source.kind, "syslog")},
        description=f"Incremental harvest of source '{source.name}' ({source.kind}) into the raw layer.",
        check_specs=check_specs(settings, [RUNS_TABLE], key),
    )
    def _harvest(context: dg.AssetExecutionContext, sansfilm: SansfilmConfig) -> dg.MaterializeResult:
        settings = sansfilm.settings()
        (report,) = operations.harvest(settings, [source.name], concurrent=True)  # other steps may harvest
        context.log.info(f"{source.name}: {report.to_dict()}")  # counts only: no record content is ever logged
        with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
            results = check_results(context, settings, [RUNS_TABLE], con)
        return dg.MaterializeResult(
            metadata={k: v for k, v in report.to_dict().items() if isinstance(v, int)}, check_results=results
        )

    return _harvest


def build_harvest_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    return [build_harvest_asset(source, settings) for source in settings.sources]
