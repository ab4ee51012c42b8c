"""The programme office's view of the roll-out, from `rollout_sites`: how late each site is (with a tolerance), the
S-curve of sites live vs planned, the programme's slip against its initial plan, and how long deployments take.

The planned go-live of the registry is the initial plan (the registry keeps one planned date per site).
"""

from __future__ import annotations

from datetime import date

import polars as pl

ON_TIME, LATE, VERY_LATE = "à l'heure (dans la tolérance)", "en retard", "très en retard"
NOT_DUE = "pas encore prévu"
DAYS_PER_MONTH = 365.25 / 12


def lateness(sites: pl.DataFrame, tolerance_days: int, very_late_days: int) -> pl.DataFrame:
    """Each site with its lateness class (a go-live up to `tolerance_days` after plan is on time; beyond
    `very_late_days`, very late; a site not live past its planned date counts its days so far), latest first."""
    delay = pl.col("delay_days")
    return sites.with_columns(
        lateness=pl.when(delay.is_null())
        .then(pl.lit(NOT_DUE))
        .when(delay <= tolerance_days)
        .then(pl.lit(ON_TIME))
        .when(delay <= very_late_days)
        .then(pl.lit(LATE))
        .otherwise(pl.lit(VERY_LATE))
    ).sort("delay_days", "name", descending=[True, False], nulls_last=True)


def _month_ends(first: date, last: date) -> list[date]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def s_curve(sites: pl.DataFrame, as_of: date, by: str | None = None) -> pl.DataFrame:
    """Per month (first day) and group: sites planned to be live by the month's end, and sites live by then (up to
    `as_of`: the future has no actual). Columns: month, group, planned, live."""
    dated = sites.filter(pl.col("planned_go_live").is_not_null() | pl.col("actual_go_live").is_not_null())
    if dated.is_empty():
        return pl.DataFrame(schema={"month": pl.Date, "group": pl.String, "planned": pl.Int64, "live": pl.Int64})
    days = [d for d in (*dated["planned_go_live"], *dated["actual_go_live"]) if d is not None]
    months = pl.DataFrame({"month": _month_ends(min(days), max(max(days), as_of))})
    groups = dated.with_columns(group=pl.col(by).cast(pl.String) if by else pl.lit("programme"))
    end = pl.col("month").dt.month_end()
    return (
        months.join(groups.select("group", "planned_go_live", "actual_go_live"), how="cross")
        .group_by("month", "group")
        .agg(
            planned=(pl.col("planned_go_live") <= end).sum().cast(pl.Int64),
            live=(pl.col("actual_go_live") <= pl.min_horizontal(end, pl.lit(as_of))).sum().cast(pl.Int64),
        )
        .with_columns(live=pl.when(pl.col("month") <= as_of).then(pl.col("live")))
        .sort("group", "month")
    )


def programme_slip(sites: pl.DataFrame, as_of: date) -> dict[str, float | int | None]:
    """How far the programme is behind its initial plan, in months (0 when on or ahead of it): the horizontal
    distance between the planned and the actual S-curves. The n-th site went live so long after the plan expected
    n sites live; and the next site the plan expected by `as_of` is that long overdue. The larger of the two."""
    actual = sorted(d for d in sites["actual_go_live"] if d is not None and d <= as_of)
    planned = sorted(d for d in sites["planned_go_live"] if d is not None)
    live, planned_now = len(actual), sum(1 for d in planned if d <= as_of)
    lags = [0]
    if 0 < live <= len(planned):
        lags.append((actual[live - 1] - planned[live - 1]).days)  # today's count reached that late
    if planned_now > live:
        lags.append((as_of - planned[live]).days)  # the next site planned is overdue by this much
    return {"live": live, "planned": planned_now, "slip_months": round(max(lags) / DAYS_PER_MONTH, 1)}


def deployment_durations(sites: pl.DataFrame) -> pl.DataFrame:
    """Months from adhesion to go-live per live (or ended) site, with its offer: the distribution per offer."""
    return (
        sites.filter(pl.col("actual_go_live").is_not_null() & pl.col("adhesion_date").is_not_null())
        .select(
            "establishment_id",
            "name",
            "offer",
            months=((pl.col("actual_go_live") - pl.col("adhesion_date")).dt.total_days() / DAYS_PER_MONTH).round(1),
        )
        .sort("offer", "months")
    )
