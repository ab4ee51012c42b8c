"""The alerts sensor: every few minutes, evaluates the alert rules (analytics.alerts) and delivers what is pending.

It launches no run. Each new occurrence is a warning in the sensor's tick log (the Dagster UI: Automation →
`sansfilm_alerts`), and is sent once to each configured channel; the ledger's `alert_occurrence` / `alert_delivery`
tables, not the cursor, say what was sent, so a restart, a reset cursor or a second evaluation sends nothing twice.
The cursor keeps the last tick's opened and closed occurrences and its delivery counts, for the UI. A failed delivery
is logged and retried at the next tick; an evaluation that cannot read its data (no ledger, a ledger to upgrade) is a
skipped tick saying why.
"""

from __future__ import annotations

import json

import dagster as dg

from analytics.config import Settings
from analytics.errors import SansfilmError

ALERTS_SENSOR = "sansfilm_alerts"
INTERVAL_SECONDS = 300


def build_alerts_sensor(settings: Settings) -> dg.SensorDefinition:
    channels = ", ".join(settings.alerts.channels) or "aucun canal : journal seulement"

    @dg.sensor(
        name=ALERTS_SENSOR,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Alertes (sites silencieux, niveaux de service, contrôles bloquants, moissons) : {channels}.",
    )
    def _alerts(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        from analytics.alerts import service

        try:
            tick = service.evaluate(settings, log=context.log)
        except SansfilmError as exc:
            context.log.error(f"alertes non évaluées : {exc}")
            return dg.SensorResult(skip_reason=f"alertes non évaluées : {exc}", cursor=context.cursor)
        cursor = {
            "opened": [o.id for o in tick.opened],
            "resolved": [o.id for o in tick.resolved],
            "delivered": len(tick.delivered),
            "failed": len(tick.failed),
        }
        return dg.SensorResult(skip_reason=tick.summary(), cursor=json.dumps(cursor))

    return _alerts
