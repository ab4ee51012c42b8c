"""One evaluation of the alerts, what the Dagster sensor does at each tick (and `sansfilm alerts --send`): detect the
conditions, record new occurrences and ended ones, log them, then deliver every pending message.

A channel that fails is logged and retried at the next tick; it never stops the others nor the evaluation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from analytics.alerts import channels, detect, store
from analytics.alerts.rules import TITLES, Alert
from analytics.clock import paris_now
from analytics.config import Settings
from analytics.errors import SansfilmError

logger = logging.getLogger("sansfilm.alerts")


@dataclass
class Tick:
    opened: list[store.Occurrence] = field(default_factory=list)
    resolved: list[store.Occurrence] = field(default_factory=list)
    delivered: list[tuple[int, str]] = field(default_factory=list)  # (occurrence id, channel)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (occurrence id, channel, reason)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{len(self.opened)} nouvelle(s) alerte(s), {len(self.resolved)} terminée(s), "
            f"{len(self.delivered)} message(s) envoyé(s), {len(self.failed)} envoi(s) en échec"
        )
        return "; ".join([text, *self.skipped])


def line(alert: Alert) -> str:
    """The run log's line for an alert: its title and message, in French."""
    return f"{TITLES.get(alert.kind, alert.kind)} : {alert.message}"


def deliver_pending(
    settings: Settings, now: datetime, log: logging.Logger | logging.LoggerAdapter = logger, tick: Tick | None = None
) -> Tick:
    tick = tick or Tick()
    url = settings.ledger.url
    for occurrence, channel in store.pending(url, settings.alerts.channels):
        try:
            channels.deliver(settings.alerts, channel, channels.payload(occurrence), now)
        except SansfilmError as exc:  # DeliveryError, or a missing password variable: pending until it works
            log.error(f"alerte {occurrence.id} non envoyée par {channel} (nouvel essai au prochain passage) : {exc}")
            store.record_attempt(url, occurrence.id, channel, now, str(exc))
            tick.failed.append((occurrence.id, channel, str(exc)))
            continue
        store.record_attempt(url, occurrence.id, channel, now, None)
        tick.delivered.append((occurrence.id, channel))
    return tick


def evaluate(
    settings: Settings, now: datetime | None = None, log: logging.Logger | logging.LoggerAdapter = logger
) -> Tick:
    """Detect, record, log and deliver, at `now` (default: the programme's clock, $SANSFILM_NOW or the wall clock)."""
    now = paris_now(now)
    found = detect.detect(settings, now)
    for reason in found.skipped:
        log.info(f"alertes : {reason}")
    changes = store.reconcile(settings.ledger.url, found.alerts, found.evaluated, settings.alerts.channels, now)
    for occurrence in changes.opened:
        log.warning(f"ALERTE {occurrence.id} — {line(occurrence.alert)}")
    for occurrence in changes.resolved:
        log.info(f"alerte {occurrence.id} terminée — {TITLES.get(occurrence.alert.kind)} ({occurrence.alert.key})")
    tick = Tick(opened=changes.opened, resolved=changes.resolved, skipped=found.skipped)
    return deliver_pending(settings, now, log, tick)


def send_test(settings: Settings, now: datetime | None = None) -> dict[str, str | None]:
    """A test message on every configured channel, outside the record: channel -> None (accepted) or the reason."""
    now = paris_now(now)
    test = store.Occurrence(
        0, Alert("test", "test", None, "Message de test de sansfilm : ce canal d'alertes fonctionne."), now
    )
    results: dict[str, str | None] = {}
    for channel in settings.alerts.channels:
        try:
            channels.deliver(settings.alerts, channel, channels.payload(test), now)
            results[channel] = None
        except SansfilmError as exc:
            results[channel] = str(exc)
    return results
