"""Tele-opinions for a configuration: the pilot pairs from its contracts, its `[opinions]` rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import duckdb

from analytics.config import Settings
from analytics.opinions.facts import record_month
from analytics.opinions.pairs import load_pairs
from analytics.periods import Month
from analytics.registry import load_registry


def record_months(
    con: duckdb.DuckDBPyConnection, settings: Settings, months: Iterable[Month], now: datetime | None = None
) -> None:
    """Rewrite the requests of each month (every run: a request still pending last time may have its answer now)."""
    pairs = load_pairs(settings.contracts.dir, load_registry(settings.contracts.dir))
    for month in months:
        record_month(con, month, pairs, settings.opinions, now=now)
