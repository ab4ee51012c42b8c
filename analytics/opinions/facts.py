"""A month of tele-opinion requests in the warehouse (`marts.fct_opinions`), and what is read back from it.

`record_month` keeps the candidates of `staged.int_transfers_between_establishments` (dbt: the transfers marked
`between_establishments`) requested in the Paris month within a pilot pair, classifies each
(analytics.opinions.rules) and rewrites the month (delete, then insert: a re-run replaces it). The month of a
request is its Paris month; a request pending at one run is classified again at the next. `usage` gives the billed
metrics per requester: `opinions` (answered requests) and `opinions_on_call` (answered requests made on call).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import duckdb

from analytics.clock import paris_now
from analytics.opinions.pairs import OpinionPair
from analytics.opinions.rules import ANSWERED, PENDING, UNANSWERED, is_on_call, outcome, percentile_minutes
from analytics.opinions.settings import OpinionsConfig
from analytics.periods import Month
from analytics.warehouse import SQL_DIR, table_exists

TABLE = "marts.fct_opinions"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The table is made with the other metering facts (analytics/sql/metering/schema.sql)."""
    con.execute((SQL_DIR / "metering" / "schema.sql").read_text(encoding="utf-8"))


def record_month(
    con: duckdb.DuckDBPyConnection,
    month: Month,
    pairs: Iterable[OpinionPair],
    config: OpinionsConfig,
    *,
    now: datetime | None = None,
) -> int:
    """Rewrite the month's requests; returns how many there are."""
    ensure_schema(con)
    now = paris_now(now)
    pairs = tuple(pairs)
    if not table_exists(con, "staged.int_transfers_between_establishments"):  # a warehouse built before tele-opinions
        return 0
    candidates = con.execute(
        """select record_key, study_instance_uid, requester_id, responder_id, requested_at, requested_date,
                  responded_at
           from staged.int_transfers_between_establishments
           where between_establishments and requested_date >= $first and requested_date < $next
           order by requested_at, record_key""",
        {"first": month.first_day, "next": month.next().first_day},
    ).fetchall()
    rows = []
    for key, study, requester, responder, requested_at, day, responded_at in candidates:
        if not any(p.covers(requester, responder, day) for p in pairs):
            continue
        result = outcome(requested_at, responded_at, now, config)
        on_call = is_on_call(requested_at, config)
        rows.append(
            (str(month), key, study, requester, responder, requested_at, responded_at, on_call, result.status,
             result.turnaround_seconds)
        )  # fmt: skip
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {TABLE} where month = ?", [str(month)])
        if rows:
            con.executemany(f"insert into {TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(rows)


def usage(con: duckdb.DuckDBPyConnection, month: Month) -> dict[str, dict[str, Decimal]]:
    """Requester -> {"opinions": answered, "opinions_on_call": answered on call} for the month."""
    if not table_exists(con, TABLE):
        return {}
    rows = con.execute(
        f"""select requester_id, count(*) filter (status = 'answered'),
                   count(*) filter (status = 'answered' and on_call)
            from {TABLE} where month = ? group by requester_id""",
        [str(month)],
    ).fetchall()
    return {r: {"opinions": Decimal(a), "opinions_on_call": Decimal(c)} for r, a, c in rows}


@dataclass(frozen=True, slots=True)
class PairMonth:
    """One pair's month, as `sansfilm opinions` shows it."""

    requester: str
    responder: str
    requests: int
    answered: int
    unanswered: int
    on_call: int  # requests made on call, whatever their outcome
    answered_on_call: int
    turnaround_p50_minutes: int | None
    turnaround_p90_minutes: int | None


def pair_months(con: duckdb.DuckDBPyConnection, month: Month, scope: Iterable[str] | None = None) -> list[PairMonth]:
    """The month per pair, in (requester, responder) order; `scope`: only pairs with one of these establishments."""
    if not table_exists(con, TABLE):
        return []
    rows = con.execute(
        f"""select requester_id, responder_id, status, on_call, turnaround_seconds from {TABLE}
            where month = ? order by requester_id, responder_id, requested_at""",
        [str(month)],
    ).fetchall()
    allowed = None if scope is None else set(scope)
    grouped: dict[tuple[str, str], list[tuple[str, bool, int | None]]] = {}
    for requester, responder, status, on_call, seconds in rows:
        if allowed is None or requester in allowed or responder in allowed:
            grouped.setdefault((requester, responder), []).append((status, on_call, seconds))
    return [summarise(requester, responder, requests) for (requester, responder), requests in grouped.items()]


def summarise(requester: str, responder: str, requests: Sequence[tuple[str, bool, int | None]]) -> PairMonth:
    """One pair's month from its requests, each (status, on_call, turnaround_seconds): shared with the dashboards
    (analytics.reporting.opinions), so the page and `sansfilm opinions` count the same way."""
    seconds = [s for status, _, s in requests if status == ANSWERED and s is not None]
    return PairMonth(
        requester,
        responder,
        requests=len(requests),
        answered=sum(status == ANSWERED for status, _, _ in requests),
        unanswered=sum(status == UNANSWERED for status, _, _ in requests),
        on_call=sum(on_call for _, on_call, _ in requests),
        answered_on_call=sum(status == ANSWERED and on_call for status, on_call, _ in requests),
        turnaround_p50_minutes=percentile_minutes(seconds, 50),
        turnaround_p90_minutes=percentile_minutes(seconds, 90),
    )


__all__ = ["ANSWERED", "PENDING", "UNANSWERED", "PairMonth", "pair_months", "record_month", "summarise", "usage"]
