"""Each contract service level against its target, month by month, in the contract's own unit (minutes for the
ingestion delay, % for availability and retrieval failures): the worst site and the median site."""

from __future__ import annotations

import polars as pl

HIGHER_IS_BETTER = frozenset({"availability"})


def against_target(levels: pl.DataFrame) -> pl.DataFrame:
    """Per month and term: target, unit, the median and the worst measured level across sites, and how many sites
    missed it. Columns: month, term, unit, target, median, worst, missed, sites."""
    if levels.is_empty():
        return pl.DataFrame(
            schema={
                "month": pl.String,
                "term": pl.String,
                "unit": pl.String,
                "target": pl.Float64,
                "median": pl.Float64,
                "worst": pl.Float64,
                "missed": pl.UInt32,
                "sites": pl.UInt32,
            }
        )
    measured = pl.col("measured")
    return (
        levels.group_by("month", "term")
        .agg(
            pl.col("unit").first(),
            pl.col("target").first(),
            median=measured.median(),
            worst=pl.when(pl.col("term").first().is_in(list(HIGHER_IS_BETTER)))
            .then(measured.min())
            .otherwise(measured.max()),
            missed=pl.col("breached").sum().cast(pl.UInt32),
            sites=pl.len().cast(pl.UInt32),
        )
        .sort("term", "month")
    )
