"""Alerts kept once per occurrence, with each channel's delivery, in the ledger's database (SQLite or PostgreSQL):
the sensor, the CLI and a restarted Dagster all see the same record, so nothing is sent twice and nothing is lost.

`alert_occurrence`: one row per occurrence of a condition, opened when a rule first reports its key, closed
(`resolved_at`) when an evaluation of that kind no longer reports it; the same condition coming back later opens a
new row. `alert_delivery`: one row per occurrence and channel configured when it opened; `delivered_at` stays null
until the channel accepted it, and every tick retries what is still pending (`attempts`, `last_error`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    update,
)

from analytics.alerts.rules import Alert

metadata = MetaData()
alert_occurrence = Table(
    "alert_occurrence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(255), nullable=False, index=True),
    Column("establishment_id", String(16)),  # FINESS; null when the alert is not about one establishment
    Column("establishment_name", String(255)),
    Column("since", String(40)),  # ISO date or date-time (Paris) the condition started
    Column("message", Text, nullable=False),  # French
    Column("details", Text, nullable=False),  # JSON
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
)
alert_delivery = Table(
    "alert_delivery",
    metadata,
    Column("occurrence_id", Integer, ForeignKey("alert_occurrence.id"), primary_key=True),
    Column("channel", String(16), primary_key=True),  # webhook | email
    Column("attempts", Integer, nullable=False),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
)


@dataclass(frozen=True)
class Occurrence:
    id: int
    alert: Alert
    opened_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Changes:
    opened: list[Occurrence]
    resolved: list[Occurrence]


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _occurrence(row: Any) -> Occurrence:
    alert = Alert(
        row.kind, row.key, row.since, row.message, row.establishment_id, row.establishment_name, json.loads(row.details)
    )
    return Occurrence(row.id, alert, _utc(row.opened_at), _utc(row.resolved_at))


def _writing(url: str):
    """The ledger's engine, its schema made or checked first (a fresh database gets every table, these included;
    one at another version is refused with `sansfilm upgrade` to run)."""
    from analytics.billing.ledger import Ledger, engine

    Ledger(url).dispose()
    return engine(url)


def reconcile(
    url: str, found: Sequence[Alert], evaluated: frozenset[str], channels: Sequence[str], at: datetime
) -> Changes:
    """Open an occurrence for each condition not already open (with a pending delivery per channel), close the open
    ones of an evaluated kind that no longer hold. One transaction: a crash leaves the record as it was."""
    at = at.astimezone(UTC)  # stored as UTC: SQLite keeps no offset
    made = _writing(url)
    try:
        with made.connect() as conn:
            conn.execution_options(ledger_write=True)
            with conn.begin():
                rows = conn.execute(select(alert_occurrence).where(alert_occurrence.c.resolved_at.is_(None))).all()
                open_by_key = {row.key: _occurrence(row) for row in rows}
                keys = {a.key for a in found}
                resolved = [o for key, o in open_by_key.items() if key not in keys and o.alert.kind in evaluated]
                for occurrence in resolved:
                    conn.execute(
                        update(alert_occurrence).where(alert_occurrence.c.id == occurrence.id).values(resolved_at=at)
                    )
                opened = []
                for alert in dict((a.key, a) for a in found).values():
                    if alert.key in open_by_key:
                        continue
                    new_id = conn.execute(
                        insert(alert_occurrence).values(
                            kind=alert.kind,
                            key=alert.key,
                            establishment_id=alert.establishment_id,
                            establishment_name=alert.establishment_name,
                            since=alert.since,
                            message=alert.message,
                            details=json.dumps(alert.details, ensure_ascii=False, sort_keys=True),
                            opened_at=at,
                        )
                    ).inserted_primary_key[0]
                    for channel in channels:
                        conn.execute(insert(alert_delivery).values(occurrence_id=new_id, channel=channel, attempts=0))
                    opened.append(Occurrence(new_id, alert, at))
    finally:
        made.dispose()
    return Changes(opened, [Occurrence(o.id, o.alert, o.opened_at, at) for o in resolved])


def pending(url: str, channels: Sequence[str]) -> list[tuple[Occurrence, str]]:
    """Deliveries not accepted yet on the channels still configured, oldest occurrence first."""
    from analytics.billing.ledger import reading

    with reading(url) as conn:
        if conn is None or not inspect(conn).has_table("alert_delivery"):
            return []
        rows = conn.execute(
            select(alert_occurrence, alert_delivery.c.channel)
            .join(alert_delivery, alert_delivery.c.occurrence_id == alert_occurrence.c.id)
            .where(alert_delivery.c.delivered_at.is_(None), alert_delivery.c.channel.in_(list(channels)))
            .order_by(alert_occurrence.c.id, alert_delivery.c.channel)
        ).all()
    return [(_occurrence(row), row.channel) for row in rows]


def record_attempt(url: str, occurrence_id: int, channel: str, at: datetime, error: str | None) -> None:
    """A delivery attempt: accepted (`error` None) or not, with the reason kept for `sansfilm alerts`."""
    from analytics.billing.ledger import engine

    at = at.astimezone(UTC)
    made = engine(url)
    try:
        with made.connect() as conn:
            conn.execution_options(ledger_write=True)
            with conn.begin():
                d = alert_delivery.c
                conn.execute(
                    update(alert_delivery)
                    .where(d.occurrence_id == occurrence_id, d.channel == channel)
                    .values(
                        attempts=d.attempts + 1,
                        last_attempt_at=at,
                        last_error=error,
                        delivered_at=None if error else at,
                    )
                )
    finally:
        made.dispose()


def listing(url: str, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    """Occurrences (open ones, or all), newest first, each with its deliveries: for `sansfilm alerts`."""
    from analytics.billing.ledger import reading

    with reading(url) as conn:
        if conn is None or not inspect(conn).has_table("alert_occurrence"):
            return []
        stmt = select(alert_occurrence).order_by(alert_occurrence.c.id.desc())
        if not include_resolved:
            stmt = stmt.where(alert_occurrence.c.resolved_at.is_(None))
        occurrences = [_occurrence(row) for row in conn.execute(stmt).all()]
        deliveries: dict[int, list[dict[str, Any]]] = {}
        for row in conn.execute(select(alert_delivery).order_by(alert_delivery.c.channel)).mappings():
            deliveries.setdefault(row["occurrence_id"], []).append(
                {
                    "channel": row["channel"],
                    "attempts": row["attempts"],
                    "delivered_at": _utc(row["delivered_at"]),
                    "last_error": row["last_error"],
                }
            )
    return [{"occurrence": o, "deliveries": deliveries.get(o.id, [])} for o in occurrences]
