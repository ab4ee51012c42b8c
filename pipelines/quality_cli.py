"""`sansfilm check`: run every data contract and reconciliation, keep the results, exit 1 if an `error` one fails."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from analytics.errors import SansfilmError
from pipelines.output import text_table


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not an ISO date-time (e.g. 2026-11-29T06:00+01:00)") from None
    if value.tzinfo is None:
        from analytics.periods import PARIS

        value = value.replace(tzinfo=PARIS)  # a time without an offset is Paris time, like every period here
    return value


def _short(details: dict[str, object]) -> str:
    """The details in one line for the table: description first, then examples or the first error."""
    parts = [str(details[k]) for k in ("error",) if k in details]
    examples = details.get("examples") or details.get("not_regularised") or []
    if examples:
        parts.append("e.g. " + ", ".join(map(str, examples[:3])))
    text = "; ".join(parts) or str(details.get("description", ""))
    return text if len(text) <= 100 else text[:99] + "…"


def register(app: typer.Typer, settings_loader, fail) -> None:
    @app.command()
    def check(
        fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of",
                help="Reference time for freshness and the harvest "
                "window (ISO; default: the newest harvest, not the clock).",
            ),
        ] = None,
    ) -> None:
        """Run the data contracts and reconciliations, record the results; exit 1 if an `error` check fails."""
        from analytics.quality import runner

        if fmt not in ("table", "json"):
            raise typer.BadParameter(f"'{fmt}' is not one of table, json")
        reference = _as_of(as_of)
        try:
            settings = settings_loader()
            run_id, results = runner.check_and_record(settings, trigger="check", as_of=reference)
        except SansfilmError as exc:
            raise fail(exc) from None
        failed = runner.failed_errors(results)
        if fmt == "json":
            typer.echo(
                json.dumps(
                    {"checks": [r.to_dict() for r in results], "run_id": run_id},
                    indent=2,
                    ensure_ascii=False,
                    default=str,
                )
            )
        else:
            rows = [
                {**r.to_dict(), "passed": "ok" if r.passed else "FAILED", "details": _short(r.details)} for r in results
            ]
            typer.echo(text_table(rows, ["name", "table", "severity", "passed", "observed", "details"]))
            warned = sum(1 for r in results if not r.passed and r.severity == "warn")
            typer.echo(f"\n{len(results)} checks: {len(failed)} error(s), {warned} warning(s) (run {run_id})")
        if failed:
            names = ", ".join(r.name for r in failed)
            typer.echo(
                f"error: {len(failed)} blocking check(s) failed: {names} (details on stdout; what to do: "
                "docs/data-quality.md)",
                err=True,
            )
            raise typer.Exit(1)
