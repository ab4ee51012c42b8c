"""A month's service levels per establishment and term: measured figure, target, breach and credit.

The figures come from three SQL queries (analytics/sql/service_levels/) over the staged warehouse, as exact integers
(microseconds, counts); the percentages and minutes are then computed here as Decimals and rounded half-up to two
decimals, and it is that rounded figure, the one printed on the invoice, that is compared with the target.
`assess_month` rewrites the month in `marts.mart_service_levels` (delete, then insert: a re-run replaces the month).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

import duckdb
import polars as pl

from analytics.billing.model import round_money
from analytics.periods import Month
from analytics.sla.terms import AVAILABILITY, HUNDRED, INGESTION_DELAY, OfferLevels, ServiceLevels, TermKind
from analytics.warehouse import SQL_DIR

_DIVISION = Context(prec=28, rounding=ROUND_HALF_UP)
FIGURE = Decimal("0.01")  # measured figures: percent or minutes, two decimals
US_PER_MINUTE = 60_000_000


@dataclass(frozen=True)
class Assessment:
    month: Month
    establishment_id: str
    offer: str
    term: TermKind
    measured: Decimal | None  # None: nothing to measure (no study with a time, no retrieval)
    target: Decimal
    breached: bool
    sample_size: int  # minutes of the window, studies measured, retrievals
    details: str
    credit_percent: Decimal  # the step's credit, in percent of the fee (0 when met)
    fee: Decimal  # the month's subscription fee, prorated to the active days
    credit_amount: Decimal  # what the next invoice credits, rounded half-up to the cent, after the cap
    capped: bool = False  # the cap cut this credit


def _sql(name: str) -> str:
    return (SQL_DIR / "service_levels" / f"{name}.sql").read_text(encoding="utf-8")


def _metering_sql() -> str:
    return (SQL_DIR / "metering" / "metered_events.sql").read_text(encoding="utf-8")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None) -> list[dict]:
    result = con.execute(sql, dict(params or {}))
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_sql("schema"))


def _ratio(numerator: int, denominator: int) -> Decimal:
    """100 x numerator / denominator, half-up to two decimals."""
    return _DIVISION.divide(HUNDRED * numerator, Decimal(denominator)).quantize(FIGURE, rounding=ROUND_HALF_UP)


def _minutes(us: int) -> Decimal:
    return _DIVISION.divide(Decimal(us), Decimal(US_PER_MINUTE)).quantize(FIGURE, rounding=ROUND_HALF_UP)


def measure_month(con: duckdb.DuckDBPyConnection, month: Month, levels: ServiceLevels) -> dict[str, dict[str, object]]:
    """Establishment id -> the month's raw measures (live establishments only): window, outage and failure-only
    microseconds, delay percentile and counts, retrievals and failures."""
    dates = {"first_day": month.first_day, "next_first_day": month.next().first_day}
    applications = pl.DataFrame(
        [{"offer": o.offer, "application": a} for o in levels.offers.values() for a in o.applications],
        schema={"offer": pl.String, "application": pl.String},
    )
    con.register("sla_applications", applications)
    try:
        rows = _rows(con, _sql("availability"), dates)
        delays = {r["establishment_id"]: r for r in _rows(con, _sql("ingestion_delay"), dates)}
        con.execute(
            f"create or replace temporary table sla_events as {_metering_sql()}", {**dates, "with_failures": True}
        )
        retrievals = {r["establishment_id"]: r for r in _rows(con, _sql("retrieval_failures"))}
        con.execute("drop table sla_events")
    finally:
        con.unregister("sla_applications")
    measures = {}
    for row in rows:
        delay = delays.get(row["establishment_id"], {})
        retrieval = retrievals.get(row["establishment_id"], {})
        measures[row["establishment_id"]] = {
            **row,
            "studies_measured": delay.get("studies_measured", 0),
            "studies_without_time": delay.get("studies_without_time", 0),
            "p95_us": delay.get("p95_us"),
            "retrievals": retrieval.get("retrievals", 0),
            "failed_retrievals": retrieval.get("failed", 0),
        }
    return measures


def _figure(kind: TermKind, m: Mapping[str, object]) -> tuple[Decimal | None, int, str]:
    """The measured figure, its sample size and how it was obtained, in words (French, as finance reads it)."""
    if kind is AVAILABILITY:
        window, outage, failed = int(m["window_us"]), int(m["outage_us"]), int(m["failed_us"])
        details = (
            f"{_minutes(window)} min sur la période, {_minutes(outage)} min d'arrêt "
            f"({m['outages']} arrêt(s)), "
            f"{_minutes(failed)} min d'échecs seuls ({m['failed_minutes']} minute(s))"
        )
        return _ratio(window - outage - failed, window), window // US_PER_MINUTE, details
    if kind is INGESTION_DELAY:
        measured, without = int(m["studies_measured"]), int(m["studies_without_time"])
        details = f"{measured} examen(s) mesuré(s), {without} sans heure d'examen exclu(s)"
        return (_minutes(int(m["p95_us"])) if measured else None), measured, details
    attempts, failed = int(m["retrievals"]), int(m["failed_retrievals"])
    details = f"{failed} échec(s) sur {attempts} récupération(s)"
    return (_ratio(failed, attempts) if attempts else None), attempts, details


def assess(
    month: Month,
    establishment_id: str,
    offer: OfferLevels,
    measures: Mapping[str, object],
    fee: Decimal,
    cap_percent: Decimal,
) -> list[Assessment]:
    """One establishment's terms for the month from its raw measures: breach, credit step, and amount. Each credit
    is round_half_up(fee x percent / 100); taken in term order, a credit is cut so that the month's credits never
    exceed round_half_up(fee x cap_percent / 100)."""
    cap = round_money(fee * cap_percent / HUNDRED)
    credited = Decimal("0.00")
    assessments = []
    for term in offer.terms:
        measured, sample, details = _figure(term.kind, measures)
        breached = measured is not None and term.breached(measured)
        percent = term.credit_percent(measured) if breached else Decimal(0)  # type: ignore[arg-type]
        full = round_money(fee * percent / HUNDRED)
        amount = min(full, cap - credited)
        if amount < full:
            details += f" ; crédit plafonné à {cap_percent} % de l'abonnement du mois"
        credited += amount
        assessments.append(
            Assessment(
                month,
                establishment_id,
                offer.offer,
                term.kind,
                measured,
                term.target,
                breached,
                sample,
                details,
                percent,
                fee,
                amount,
                amount < full,
            )
        )
    return assessments


def assess_month(
    con: duckdb.DuckDBPyConnection, month: Month, levels: ServiceLevels, fees: Mapping[str, Decimal]
) -> list[Assessment]:
    """Every live establishment's terms for the month, with the credits their breaches give (after the cap), and the
    month rewritten in marts.mart_service_levels. `fees`: establishment id -> the month's subscription fee."""
    offer_of = dict(con.execute("select establishment_id, offer from ref.establishments").fetchall())
    assessments: list[Assessment] = []
    for establishment_id, measures in sorted(measure_month(con, month, levels).items()):
        offer = levels.offers.get(offer_of[establishment_id])
        if offer is not None:
            fee = fees.get(establishment_id, Decimal("0.00"))
            assessments += assess(month, establishment_id, offer, measures, fee, levels.credit_cap_percent)
    _write(con, month, assessments)
    return assessments


def _write(con: duckdb.DuckDBPyConnection, month: Month, assessments: list[Assessment]) -> None:
    ensure_schema(con)
    frame = pl.DataFrame(
        [
            {
                "month": str(a.month),
                "establishment_id": a.establishment_id,
                "offer": a.offer,
                "term": a.term.name,
                "unit": a.term.unit,
                "measured": None if a.measured is None else str(a.measured),
                "target": str(a.target),
                "breached": a.breached,
                "sample_size": a.sample_size,
                "details": a.details,
                "credit_percent": str(a.credit_percent),
                "fee": str(a.fee),
                "credit_amount": str(a.credit_amount),
                "capped": a.capped,
            }
            for a in assessments
        ],
        schema={
            "month": pl.String,
            "establishment_id": pl.String,
            "offer": pl.String,
            "term": pl.String,
            "unit": pl.String,
            "measured": pl.String,
            "target": pl.String,
            "breached": pl.Boolean,
            "sample_size": pl.Int64,
            "details": pl.String,
            "credit_percent": pl.String,
            "fee": pl.String,
            "credit_amount": pl.String,
            "capped": pl.Boolean,
        },
    )
    con.execute("begin transaction")
    try:
        con.execute("delete from marts.mart_service_levels where month = $month", {"month": str(month)})
        con.register("sla_rows", frame)
        con.execute("insert into marts.mart_service_levels by name select * from sla_rows")
        con.unregister("sla_rows")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
