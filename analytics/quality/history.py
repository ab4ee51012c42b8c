"""Check results kept with their history, in the ledger's relational database (SQLite by default, PostgreSQL in
production): the dashboards read them there without touching DuckDB's lock.

`quality_run`: one row per run (`sansfilm check`, an issue attempt, a Dagster run: its run id); `quality_result`: one
row per check result of a run. Only ever inserted; readers take the latest run of each check and the failures.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
)

from analytics.quality.contracts import CheckResult

metadata = MetaData()
quality_run = Table(
    "quality_run",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("trigger", String(16), nullable=False),  # check | issue | dagster
    Column("started_at", DateTime(timezone=True), nullable=False),
)
quality_result = Table(
    "quality_result",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("quality_run.run_id"), nullable=False, index=True),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("name", String(64), nullable=False),
    Column("table_name", String(128), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("observed", Text),  # JSON
    Column("details", Text, nullable=False),  # JSON
)


def _engine(url: str):
    """The ledger's engine (same URL rules, SQLite pragmas); opening the ledger first creates its schema, these
    tables included (analytics.billing.schema), or refuses one at another version, even when data quality is the
    first thing to write into a fresh database."""
    from analytics.billing.ledger import Ledger, engine

    Ledger(url).dispose()
    return engine(url)


def record(
    url: str, results: Sequence[CheckResult], *, trigger: str, run_id: str | None = None, at: datetime | None = None
) -> str:
    """Append a run's results (to an existing run when `run_id` is already recorded, e.g. one Dagster run)."""
    at = at or datetime.now(UTC)
    run_id = run_id or f"{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn.execution_options(ledger_write=True)
            with conn.begin():
                if conn.execute(select(quality_run.c.run_id).where(quality_run.c.run_id == run_id)).first() is None:
                    conn.execute(insert(quality_run).values(run_id=run_id, trigger=trigger, started_at=at))
                if results:
                    conn.execute(
                        insert(quality_result),
                        [
                            {
                                "run_id": run_id,
                                "checked_at": at,
                                "name": r.name,
                                "table_name": r.table,
                                "severity": r.severity,
                                "passed": r.passed,
                                "observed": json.dumps(r.observed),
                                "details": json.dumps(r.details, ensure_ascii=False, default=str),
                            }
                            for r in results
                        ],
                    )
    finally:
        engine.dispose()
    return run_id


def _read(url: str, stmt: Any) -> list[dict[str, Any]]:
    """Rows of a query; none when nothing was ever recorded (reading never creates the database or its tables)."""
    from analytics.billing.ledger import reading

    with reading(url) as conn:
        if conn is None or not inspect(conn).has_table("quality_result"):
            return []
        return [dict(row) for row in conn.execute(stmt).mappings().all()]


def _rows(url: str, stmt: Any) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "observed": json.loads(row["observed"]) if row["observed"] is not None else None,
            "details": json.loads(row["details"]),
        }
        for row in _read(url, stmt)
    ]


_COLUMNS = (
    quality_result.c.checked_at,
    quality_result.c.run_id,
    quality_run.c.trigger,
    quality_result.c.name,
    quality_result.c.table_name,
    quality_result.c.severity,
    quality_result.c.passed,
    quality_result.c.observed,
    quality_result.c.details,
)


def latest(url: str) -> list[dict[str, Any]]:
    """Each check's most recent result (whatever run produced it), errors first."""
    newest = (
        select(quality_result.c.name, func.max(quality_result.c.id).label("id"))
        .group_by(quality_result.c.name)
        .subquery()
    )
    stmt = (
        select(*_COLUMNS)
        .join(quality_run, quality_run.c.run_id == quality_result.c.run_id)
        .join(newest, newest.c.id == quality_result.c.id)
        .order_by(quality_result.c.passed, quality_result.c.severity, quality_result.c.name)
    )
    return _rows(url, stmt)


def failures(url: str, limit: int = 500) -> list[dict[str, Any]]:
    """Every failed result, newest first."""
    stmt = (
        select(*_COLUMNS)
        .join(quality_run, quality_run.c.run_id == quality_result.c.run_id)
        .where(quality_result.c.passed.is_(False))
        .order_by(quality_result.c.id.desc())
        .limit(limit)
    )
    return _rows(url, stmt)


def runs(url: str) -> list[dict[str, Any]]:
    return _read(url, select(quality_run).order_by(quality_run.c.started_at, quality_run.c.run_id))
