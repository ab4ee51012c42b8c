"""Five years of a proposed agreement, billed on projected usage, against the ceiling it proposes.

Growth scenarios come from the forecasts the dashboards already show (`forecast.linear_forecast`): the operator's
storage forecast (stored GB at month end, as `programme.storage` fits it) and the same forecast fitted to the
region's monthly studies archived (the activity). Each gives three annual growth rates, 12 months after the last
metered month: `bas` (the 95 % band's low end), `central` (the line) and `haut` (the band's high end), each as
value / last - 1.

The usage of each projected month is the establishment's usage in the same calendar month of the last 12 metered
months (seasonality and each site's size kept), times 1 + g x (years since that month), linear like the forecasts:
the activity rate for every count, the storage rate for storage_gb_month. Counts are rounded half-up to whole units.
Each month is then billed with the invoices' rule (`rules.draft_invoice`) under the proposal at its own prices,
without revision (the projection is in the money of the proposal's base period: the coming index values are not
known).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import polars as pl

from analytics.billing.rules import draft_invoice, month_prices
from analytics.billing.service import Contracts
from analytics.billing.tariff import Tariff
from analytics.metrics import METRICS
from analytics.periods import Month
from analytics.reporting.finance import scoped_usage
from analytics.reporting.forecast import linear_forecast
from analytics.reporting.scope import Filters, Viewer, query

SCENARIOS = ("bas", "central", "haut")
_RATE = Decimal("0.0001")
_STORAGE = Decimal("0.000000001")  # storage_gb_month's scale in metering
MAX_DECLINE = Decimal("-0.5")  # a band reaching zero would project nothing within two years: at most -50 % a year


@dataclass(frozen=True, slots=True)
class Growth:
    scenario: str
    activity: Decimal  # annual growth rate of every count (0.12 = +12 % a year)
    storage: Decimal  # annual growth rate of storage_gb_month


def annual_rate(last: float, ahead: float | None) -> Decimal:
    """Growth over the 12 months from `last` to `ahead`, 4 decimals; 0 without a base or a forecast."""
    if not last or ahead is None:
        return Decimal(0)
    return max(Decimal(repr(ahead / last - 1)).quantize(_RATE, rounding=ROUND_HALF_UP), MAX_DECLINE)


def _rates(frame: pl.DataFrame, column: str) -> dict[str, Decimal]:
    history = frame.filter(pl.col("kind") == "history")
    ahead = frame.filter(pl.col("kind") == "forecast").tail(1)
    if history.is_empty() or ahead.is_empty():
        return dict.fromkeys(SCENARIOS, Decimal(0))
    last = history[column][-1]
    return {
        "bas": annual_rate(last, ahead["low"][0] if ahead["low"][0] is not None else ahead[column][0]),
        "central": annual_rate(last, ahead[column][0]),
        "haut": annual_rate(last, ahead["high"][0] if ahead["high"][0] is not None else ahead[column][0]),
    }


def growth_scenarios(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, usage: dict[Month, dict[str, dict[str, Decimal]]]
) -> list[Growth]:
    """The three scenarios from the storage forecast and the activity (studies archived) forecast."""
    history = query(con, "storage_monthly", viewer, Filters())  # programme.storage's series (it refuses finance)
    stored = linear_forecast(history["month"].to_list(), (history["stored_bytes"] / 1e9).to_list(), 12)
    months = sorted(usage)
    studies = [float(sum((u["studies_archived"] for u in usage[m].values()), Decimal(0))) for m in months]
    activity = linear_forecast([m.first_day for m in months], studies, 12)
    a, s = _rates(activity, "stored_gb"), _rates(stored, "stored_gb")  # linear_forecast names its value stored_gb
    return [Growth(name, a[name], s[name]) for name in SCENARIOS]


def _factor(rate: Decimal, months: int) -> Decimal:
    """1 + rate x months / 12: linear, as the forecasts the rates come from (never below zero)."""
    return max(Decimal(1) + rate * Decimal(months) / Decimal(12), Decimal(0))


def projected_usage(base: dict[str, Decimal], growth: Growth, months_ahead: int) -> dict[str, Decimal]:
    count, stored = _factor(growth.activity, months_ahead), _factor(growth.storage, months_ahead)
    out = {}
    for metric in METRICS:
        value = base.get(metric, Decimal(0))
        if metric == "storage_gb_month":
            out[metric] = (value * stored).quantize(_STORAGE, rounding=ROUND_HALF_UP)
        else:
            out[metric] = (value * count).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return out


def project(
    contracts: Contracts, proposal: Tariff, usage: dict[Month, dict[str, dict[str, Decimal]]], scenarios: list[Growth]
) -> pl.DataFrame:
    """Per scenario and month of the proposal: net billed (Decimal), cumulative net, and the ceiling (or null)."""
    flat = replace(proposal, revision=None, price_index=None)
    history = sorted(usage)[-12:]
    last = history[-1] if history else None
    by_calendar = {m.month: m for m in history}
    ceiling = proposal.ceiling.amount if proposal.ceiling else None
    establishments = sorted(contracts.registry.establishments, key=lambda e: e.establishment_id)
    rows = []
    for growth in scenarios:
        cumulative = Decimal("0.00")
        for month in proposal.months():
            prices = month_prices(flat, month)
            base_month = by_calendar.get(month.month)
            net = Decimal("0.00")
            for establishment in establishments:
                base = usage[base_month].get(establishment.establishment_id, {}) if base_month else {}
                ahead = (month.year - base_month.year) * 12 + month.month - base_month.month if base_month else 0
                invoice = draft_invoice(establishment, month, projected_usage(base, growth, ahead), flat, prices)
                net += invoice.net if invoice is not None else 0
            cumulative += net
            rows.append(
                {
                    "scenario": growth.scenario,
                    "month": str(month),
                    "net": net,
                    "cumulative": cumulative,
                    "ceiling": ceiling,
                    "activity_rate": growth.activity,
                    "storage_rate": growth.storage,
                }
            )
    schema = {
        "scenario": pl.String,
        "month": pl.String,
        "net": pl.Decimal(18, 2),
        "cumulative": pl.Decimal(18, 2),
        "ceiling": pl.Decimal(18, 2),
        "activity_rate": pl.Decimal(10, 4),
        "storage_rate": pl.Decimal(10, 4),
    }
    frame = pl.DataFrame(rows, schema=schema)
    return frame.with_columns(history_until=pl.lit(str(last) if last else None))


def summary(projection: pl.DataFrame) -> pl.DataFrame:
    """Per scenario: five-year total, ceiling, share of it, and the first month the cumulative net exceeds it."""
    rows = []
    for scenario in SCENARIOS:
        part = projection.filter(pl.col("scenario") == scenario)
        if part.is_empty():
            continue
        total, ceiling = part["cumulative"][-1], part["ceiling"][0]
        over = part.filter(pl.col("cumulative") > pl.col("ceiling")) if ceiling is not None else part.head(0)
        rows.append(
            {
                "scenario": scenario,
                "activity_rate": part["activity_rate"][0],
                "storage_rate": part["storage_rate"][0],
                "total": total,
                "ceiling": ceiling,
                "share": float(total / ceiling * 100) if ceiling else None,
                "exceeded_in": over["month"][0] if not over.is_empty() else None,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "scenario": pl.String,
            "activity_rate": pl.Decimal(10, 4),
            "storage_rate": pl.Decimal(10, 4),
            "total": pl.Decimal(18, 2),
            "ceiling": pl.Decimal(18, 2),
            "share": pl.Float64,
            "exceeded_in": pl.String,
        },
    )


def projection_for(
    con: duckdb.DuckDBPyConnection, contracts: Contracts, proposal: Tariff, viewer: Viewer
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the monthly projection, its summary) for the published usage: what the dashboard and the notebook show."""
    viewer.require("gcs", "finance")
    usage = scoped_usage(con, viewer, Filters())
    projection = project(contracts, proposal, usage, growth_scenarios(con, viewer, usage))
    return projection, summary(projection)
