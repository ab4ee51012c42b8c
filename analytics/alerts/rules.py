"""The four alert rules, as pure functions over rows already read (analytics.alerts.detect reads them): each returns
the conditions that hold now, one `Alert` per condition.

An alert's `key` names the condition and when it started (a site's last study day, a source's last harvest, a check's
first failure of its current streak, a service level's month): the same condition seen again has the same key, and
the ledger's store (analytics.alerts.store) sends it once; a condition that ends and comes back is a new occurrence.
No rule reads patient data: only establishments (FINESS, name), sources, check names and contractual figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from analytics.periods import PARIS

SILENT_SITE = "silent_site"
SERVICE_LEVEL = "service_level"
QUALITY_ERROR = "quality_error"
HARVEST_STALE = "harvest_stale"
KINDS = (SILENT_SITE, SERVICE_LEVEL, QUALITY_ERROR, HARVEST_STALE)
TITLES = {  # French, for the subject line and the run log
    SILENT_SITE: "Site silencieux",
    SERVICE_LEVEL: "Niveau de service manqué",
    QUALITY_ERROR: "Contrôle qualité bloquant en échec",
    HARVEST_STALE: "Source non moissonnée",
    "test": "Message de test",
}
TERM_LABELS = {
    "availability": "disponibilité",
    "ingestion_delay_p95": "délai d'ingestion (95e centile)",
    "retrieval_failure_rate": "taux d'échec des récupérations",
}


@dataclass(frozen=True)
class Alert:
    kind: str  # one of KINDS
    key: str  # the condition and when it started: stable while it lasts
    since: str | None  # ISO date or Paris date-time the condition started; None: not known (never harvested)
    message: str  # French, one sentence, for people
    establishment_id: str | None = None  # FINESS, when the condition is about one establishment
    establishment_name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # figures, JSON-ready (strings, numbers)


def _paris(instant: datetime) -> datetime:
    return instant.astimezone(PARIS).replace(microsecond=0)


def _french_day(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def silent_sites(
    establishments: Iterable[Mapping[str, Any]], last_study: Mapping[str, date], now: datetime, days: int
) -> list[Alert]:
    """Live sites (gone live on or before today, not left) whose last study was received more than `days` Paris
    days before today (no study on the `days` whole days before today, nor today): counted from go-live for a site
    that never sent one. Today is the Paris date of `now`; `last_study` holds Paris reception days."""
    today = now.astimezone(PARIS).date()
    alerts = []
    for site in establishments:
        go_live, end = site.get("actual_go_live"), site.get("end_date")
        if go_live is None or go_live > today or (end is not None and end < today):
            continue
        last = last_study.get(site["establishment_id"])
        quiet_from = last + timedelta(days=1) if last is not None else go_live
        silent = (today - (last or go_live)).days
        if silent <= days:
            continue
        seen = f"dernier examen reçu le {_french_day(last)}" if last else "aucun examen reçu depuis sa mise en service"
        alerts.append(
            Alert(
                SILENT_SITE,
                f"{SILENT_SITE}:{site['establishment_id']}:{quiet_from.isoformat()}",
                quiet_from.isoformat(),
                f"{site['name']} ({site['establishment_id']}) n'a envoyé aucun examen depuis {silent} jours ({seen}).",
                site["establishment_id"],
                site["name"],
                {"last_study_date": last.isoformat() if last else None, "days_silent": silent, "threshold_days": days},
            )
        )
    return alerts


def missed_service_levels(rows: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> list[Alert]:
    """Breached terms of the latest month assessed (marts.mart_service_levels rows: month, establishment_id, term,
    unit, measured, target, credit_percent, breached): an older month's breaches were that month's alerts."""
    rows = list(rows)
    if not rows:
        return []
    latest = max(str(r["month"]) for r in rows)
    alerts = []
    for r in sorted(rows, key=lambda r: (r["establishment_id"], r["term"])):
        if str(r["month"]) != latest or not r["breached"]:
            continue
        site, unit = r["establishment_id"], r["unit"]
        name = names.get(site, site)
        label = TERM_LABELS.get(r["term"], r["term"])
        measured = f"{r['measured']} {unit}".replace(".", ",")
        target = f"{r['target']} {unit}".replace(".", ",")
        alerts.append(
            Alert(
                SERVICE_LEVEL,
                f"{SERVICE_LEVEL}:{latest}:{site}:{r['term']}",
                f"{latest}-01",
                f"{name} ({site}) — {label} en {latest[5:]}/{latest[:4]} : {measured} pour un engagement de {target} "
                f"(crédit de {str(r['credit_percent']).replace('.', ',')} % de l'abonnement).",
                site,
                name,
                {
                    "month": latest,
                    "term": r["term"],
                    "unit": unit,
                    "measured": str(r["measured"]),
                    "target": str(r["target"]),
                    "credit_percent": str(r["credit_percent"]),
                },
            )
        )
    return alerts


def quality_errors(rows: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """Blocking checks whose latest result failed. Rows (analytics.alerts.detect): name, table_name, severity and
    details of the latest result, and `failing_since`, the first failure after the check last passed."""
    alerts = []
    for r in sorted(rows, key=lambda r: r["name"]):
        if r["severity"] != "error" or r["passed"]:
            continue
        since = _paris(r["failing_since"])
        description = (r.get("details") or {}).get("description")
        alerts.append(
            Alert(
                QUALITY_ERROR,
                f"{QUALITY_ERROR}:{r['name']}:{since.isoformat()}",
                since.isoformat(),
                f"Le contrôle bloquant « {r['name']} » ({r['table_name']}) échoue depuis le "
                f"{since:%d/%m/%Y à %H:%M} (heure de Paris) : l'entrepôt n'est plus publié tant qu'il échoue.",
                details={"check": r["name"], "table": r["table_name"], "description": description},
            )
        )
    return alerts


def stale_sources(
    configured: Iterable[str], last_harvest: Mapping[str, datetime | None], now: datetime, hours: int
) -> list[Alert]:
    """Configured sources whose last harvest finished more than `hours` hours before `now`, or never did."""
    alerts = []
    for source in configured:
        last = last_harvest.get(source)
        if last is not None and now - last <= timedelta(hours=hours):
            continue
        if last is None:
            message = f"La source « {source} » n'a jamais été moissonnée."
            details = {"source": source, "last_harvest_at": None, "hours_without_harvest": None}
        else:
            elapsed = (now - last) // timedelta(hours=1)
            message = (
                f"La source « {source} » n'a pas été moissonnée depuis plus de {elapsed} heures "
                f"(dernière moisson le {_paris(last):%d/%m/%Y à %H:%M}, heure de Paris)."
            )
            details = {"source": source, "last_harvest_at": _paris(last).isoformat(), "hours_without_harvest": elapsed}
        since = _paris(last).isoformat() if last else None
        alerts.append(
            Alert(
                HARVEST_STALE,
                f"{HARVEST_STALE}:{source}:{since or 'never'}",
                since,
                message,
                details={**details, "threshold_hours": hours},
            )
        )
    return alerts
