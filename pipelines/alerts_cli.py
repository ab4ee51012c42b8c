"""`sansfilm alerts`: the alert conditions that hold now and what was sent for them; `--send` evaluates and delivers
like one tick of the Dagster sensor; `--send-test` checks each configured channel with a test message."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from analytics.errors import SansfilmError
from pipelines.output import text_table


def _state(recorded: dict | None) -> str:
    """In words: whether each channel accepted the occurrence's message, or why not yet."""
    if recorded is None:
        return "pas encore enregistrée (capteur ou --send)"
    parts = []
    for d in recorded["deliveries"]:
        if d["delivered_at"] is not None:
            parts.append(f"{d['channel']} envoyé")
        else:
            parts.append(
                f"{d['channel']} en attente ({d['attempts']} essai(s)"
                + (f" : {d['last_error']})" if d["last_error"] else ")")
            )
    return "; ".join(parts) or "journal seulement (aucun canal)"


def register(app: typer.Typer, settings_loader, fail) -> None:
    @app.command()
    def alerts(
        fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
        send: Annotated[
            bool,
            typer.Option(
                "--send",
                help="Record new occurrences and deliver what is pending, as "
                "the Dagster sensor `sansfilm_alerts` does at each tick.",
            ),
        ] = False,
        send_test: Annotated[
            bool,
            typer.Option(
                "--send-test", help="Send a test message on each configured channel; exit 1 if one refuses it."
            ),
        ] = False,
    ) -> None:
        """List the alert conditions that hold now (clock: $SANSFILM_NOW, else the wall clock) and their deliveries."""
        from analytics.alerts import channels, detect, service, store
        from analytics.clock import paris_now

        if fmt not in ("table", "json"):
            raise typer.BadParameter(f"'{fmt}' is not one of table, json")
        try:
            settings = settings_loader()
            if send_test:
                _report_test(service.send_test(settings), settings.alerts.channels)
                return
            now = paris_now()
            if send:
                tick = service.evaluate(settings, now)
                typer.echo(tick.summary(), err=True)
            found = detect.detect(settings, now)
            recorded = {r["occurrence"].alert.key: r for r in store.listing(settings.ledger.url)}
        except SansfilmError as exc:
            raise fail(exc) from None
        for reason in found.skipped:
            typer.echo(f"note: {reason}", err=True)
        if fmt == "json":
            rows = []
            for alert in found.alerts:
                record = recorded.get(alert.key)
                occurrence = record["occurrence"] if record else store.Occurrence(0, alert, now)
                rows.append({**channels.payload(occurrence), "deliveries": record["deliveries"] if record else []})
            typer.echo(json.dumps({"alerts": rows}, indent=2, ensure_ascii=False, default=str))
            return
        rows = [
            {
                "type": alert.kind,
                "depuis": alert.since or "",
                "alerte": alert.message,
                "envoi": _state(recorded.get(alert.key)),
            }
            for alert in found.alerts
        ]
        typer.echo(text_table(rows, ["type", "depuis", "alerte", "envoi"]) if rows else "aucune alerte en cours")


def _report_test(results: dict[str, str | None], configured: list[str]) -> None:
    if not configured:
        typer.echo(
            "error: no alert channel configured: add [alerts.webhook] or [alerts.email] (docs/operations.md)", err=True
        )
        raise typer.Exit(1)
    for channel, error in results.items():
        typer.echo(f"{channel}: " + ("message de test accepté" if error is None else f"ÉCHEC : {error}"))
    if any(error is not None for error in results.values()):
        raise typer.Exit(1)
