"""Reference tables, the raw tables the harvests feed, the dbt models (one asset each, lineage from the project's
ref()/source()), the data contracts on them as asset checks, every month metered, and the published copy."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from analytics import dbt_build, operations, warehouse
from analytics.config import Settings
from analytics.quality import runner
from pipelines.harvest.assets import harvest_asset_key
from pipelines.quality.checks import check_results, check_specs
from pipelines.resources import SansfilmConfig

PUBLISHED_KEY = dg.AssetKey(["published", "warehouse"])
METERED_KEY = dg.AssetKey(["marts", "fct_metered_months"])
REFERENCE_KEYS = [dg.AssetKey(["ref", table]) for table in warehouse.REFERENCE_TABLES]
MODEL_KEYS = [dg.AssetKey([schema, name]) for schema, name in dbt_build.models()]
# raw table -> the source kinds whose harvests write it (every harvest writes its runs and quarantine)
RAW_TABLES = {
    "dicom_instances": ("dicom_files", "orthanc"),
    "audit_events": ("audit_syslog",),
    "dicom_deletions": ("orthanc",),
    "harvest_runs": None,
    "quarantine": None,
}


class WarehouseTranslator(DagsterDbtTranslator):
    """Asset keys as the warehouse names tables, `[schema, table]`: sources are the raw and reference tables'
    assets, models their own."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return "warehouse"


TRANSLATOR = WarehouseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=False))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["ref", table],
            group_name="contracts",
            kinds={"duckdb", "csv"},
            description=f"ref.{table}, reloaded from contracts/ (the registry, platform AE titles).",
        )
        for table in warehouse.REFERENCE_TABLES
    ],
    name="reference_tables",
)
def reference_tables(sansfilm: SansfilmConfig) -> Iterator[dg.MaterializeResult]:
    settings = sansfilm.settings()
    registry = operations.load_contracts(settings)
    with operations.referenced_warehouse(settings, registry) as con:
        for table in warehouse.REFERENCE_TABLES:
            rows = con.execute(f"select count(*) from ref.{table}").fetchone()[0]
            yield dg.MaterializeResult(asset_key=["ref", table], metadata={"dagster/row_count": rows})


def build_raw_tables_asset(settings: Settings) -> dg.AssetsDefinition:
    """The raw tables as assets of their own (the dbt sources), counted once every harvest that feeds them ran."""
    specs = []
    for table, kinds in RAW_TABLES.items():
        feeds = [harvest_asset_key(s) for s in settings.sources if kinds is None or s.kind in kinds]
        specs.append(
            dg.AssetSpec(
                ["raw", table],
                deps=feeds,
                group_name="warehouse",
                kinds={"duckdb"},
                description=f"raw.{table}, as the harvests left it.",
            )
        )

    @dg.multi_asset(specs=specs, name="raw_tables")
    def raw_tables(sansfilm: SansfilmConfig) -> Iterator[dg.MaterializeResult]:
        settings = sansfilm.settings()
        with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
            for table in RAW_TABLES:
                rows = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
                yield dg.MaterializeResult(asset_key=["raw", table], metadata={"dagster/row_count": rows})

    return raw_tables


@dbt_assets(manifest=dbt_build.prepare_manifest(), dagster_dbt_translator=TRANSLATOR, name="warehouse_models")
def warehouse_models(context: dg.AssetExecutionContext, sansfilm: SansfilmConfig) -> Iterator[dg.MaterializeResult]:
    """`dbt build` of the selected models (and their structural tests), in this process: incremental when every
    model is selected, else the selected models rebuilt whole."""
    settings = sansfilm.settings()
    names = {key.path[-1]: key for key in context.selected_asset_keys}
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
        whole = set(names) >= {name for _, name in dbt_build.models()}  # the whole project: incremental
        counts = dbt_build.build(con, None if whole else sorted(names))
    for table, rows in counts.items():
        yield dg.MaterializeResult(asset_key=names[table.split(".")[1]], metadata={"dagster/row_count": rows})


def build_contract_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    """The data contracts (contracts/data_quality/) of the model tables, run after the build as asset checks."""
    tables = [f"{schema}.{name}" for schema, name in dbt_build.models()]
    specs = [spec for t in tables for spec in check_specs(settings, [t], dg.AssetKey(t.split(".")))]
    if not specs:
        return []

    # subsettable: a job of one source's harvest and what follows it selects the checks of the models downstream of
    # that source only (not, say, dim_establishments', which follows the registry)
    @dg.multi_asset_check(specs=specs, name="warehouse_contracts", can_subset=True)
    def warehouse_contracts(
        context: dg.AssetCheckExecutionContext, sansfilm: SansfilmConfig
    ) -> Iterator[dg.AssetCheckResult]:
        settings = sansfilm.settings()
        selected = context.selected_asset_check_keys
        with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
            for table in tables:
                key = dg.AssetKey(table.split("."))
                if any(check.asset_key == key for check in selected):
                    for result in check_results(context, settings, [table], con, key):
                        if dg.AssetCheckKey(key, result.check_name) in selected:
                            yield result

    return [warehouse_contracts]


def build_metering_asset(settings: Settings) -> dg.AssetsDefinition:
    metered_tables = list(runner.METERED)

    @dg.asset(
        key=METERED_KEY,
        deps=[*MODEL_KEYS, *REFERENCE_KEYS],
        group_name="warehouse",
        kinds={"duckdb", "sql"},
        description="Every month with data metered into marts.fct_usage_daily (the current Paris month as month to "
        "date), and the draft invoices of each finished month of the agreement.",
        check_specs=check_specs(settings, metered_tables, METERED_KEY),
    )
    def metered_months(context: dg.AssetExecutionContext, sansfilm: SansfilmConfig) -> dg.MaterializeResult:
        settings = sansfilm.settings()
        metered = operations.meter_and_draft(settings)
        with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
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


def build_warehouse_assets(settings: Settings) -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    @dg.asset(
        key=PUBLISHED_KEY,
        deps=[*MODEL_KEYS, *REFERENCE_KEYS, METERED_KEY],
        group_name="warehouse",
        kinds={"duckdb"},
        description="Read-only copy of ref, staged and marts for dashboards and notebooks, swapped in atomically.",
    )
    def published_warehouse(sansfilm: SansfilmConfig) -> dg.MaterializeResult:
        path = operations.publish(sansfilm.settings())
        return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(path)})

    return [
        reference_tables,
        build_raw_tables_asset(settings),
        warehouse_models,
        *build_contract_checks(settings),
        build_metering_asset(settings),
        published_warehouse,
    ]
