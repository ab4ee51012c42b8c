"""Roll-out, regional, operator and data-quality queries (no money here)."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import polars as pl

from analytics.reporting import regional
from analytics.reporting.forecast import linear_forecast
from analytics.reporting.scope import Filters, Forbidden, Viewer, as_of, query

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


def live_sites(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    """Every live site with its last study received and the days since (the operator's watch list)."""
    return query(con, "live_sites", viewer, filters, as_of=as_of(con))


def failures_by_site(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    """Audit events and failures per month and establishment (counts; the rate is failures / events)."""
    if viewer.suppresses_small_cells:  # the ARS gets no establishment-level failure figures
        raise Forbidden(f"{viewer.name} ({viewer.role}) may not see failures per establishment")
    return query(con, "failures_by_site", viewer, filters)


def adoption(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    return query(con, "adoption_monthly", viewer, filters)


SILENT_DAYS = 30


def silent_sites(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    """Live sites that sent no study in the 30 days up to the data horizon (`live_sites`, filtered)."""
    horizon = as_of(con)
    quiet = pl.col("last_study_date").is_null() | (pl.col("last_study_date") < horizon - timedelta(days=SILENT_DAYS))
    return (
        live_sites(con, viewer, filters)
        .filter(quiet)
        .select("establishment_id", "name", "actual_go_live", "last_study_date", "days_silent")
    )


def volumes(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters, dimension: str, per_month: bool = True
) -> pl.DataFrame:
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension '{dimension}' (known: {', '.join(DIMENSIONS)})")
    if not viewer.suppresses_small_cells:
        return query(con, "volumes", viewer, filters, dimension=dimension, per_month=per_month)
    exact = query(con, "volumes", viewer, filters, dimension=dimension, per_month=per_month, suppress=False)
    return regional.suppress_volumes(con, viewer, filters, exact, dimension, per_month)


def trend(monthly: pl.DataFrame) -> pl.DataFrame:
    """Month totals from `volumes` with month-over-month and year-over-year change. A month with a hidden cell has
    no total (null, flagged `suppressed`), never a partial sum; a change is computed only between two published
    months (null otherwise, and null from a month of 0)."""
    hidden = pl.col("suppressed").any() if "suppressed" in monthly.columns else pl.lit(False)
    totals = (
        monthly.group_by("month")
        .agg(studies=pl.when(hidden).then(None).otherwise(pl.col("studies").sum()), suppressed=hidden)
        .sort("month")
    )
    return (
        totals.join(_shifted(totals, "1mo", "studies_previous_month"), on="month", how="left")
        .join(_shifted(totals, "1y", "studies_previous_year"), on="month", how="left")
        .with_columns(mom=_change("studies_previous_month"), yoy=_change("studies_previous_year"))
        .select("month", "studies", "studies_previous_year", "mom", "yoy", "suppressed")
    )


def _shifted(totals: pl.DataFrame, by: str, name: str) -> pl.DataFrame:
    return totals.select(pl.col("month").dt.offset_by(by), pl.col("studies").alias(name))


def _change(previous: str) -> pl.Expr:
    published = pl.col("studies").is_not_null() & pl.col(previous).is_not_null() & (pl.col(previous) > 0)
    return pl.when(published).then(pl.col("studies") / pl.col(previous) - 1).otherwise(None)


def period_total(totals: pl.DataFrame) -> tuple[int | None, int]:
    """(studies over the published months of `trend`, how many months it leaves out because they are hidden); None
    when every month is hidden (a total of nothing is not 0)."""
    hidden = int(totals["suppressed"].sum()) if "suppressed" in totals.columns else 0
    published = totals["studies"].drop_nulls()
    return (int(published.sum()) if published.len() or not hidden else None), hidden


def sharing(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    return query(con, "sharing_matrix", viewer, filters)


def sharing_departements(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    """The regional matrix: sender département x destination département, community portal or outside."""
    if not viewer.suppresses_small_cells:
        return query(con, "sharing_departements", viewer, filters)
    exact = query(con, "sharing_departements", viewer, filters, suppress=False)
    return regional.suppress_shares(con, viewer, filters, exact)


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
