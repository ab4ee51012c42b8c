"""Roll-out, regional, operator and data-quality queries (no money here)."""

from __future__ import annotations

import duckdb
import polars as pl

from analytics.reporting.forecast import linear_forecast
from analytics.reporting.scope import Filters, Viewer, as_of, query

DIMENSIONS = ("region", "departement", "modality", "category", "sector", "offer", "establishment")


def rollout_sites(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    return query(con, "rollout_sites", viewer, filters, as_of=as_of(con))


def rollout_summary(sites: pl.DataFrame) -> dict[str, object]:
    """Programme-level lateness from `rollout_sites`."""
    stages = {s: sites.filter(pl.col("stage") == s).height for s in ("signed", "planned", "live", "ended")}
    delays = sites.filter(pl.col("actual_go_live").is_not_null())["delay_days"]
    return {
        **stages,
        "late": sites.filter(pl.col("late")).height,
        "mean_delay_days": float(delays.mean()) if delays.len() else None,
        "median_delay_days": float(delays.median()) if delays.len() else None,
    }


def adoption(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    return query(con, "adoption_monthly", viewer, filters)


def silent_sites(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    return query(con, "silent_sites", viewer, filters, as_of=as_of(con))


def volumes(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters, dimension: str, per_month: bool = True
) -> pl.DataFrame:
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension '{dimension}' (known: {', '.join(DIMENSIONS)})")
    return query(con, "volumes", viewer, filters, dimension=dimension, per_month=per_month)


def trend(monthly: pl.DataFrame) -> pl.DataFrame:
    """Month totals from `volumes` with month-over-month and year-over-year change (suppressed cells left out)."""
    totals = (
        monthly.group_by("month")
        .agg(pl.col("studies").sum())
        .sort("month")
        .with_columns(previous_year=pl.col("month").dt.offset_by("-1y"))
    )
    earlier = totals.select(pl.col("month").alias("previous_year"), pl.col("studies").alias("studies_previous_year"))
    return (
        totals.join(earlier, on="previous_year", how="left")
        .with_columns(mom=pl.col("studies").pct_change(), yoy=pl.col("studies") / pl.col("studies_previous_year") - 1)
        .drop("previous_year")
    )


def sharing(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    return query(con, "sharing_matrix", viewer, filters)


def sharing_departements(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    """The regional matrix: sender département x destination département, community portal or outside."""
    return query(con, "sharing_departements", viewer, filters)


def storage(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters, horizon: int = 12) -> pl.DataFrame:
    """Stored GB at each month end, then `horizon` forecast months with a band (see forecast.py)."""
    viewer.require("operator", "gcs", "establishment")
    history = query(con, "storage_monthly", viewer, filters)
    return linear_forecast(history["month"].to_list(), (history["stored_bytes"] / 1e9).to_list(), horizon)


def ingestion_delay(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    viewer.require("operator", "gcs", "establishment")
    return query(con, "ingestion_delay", viewer, filters)


def service_levels(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    """Measured service levels against the contract's targets (docs/service-levels.md); empty until a month has been
    assessed, which drafting the next month's invoices does."""
    viewer.require("operator", "gcs", "establishment")
    exists = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'marts' and table_name = 'mart_service_levels'"
    ).fetchall()
    if exists[0][0] == 0:
        return pl.DataFrame(
            schema={
                "month": pl.String,
                "establishment_id": pl.String,
                "name": pl.String,
                "offer": pl.String,
                "term": pl.String,
                "unit": pl.String,
                "measured": pl.Float64,
                "target": pl.Float64,
                "breached": pl.Boolean,
                "sample_size": pl.Int64,
                "details": pl.String,
            }
        )
    return query(con, "service_levels", viewer, filters)


def failure_rates(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    viewer.require("operator", "gcs", "establishment")
    return query(con, "failure_rates", viewer, filters)


def busiest_hours(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    viewer.require("operator", "gcs", "establishment")
    return query(con, "busiest_hours", viewer, filters)


def source_freshness(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    viewer.require("operator", "gcs", "finance")  # platform-wide facts, not an establishment's
    return query(con, "source_freshness", viewer, filters)


def quarantine(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    viewer.require("operator", "gcs", "finance")
    return query(con, "quarantine", viewer, filters)


def usage_monthly(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    """Exact usage per month and establishment (text columns, for Decimal); not for ars (establishment level)."""
    viewer.require("gcs", "finance", "operator", "establishment")
    return query(con, "usage_monthly", viewer, filters)


def usage_daily(con: duckdb.DuckDBPyConnection, viewer: Viewer, month: str, establishment_id: str) -> pl.DataFrame:
    viewer.require("gcs", "finance", "operator", "establishment")
    return query(con, "usage_daily", viewer, Filters(establishment=establishment_id), month=month)


def unbilled(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    viewer.require("gcs", "finance", "operator", "establishment")
    return query(con, "unbilled_usage", viewer, filters)
