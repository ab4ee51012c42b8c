"""One harvest asset per configured source: `raw/harvest_<source>`."""

import dagster as dg

from analytics import operations
from analytics.config import Settings, SourceConfig
from pipelines.resources import SansfilmConfig

ACCOUNTED = "files_accounted_for"


def harvest_asset_key(source: SourceConfig) -> dg.AssetKey:
    return dg.AssetKey(["raw", f"harvest_{source.asset_name}"])


def build_harvest_asset(source: SourceConfig) -> dg.AssetsDefinition:
    key = harvest_asset_key(source)

    @dg.asset(
        key=key,
        group_name="harvest",
        kinds={"duckdb", {"dicom_files": "dicom", "orthanc": "orthanc"}.get(source.kind, "syslog")},
        description=f"Incremental harvest of source '{source.name}' ({source.kind}) into the raw layer.",
        check_specs=[dg.AssetCheckSpec(ACCOUNTED, asset=key, description="files seen = parsed + unchanged + quarantined")],
    )
    def _harvest(context: dg.AssetExecutionContext, sansfilm: SansfilmConfig) -> dg.MaterializeResult:
        (report,) = operations.harvest(sansfilm.settings(), [source.name], concurrent=True)  # other steps may harvest
        context.log.info(f"{source.name}: {report.to_dict()}")  # counts only: no record content is ever logged
        accounted = report.files_parsed + report.files_unchanged + report.files_quarantined
        return dg.MaterializeResult(
            metadata={k: v for k, v in report.to_dict().items() if isinstance(v, int)},
            check_results=[
                dg.AssetCheckResult(
                    check_name=ACCOUNTED,
                    passed=accounted == report.files_seen,
                    metadata={"files_seen": report.files_seen, "accounted": accounted},
                )
            ],
        )

    return _harvest


def build_harvest_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    return [build_harvest_asset(source) for source in settings.sources]
