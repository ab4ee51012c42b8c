"""Usage metrics per establishment and Paris calendar month (and per day), from the staged warehouse.

`meter_month` rewrites one month of `marts.fct_usage_daily`, `marts.fct_share_flows` and its monthly sum
`marts.fct_share_flows_monthly` and the community portal's accesses `marts.fct_portal_access` (delete, then insert:
a re-run replaces the month and changes nothing else), and the month's end-of-month storage snapshot
`marts.fct_storage_month_end`, which the next month opens with.
`monthly_usage` reads the month back as exact Decimals: counts are summed over the days; `storage_gb_month` is the
mean over every day of the month of the bytes stored at the end of that day, divided by 10^9, rounded half-up to 9
decimals (one byte-month).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import duckdb

from analytics.clock import paris_now
from analytics.metrics import METRICS, MONTHLY_FACTS, decimal_text
from analytics.opinions import facts as opinion_facts
from analytics.periods import Month
from analytics.registry import UNATTRIBUTED, Registry
from analytics.warehouse import SQL_DIR, table_exists

GB = Decimal(10) ** 9
STORAGE_QUANTUM = Decimal("0.000000001")
_COUNT_METRICS = ("studies_archived", "instances_archived", "bytes_archived", "retrievals", "shares", "views")
# kept beside the daily usage: analytics/opinions/facts.py, and marts.fct_portal_access (distinct practitioners are
# counted over the month, never summed over days)
OUTSIDE_DAILY = ("opinions", "opinions_on_call", "portal_views", "portal_practitioners")


def _sql(name: str) -> str:
    return (SQL_DIR / "metering" / f"{name}.sql").read_text(encoding="utf-8")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_sql("schema"))


def _params(month: Month) -> dict[str, object]:
    return {"month": str(month), "first_day": month.first_day, "next_first_day": month.next().first_day}


def _previous(month: Month) -> Month:
    return Month(month.year - 1, 12) if month.month == 1 else Month(month.year, month.month - 1)


def meter_month(con: duckdb.DuckDBPyConnection, month: Month, *, now: datetime | None = None) -> int:
    """(Re)compute one month of daily usage and share flows; returns the number of daily rows written. A month that
    has not ended at `now` (default: the programme's clock, analytics.clock) is recorded as month to date, and leaves
    no storage snapshot (its last day's figures are not final)."""
    ensure_schema(con)
    params = _params(month)
    now = paris_now(now)
    through = min(month.last_day, now.date())
    con.execute("begin transaction")
    try:
        con.execute(
            f"create or replace temporary table metered_events as {_sql('metered_events')}",
            {"first_day": params["first_day"], "next_first_day": params["next_first_day"], "with_failures": False},
        )
        for table in MONTHLY_FACTS:
            con.execute(f"delete from marts.{table} where month = $month", {"month": str(month)})
        previous = str(_previous(month))
        from_snapshot = con.execute(
            "select count(*) > 0 from marts.fct_storage_month_end where month = ?", [previous]
        ).fetchall()[0][0]
        con.execute(
            f"insert into marts.fct_usage_daily by name {_sql('usage_daily')}",
            {**params, "previous_month": previous, "from_snapshot": from_snapshot},
        )
        con.execute("delete from marts.fct_storage_month_end where month = $month", {"month": str(month)})
        if through == month.last_day:
            con.execute(
                """insert into marts.fct_storage_month_end
                   select $month, establishment_id, stored_bytes from marts.fct_usage_daily
                   where month = $month and usage_date = $last_day and stored_bytes <> 0
                     and establishment_id <> 'UNATTRIBUTED'
                   union all
                   select $month, 'UNATTRIBUTED', coalesce(sum(stored_bytes), 0) from marts.fct_usage_daily
                   where month = $month and usage_date = $last_day and establishment_id = 'UNATTRIBUTED'""",
                {"month": str(month), "last_day": month.last_day},
            )
        con.execute(f"insert into marts.fct_share_flows by name {_sql('share_flows')}", {"month": str(month)})
        con.execute(
            f"insert into marts.fct_share_flows_monthly by name {_sql('share_flows_monthly')}", {"month": str(month)}
        )
        con.execute(f"insert into marts.fct_portal_access by name {_sql('portal_access')}", params)
        rows = con.execute("select count(*) from marts.fct_usage_daily where month = $month", {"month": str(month)})
        written = rows.fetchone()[0]
        con.execute("delete from marts.fct_metered_months where month = $month", {"month": str(month)})
        con.execute(
            "insert into marts.fct_metered_months values ($month, $mtd, $through, $now)",
            {"month": str(month), "mtd": through < month.last_day, "through": through, "now": now},
        )
        con.execute(  # the clock's time, not `now` (which may be given): it tells this warehouse's meterings apart
            "insert into build.meterings "
            "select coalesce(max(seq), 0) + 1, ?, get_current_timestamp() from build.meterings",
            [str(month)],
        )
        con.execute("drop table metered_events")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return written


def storage_gb_month(byte_days: int | Decimal, days: int) -> Decimal:
    return (Decimal(byte_days) / (GB * days)).quantize(STORAGE_QUANTUM, rounding=ROUND_HALF_UP)


def zero_usage() -> dict[str, Decimal]:
    return {metric: Decimal(0) if metric != "storage_gb_month" else Decimal("0.000000000") for metric in METRICS}


def monthly_usage(con: duckdb.DuckDBPyConnection, month: Month) -> dict[str, dict[str, Decimal]]:
    """Establishment id (or UNATTRIBUTED) -> metric -> exact quantity, for a metered month."""
    rows = con.execute(
        f"""select establishment_id, {", ".join(f"sum({m})::varchar" for m in _COUNT_METRICS)},
                   sum(stored_bytes)::varchar
            from marts.fct_usage_daily where month = $month group by establishment_id order by establishment_id""",
        {"month": str(month)},
    ).fetchall()
    usage: dict[str, dict[str, Decimal]] = {}
    for establishment_id, *values in rows:
        metrics = {m: Decimal(v) for m, v in zip(_COUNT_METRICS, values[:-1], strict=True)}  # the last is storage
        metrics["storage_gb_month"] = storage_gb_month(Decimal(values[-1]), month.days)
        usage[establishment_id] = {m: metrics.get(m, Decimal(0)) for m in METRICS}
    for establishment_id, counts in (*opinion_facts.usage(con, month).items(), *portal_usage(con, month).items()):
        usage.setdefault(establishment_id, zero_usage()).update(counts)
    return usage


def portal_usage(con: duckdb.DuckDBPyConnection, month: Month) -> dict[str, dict[str, Decimal]]:
    """Establishment -> {"portal_views", "portal_practitioners"} for a metered month (a warehouse metered before the
    portal was metered has no table: no portal usage)."""
    if not table_exists(con, "marts.fct_portal_access"):
        return {}
    rows = con.execute(
        """select establishment_id, sum(views), count(distinct practitioner_key)
           from marts.fct_portal_access where month = ? group by establishment_id""",
        [str(month)],
    ).fetchall()
    return {e: {"portal_views": Decimal(v), "portal_practitioners": Decimal(p)} for e, v, p in rows}


def daily_usage(con: duckdb.DuckDBPyConnection, month: Month, establishment_id: str) -> list[dict[str, object]]:
    """One establishment's days (for statements and reconciliation); storage as GB stored at the end of each day."""
    rows = con.execute(
        f"""select usage_date, {", ".join(_COUNT_METRICS)}, stored_bytes::varchar
            from marts.fct_usage_daily where month = $month and establishment_id = $id order by usage_date""",
        {"month": str(month), "id": establishment_id},
    ).fetchall()
    return [
        {
            "usage_date": r[0],
            **{m: Decimal(v) for m, v in zip(_COUNT_METRICS, r[1:-1], strict=True)},
            "storage_gb": Decimal(r[-1]) / GB,
        }
        for r in rows
    ]


@dataclass
class UsageReport:
    """The JSON shape of `sansfilm usage`: billed establishments, unattributed usage, and usage nobody is billed for."""

    month: Month
    establishments: list[dict[str, object]] = field(default_factory=list)
    unattributed: dict[str, Decimal] = field(default_factory=zero_usage)
    unbilled: list[dict[str, object]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        def strings(d: dict[str, object]) -> dict[str, object]:
            """Counts as integers, decimal quantities (storage) as strings: exact for finance scripts."""
            return {
                k: (int(v) if k in _COUNT_METRICS + OUTSIDE_DAILY else decimal_text(v)) if isinstance(v, Decimal) else v
                for k, v in d.items()
            }

        return {
            "month": str(self.month),
            "establishments": [strings(e) for e in self.establishments],
            "unattributed": strings(self.unattributed),
            "unbilled": [strings(e) for e in self.unbilled],
        }


def usage_report(
    usage: dict[str, dict[str, Decimal]],
    registry: Registry,
    month: Month,
    active_days: Callable[[object, Month], int],
    outside: str | None = None,
) -> UsageReport:
    """Split a month's usage: establishments billed this month, UNATTRIBUTED, and usage of establishments with no
    active day (not live yet, or ended) or unknown to the registry. `outside`: why the month is billed to nobody (it
    falls outside the framework agreement), the reason of every row then."""
    report = UsageReport(month=month)
    known = registry.by_id()
    for establishment_id in sorted(usage):
        metrics = usage[establishment_id]
        if establishment_id == UNATTRIBUTED:
            report.unattributed = dict(metrics)
            continue
        establishment = known.get(establishment_id)
        row = {"establishment_id": establishment_id, **metrics}
        if outside or establishment is None or active_days(establishment, month) == 0:
            reason = outside or ("not in the registry" if establishment is None else "no active day this month")
            report.unbilled.append({**row, "reason": reason})
        else:
            report.establishments.append(row)
    for establishment in registry.establishments:  # live establishments with no usage still appear, at zero
        if not outside and establishment.establishment_id not in usage and active_days(establishment, month) > 0:
            report.establishments.append({"establishment_id": establishment.establishment_id, **zero_usage()})
    report.establishments.sort(key=lambda row: str(row["establishment_id"]))
    return report


def metered_months(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The months with metered usage, oldest first; none in a warehouse (or a readers' copy) never metered."""
    if not table_exists(con, "marts.fct_usage_daily"):
        return []
    return [m for (m,) in con.execute("select distinct month from marts.fct_usage_daily order by 1").fetchall()]


def is_final(con: duckdb.DuckDBPyConnection, month: Month) -> bool:
    """Whether a month's figures stand: metered after it ended, and no build since took in data of that month or an
    earlier one (a build drops the storage snapshots from the earliest month its harvests touched on)."""
    ensure_schema(con)
    return con.execute(
        """select exists (select 1 from marts.fct_metered_months where month = $month and not month_to_date)
                  and exists (select 1 from marts.fct_storage_month_end where month = $month)""",
        {"month": str(month)},
    ).fetchall()[0][0]


def month_to_date(con: duckdb.DuckDBPyConnection, month: Month) -> date | None:
    """The last day a month-to-date month's figures cover; None when the month is complete (or not metered)."""
    if not table_exists(con, "marts.fct_metered_months"):
        return None
    rows = con.execute(
        "select metered_through from marts.fct_metered_months where month = $month and month_to_date",
        {"month": str(month)},
    ).fetchall()
    return rows[0][0] if rows else None


def months_with_data(con: duckdb.DuckDBPyConnection) -> list[Month]:
    """Every Paris month from the first reception or event to the last (what a back-fill should meter)."""
    first, last = con.execute(
        """select least(min(first_receipt_date), (select min(event_date) from staged.stg_audit_events)),
                  greatest(max(first_receipt_date), (select max(event_date) from staged.stg_audit_events))
           from staged.int_study_owners"""
    ).fetchone()
    if first is None:
        return []
    return _months_between(Month(first.year, first.month), Month(last.year, last.month))


def months_to_meter(con: duckdb.DuckDBPyConnection, current: Month, last: Month) -> list[Month]:
    """The months with data and, when a later month up to `current` and to `last` (the agreement's last month) was
    metered already (a preview of it), every month up to that one: storage carries forward through them and their
    subscriptions are due, so none between is left unmetered (governance would count the later month and skip
    those). A preview of a month after the agreement, which bills nobody, extends nothing."""
    months = months_with_data(con)
    later = [m for m in map(Month.parse, metered_months(con)) if months and months[-1] < m <= min(current, last)]
    return months + _months_between(months[-1].next(), max(later)) if later else months


def _months_between(first: Month, last: Month) -> list[Month]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = month.next()
    return months
