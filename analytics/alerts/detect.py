"""What the alert rules read: the published warehouse (never the working file a pipeline may be writing) and the
check history in the ledger's database. Each rule's kind is reported as evaluated or not: a rule that could not read
its data (nothing published yet) must not close the alerts it raised before."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
from sqlalchemy import and_, func, inspect, select

from analytics import warehouse
from analytics.alerts import rules
from analytics.alerts.rules import Alert
from analytics.config import Settings
from analytics.quality.history import quality_result


@dataclass(frozen=True)
class Detection:
    alerts: list[Alert]
    evaluated: frozenset[str]  # kinds whose data could be read: their alerts not in `alerts` have ended
    skipped: list[str] = field(default_factory=list)  # why the other kinds were not evaluated, in French


def _rows(con, sql: str, params: list | None = None) -> list[dict]:
    result = con.execute(sql, params or [])
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _warehouse_alerts(settings: Settings, now: datetime) -> tuple[list[Alert], set[str]]:
    """Silent sites, missed service levels and stale sources, from the published copy (raises when there is none)."""
    thresholds = settings.alerts
    con = warehouse.connect_published(settings.published_path)
    try:
        sites = _rows(
            con,
            "select establishment_id, name, actual_go_live, end_date from marts.dim_establishments "
            "where establishment_id <> 'UNATTRIBUTED'",
        )
        last_study = dict(
            con.execute(
                "select establishment_id, max(received_date) from marts.mart_archive_daily "
                "where studies_received > 0 group by establishment_id"
            ).fetchall()
        )
        levels = []
        if warehouse.table_exists(con, "marts.mart_service_levels"):
            levels = _rows(
                con,
                "select month, establishment_id, term, unit, measured, target, credit_percent, "
                "breached from marts.mart_service_levels",
            )
        harvested = dict(con.execute("select source, last_harvest_at from marts.mart_source_freshness").fetchall())
    finally:
        con.close()
    names = {s["establishment_id"]: s["name"] for s in sites}
    found = [
        *rules.silent_sites(sites, last_study, now, thresholds.silent_days),
        *rules.missed_service_levels(levels, names),
        *rules.stale_sources([s.name for s in settings.sources], harvested, now, thresholds.harvest_hours),
    ]
    return found, {rules.SILENT_SITE, rules.SERVICE_LEVEL, rules.HARVEST_STALE}


def failing_checks(ledger_url: str) -> list[dict]:
    """Each check whose latest result failed, with that result and the first failure since it last passed."""
    from analytics.billing.ledger import reading

    r = quality_result.c
    last_pass = select(r.name, func.max(r.id).label("id")).where(r.passed.is_(True)).group_by(r.name).subquery()
    streak = (
        select(r.name, func.min(r.checked_at).label("failing_since"), func.max(r.id).label("id"))
        .outerjoin(last_pass, last_pass.c.name == r.name)
        .where(r.passed.is_(False), r.id > func.coalesce(last_pass.c.id, 0))
        .group_by(r.name)
        .subquery()
    )
    latest = select(func.max(r.id)).group_by(r.name).scalar_subquery()
    stmt = (
        select(r.name, r.table_name, r.severity, r.passed, r.details, streak.c.failing_since)
        .join(streak, and_(streak.c.name == r.name, streak.c.id == r.id))
        .where(r.id.in_(latest))
    )
    with reading(ledger_url) as conn:
        if conn is None or not inspect(conn).has_table("quality_result"):
            return []
        rows = [dict(row) for row in conn.execute(stmt).mappings().all()]
    for row in rows:
        row["details"] = json.loads(row["details"])
        since = row["failing_since"]  # SQLite hands back the UTC instant it was given without its zone
        row["failing_since"] = since.replace(tzinfo=UTC) if since.tzinfo is None else since
    return rows


def detect(settings: Settings, now: datetime) -> Detection:
    """Every alert condition that holds at `now` (Paris time), and which kinds could be evaluated."""
    alerts, evaluated, skipped = [], set(), []
    try:
        found, kinds = _warehouse_alerts(settings, now)
        alerts += found
        evaluated |= kinds
    except warehouse.WarehouseNotPublished:
        skipped.append("aucun entrepôt publié : sites silencieux, niveaux de service et moissons non évalués")
    except duckdb.Error as exc:  # a copy published by an older version, without a mart the rules read
        skipped.append(f"entrepôt publié illisible ({str(exc).splitlines()[0]}) : relancez `sansfilm run`")
    alerts += rules.quality_errors(failing_checks(settings.ledger.url))
    evaluated.add(rules.QUALITY_ERROR)
    return Detection(alerts, frozenset(evaluated), skipped)
