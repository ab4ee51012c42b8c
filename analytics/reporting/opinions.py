"""Tele-opinions for the dashboards: the pilot pairs' requests, scoped to the viewer, and the page's figures.

Who sees what: `gcs` every pair (narrowed by the shared filters: a pair is kept when either side passes them); an
establishment viewer the pairs it asks or answers in (the `scoped` CTE binds its own FINESS, matched on either
side), so an establishment outside the pilot gets no row. Every other role gets `Forbidden`: `ars` (a pilot's
monthly counts per pair are small cells of two named establishments), `finance` (what the pilot costs is billed as
the `opinions` metrics on the invoices it already sees; the settlement between establishments is theirs,
`sansfilm opinions --statement`), `operator` (no operational use of the figures).

The figures per month and pair are those of `sansfilm opinions --month M` (the same `summarise`); no study UID or
audit record key leaves the query, for any role.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import polars as pl

from analytics.opinions.facts import TABLE, summarise
from analytics.opinions.pairs import OpinionPair
from analytics.opinions.rules import ANSWERED, PENDING, UNANSWERED, percentile_minutes
from analytics.reporting.scope import Filters, Viewer, query
from analytics.warehouse import table_exists

ROLES = ("gcs", "establishment")
DAY, ON_CALL = "day", "on_call"
PAIR = ["month", "requester_id", "requester", "responder_id", "responder"]
TURNAROUND = {"turnaround_p50_minutes": pl.Int64, "turnaround_p90_minutes": pl.Int64}
PERIOD = pl.when(pl.col("on_call")).then(pl.lit(ON_CALL)).otherwise(pl.lit(DAY))  # a request's period
REQUESTS_SCHEMA = {
    **dict.fromkeys(PAIR, pl.String),
    "requested_at": pl.Datetime("us", "Europe/Paris"),
    "responded_at": pl.Datetime("us", "Europe/Paris"),
    "on_call": pl.Boolean,
    "status": pl.String,
    "turnaround_seconds": pl.Int64,
}


def pilot_members(pairs: Iterable[OpinionPair]) -> frozenset[str]:
    """The establishments of the pilot: every requester and responder of contracts/opinion_pairs.csv."""
    return frozenset(finess for pair in pairs for finess in (pair.requester, pair.responder))


def requests(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    """Every request of the period in the viewer's pairs, in (month, requester, responder, time) order."""
    viewer.require(*ROLES)
    if not table_exists(con, TABLE):  # a warehouse published before tele-opinions
        return pl.DataFrame(schema=REQUESTS_SCHEMA)
    frame = query(con, "opinion_requests", viewer, filters)
    return frame.with_columns(pl.col("requested_at", "responded_at").dt.convert_time_zone("Europe/Paris")).cast(
        REQUESTS_SCHEMA
    )


def pair_months(asked: pl.DataFrame) -> pl.DataFrame:
    """Per month and pair: requests, answered, unanswered, pending, on call, the answered share (of the requests
    decided: answered / (answered + unanswered), pending ones wait) and the turnaround percentiles, as
    `sansfilm opinions` computes them."""
    rows = []
    for key, group in asked.group_by(PAIR, maintain_order=True):
        figures = summarise(key[1], key[3], list(group.select("status", "on_call", "turnaround_seconds").iter_rows()))
        decided = figures.answered + figures.unanswered
        rows.append(
            {
                **dict(zip(PAIR, key, strict=True)),
                "requests": figures.requests,
                "answered": figures.answered,
                "unanswered": figures.unanswered,
                "pending": int((group["status"] == PENDING).sum()),
                "on_call": figures.on_call,
                "answered_share": figures.answered / decided if decided else None,
                "turnaround_p50_minutes": figures.turnaround_p50_minutes,
                "turnaround_p90_minutes": figures.turnaround_p90_minutes,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            **dict.fromkeys(PAIR, pl.String),
            **dict.fromkeys(("requests", "answered", "unanswered", "pending", "on_call"), pl.Int64),
            "answered_share": pl.Float64,
            **TURNAROUND,
        },
    )


def totals(asked: pl.DataFrame) -> dict[str, int | float | None]:
    """The period's counters: requests, answered, unanswered, pending and the answered share of the decided ones."""
    counts = {s: int((asked["status"] == s).sum()) for s in (ANSWERED, UNANSWERED, PENDING)}
    decided = counts[ANSWERED] + counts[UNANSWERED]
    return {
        "requests": asked.height,
        "answered": counts[ANSWERED],
        "unanswered": counts[UNANSWERED],
        "pending": counts[PENDING],
        "answered_share": counts[ANSWERED] / decided if decided else None,
    }


def turnaround(asked: pl.DataFrame, by_pair: bool = True) -> pl.DataFrame:
    """Turnaround of the answered requests, day requests apart from on-call ones: per month (and pair), `period`
    (day | on_call), answered, p50 and p90 in whole minutes (nearest rank, as `sansfilm opinions`). Percentiles do
    not add up: `by_pair=False` computes them over the month's requests of every pair the viewer sees."""
    keys = PAIR if by_pair else ["month"]
    answered = asked.filter(pl.col("status") == ANSWERED).with_columns(period=PERIOD)
    rows = []
    for key, group in answered.sort([*keys, "period"]).group_by([*keys, "period"], maintain_order=True):
        seconds = group["turnaround_seconds"].to_list()
        rows.append(
            {
                **dict(zip([*keys, "period"], key, strict=True)),
                "answered": len(seconds),
                "turnaround_p50_minutes": percentile_minutes(seconds, 50),
                "turnaround_p90_minutes": percentile_minutes(seconds, 90),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            **dict.fromkeys([*keys, "period"], pl.String),
            "answered": pl.Int64,
            **TURNAROUND,
        },
    )


def unanswered(asked: pl.DataFrame) -> pl.DataFrame:
    """The unanswered requests, oldest first: when asked (Paris), the pair, day or on call, and whether a response
    came after the limit (`late`) or none at all."""
    return (
        asked.filter(pl.col("status") == UNANSWERED)
        .select(
            "month",
            "requested_at",
            "requester_id",
            "requester",
            "responder_id",
            "responder",
            period=PERIOD,
            late=pl.col("responded_at").is_not_null(),
        )
        .sort("requested_at")
    )
