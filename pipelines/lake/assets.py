"""The open lake: one asset, written after the warehouse is built and published (only with a `[lake]` section)."""

import dagster as dg

from analytics import lake, operations
from analytics.config import Settings
from pipelines.resources import SansfilmConfig
from pipelines.warehouse.assets import PUBLISHED_KEY

LAKE_KEY = dg.AssetKey(["lake", "parquet"])


def build_lake_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    if settings.lake is None:
        return []

    @dg.asset(
        key=LAKE_KEY,
        deps=[PUBLISHED_KEY, *(dg.AssetKey([t.schema, t.name]) for t in lake.TABLES if t.schema != "raw")],
        group_name="warehouse",
        kinds={"parquet"},
        description="The raw and staged layers as Hive-partitioned Parquet (source, Paris month) for Spark, Trino, "
        "DuckDB; rewritten incrementally, each table swapped in atomically.",
    )
    def lake_parquet(sansfilm: SansfilmConfig) -> dg.MaterializeResult:
        report = operations.write_lake(sansfilm.settings())
        tables = report["tables"]
        return dg.MaterializeResult(
            metadata={
                "root": dg.MetadataValue.path(report["root"]),
                "rows": sum(t["rows"] for t in tables),
                "partitions": sum(t["partitions"] for t in tables),
                "partitions_written": sum(t["partitions_written"] for t in tables),
            }
        )

    return [lake_parquet]
