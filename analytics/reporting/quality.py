"""Data-quality results for the dashboards: the latest result of each check and the history of failures, read from
the ledger's database (analytics.quality.history), never from DuckDB.

Platform-wide facts: `operator`, `gcs` and `finance` see them; an establishment viewer (and `ars`) gets Forbidden,
since details may name other establishments (FINESS numbers, invoice numbers).
"""

from __future__ import annotations

import json

import polars as pl

from analytics.quality import history
from analytics.reporting.scope import Viewer

ROLES = ("operator", "gcs", "finance")
SCHEMA = {
    "checked_at": pl.Datetime("us", "UTC"),
    "run_id": pl.String,
    "trigger": pl.String,
    "name": pl.String,
    "table_name": pl.String,
    "severity": pl.String,
    "passed": pl.Boolean,
    "observed": pl.String,
    "details": pl.String,
}


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                **r,
                "observed": None if r["observed"] is None else str(r["observed"]),
                "details": json.dumps(r["details"], ensure_ascii=False),
            }
            for r in rows
        ],
        schema=SCHEMA,
    )


def latest_checks(ledger_url: str, viewer: Viewer) -> pl.DataFrame:
    """Each check's most recent result, failures first (errors before warnings)."""
    viewer.require(*ROLES)
    return _frame(history.latest(ledger_url))


def failed_checks(ledger_url: str, viewer: Viewer, limit: int = 500) -> pl.DataFrame:
    """Every failed result kept, newest first."""
    viewer.require(*ROLES)
    return _frame(history.failures(ledger_url, limit))
