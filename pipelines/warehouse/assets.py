"""Reference tables, one asset per SQL model (dependencies read from the SQL itself), every month metered, and the
published copy."""

import re

import dagster as dg

from analytics import operations, warehouse
from analytics.config import Settings
from analytics.quality import runner
from pipelines.harvest.assets import harvest_asset_key
from pipelines.quality.checks import check_results, check_specs
from pipelines.resources import SansfilmConfig

REFERENCE_KEY = dg.AssetKey(["ref", "establishments"])
PUBLISHED_KEY = dg.AssetKey(["published", "warehouse"])
METERED_KEY = dg.AssetKey(["marts", "fct_metered_months"])
_RAW_TABLE_KINDS = {
    "dicom_instances": ("dicom_files", "orthanc"),
    "audit_events": ("audit_syslog",),
    "dicom_deletions": ("orthanc",),
}
_TABLE_REF = re.compile(r"\b(raw|ref|staged|marts)\.(\w+)")


def model_deps(schema: str, name: str, settings: Settings) -> list[dg.AssetKey]:
    """Upstream assets of a model: the tables its SQL reads, mapped to the assets that write them."""
    deps: list[dg.AssetKey] = []
    for ref_schema, table in _TABLE_REF.findall(warehouse.model_sql(schema, name)):
        if ref_schema == "raw":
            keys = [harvest_asset_key(s) for s in settings.sources if s.kind in _RAW_TABLE_KINDS.get(table, ())]
        elif ref_schema == "ref":
            keys = [REFERENCE_KEY]
        else:
            keys = [dg.AssetKey([ref_schema, table])]
        deps.extend(k for k in keys if k not in deps)
    return deps


@dg.asset(
    key=REFERENCE_KEY,
    group_name="contracts",
    kinds={"duckdb", "csv"},
    description="The establishment registry and platform AE titles, reloaded from contracts/.",
)
def reference_tables(context: dg.AssetExecutionContext, sansfilm: SansfilmConfig) -> dg.MaterializeResult:
    settings = sansfilm.settings()
    registry = operations.load_contracts(settings)
    with warehouse.open_warehouse(settings.warehouse.path) as con:
        warehouse.load_reference(con, registry, settings.archive.ae_titles)
    return dg.MaterializeResult(metadata={"establishments": len(registry.establishments)})


def build_model_asset(schema: str, name: str, settings: Settings) -> dg.AssetsDefinition:
    key = dg.AssetKey([schema, name])
    table = f"{schema}.{name}"

    @dg.asset(
        key=key,
        deps=model_deps(schema, name, settings),
        group_name="warehouse",
        kinds={"duckdb", "sql"},
        description=warehouse.model_sql(schema, name).splitlines()[0].lstrip("- "),
        check_specs=check_specs(settings, [table], key),
    )
    def _model(context: dg.AssetExecutionContext, sansfilm: SansfilmConfig) -> dg.MaterializeResult:
        settings = sansfilm.settings()
        with warehouse.open_warehouse(settings.warehouse.path) as con:
            rows = warehouse.build_models(con, [(schema, name)])[table]
            results = check_results(context, settings, [table], con)
        return dg.MaterializeResult(metadata={"dagster/row_count": rows}, check_results=results)

    return _model


def build_metering_asset(settings: Settings) -> dg.AssetsDefinition:
    metered_tables = list(runner.METERED)

    @dg.asset(
        key=METERED_KEY,
        deps=[dg.AssetKey(list(m)) for m in warehouse.MODELS] + [REFERENCE_KEY],
        group_name="warehouse",
        kinds={"duckdb", "sql"},
        description="Every month with data metered into marts.fct_usage_daily (the current Paris month as month to "
        "date), and the draft invoices of each finished month of the agreement.",
        check_specs=check_specs(settings, metered_tables, METERED_KEY),
    )
    def metered_months(context: dg.AssetExecutionContext, sansfilm: SansfilmConfig) -> dg.MaterializeResult:
        settings = sansfilm.settings()
        metered = operations.meter_and_draft(settings)
        with warehouse.open_warehouse(settings.warehouse.path) as con:
            results = check_results(context, settings, metered_tables, con)
        return dg.MaterializeResult(
            metadata={
                "months": dg.MetadataValue.json([str(m) for m in metered.months]),
                "month_to_date": str(metered.month_to_date or "none"),
                "drafted": dg.MetadataValue.json(
                    {str(m): {"invoices": n, "net": str(net)} for m, (n, net) in sorted(metered.drafted.items())}
                ),
                "future": dg.MetadataValue.json([str(m) for m in metered.future]),
            },
            check_results=results,
        )

    return metered_months


def build_warehouse_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    models = [build_model_asset(schema, name, settings) for schema, name in warehouse.MODELS]

    @dg.asset(
        key=PUBLISHED_KEY,
        deps=[dg.AssetKey(list(m)) for m in warehouse.MODELS] + [REFERENCE_KEY, METERED_KEY],
        group_name="warehouse",
        kinds={"duckdb"},
        description="Read-only copy of ref, staged and marts for dashboards and notebooks, swapped in atomically.",
    )
    def published_warehouse(sansfilm: SansfilmConfig) -> dg.MaterializeResult:
        settings = sansfilm.settings()
        with warehouse.open_warehouse(settings.warehouse.path) as con:
            path = warehouse.publish(con, settings.published_path)
        return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path))})

    return [reference_tables, *models, build_metering_asset(settings), published_warehouse]
