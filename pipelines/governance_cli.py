"""`sansfilm governance`: the framework agreement's validity, ceiling and commitments, for the GCS and finance."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

from analytics.clock import paris_today
from analytics.errors import SansfilmError
from pipelines.output import text_table

STATUS_FR = {
    "valid": "en vigueur",
    "renewal_due": "renouvellement à lancer",
    "expired": "expiré",
    "not_started": "pas encore en vigueur",
}


def register(app: typer.Typer, settings_loader, fail) -> None:
    @app.command()
    def governance(
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of",
                help="Date of the report, YYYY-MM-DD (default: today, "
                "Paris). Only months ended before its month count.",
            ),
        ] = None,
        fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    ) -> None:
        """Framework governance: months left before the agreement ends, ceiling used, commitments kept."""
        from analytics import warehouse
        from analytics.billing.contracts import load_contracts
        from analytics.reporting.governance import build_report, report_dict

        if fmt not in ("table", "json"):
            raise typer.BadParameter(f"'{fmt}' is not one of table, json")
        try:
            day = date.fromisoformat(as_of) if as_of else paris_today()
        except ValueError:
            raise typer.BadParameter(f"'{as_of}' is not a date (YYYY-MM-DD)") from None
        try:
            settings = settings_loader()
            contracts = load_contracts(settings)
            if not settings.published_path.exists():
                raise SansfilmError(f"no published warehouse at {settings.published_path}: run `sansfilm run` first")
            con = warehouse.connect_published(settings.published_path)
            try:
                report = build_report(con, contracts, settings.ledger.url, day)
            finally:
                con.close()
        except SansfilmError as exc:
            raise fail(exc) from None
        data = report_dict(report)
        if fmt == "json":
            typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        v = data["validity"]
        typer.echo(
            f"agreement {v['contract_id']}: {v['valid_from']} to {v['valid_to']}, as of {v['as_of']}: "
            f"{v['months_left']} months left ({v['days_left']} days), {STATUS_FR[v['status']]}"
            + (f" (alert under {v['alert_months']} months)" if v["status"] == "renewal_due" else "")
        )
        months = data["months_counted"]
        typer.echo(
            f"months counted: {months[0]} to {months[-1]} ({len(months)}), drafts for "
            f"{', '.join(data['drafted_months']) or 'none'}"
            if months
            else "months counted: none"
        )
        if data["revision_pending_months"]:
            typer.echo(f"revision pending (provisional prices): {', '.join(data['revision_pending_months'])}")
        if data["months_not_metered"]:
            typer.echo(
                f"not metered, left out (figures too low): {', '.join(data['months_not_metered'])}: "
                "run `sansfilm run` to meter them"
            )
        typer.echo("\nceiling")
        typer.echo(
            text_table(
                data["ceiling"],
                [
                    "measure",
                    "ceiling",
                    "consumed",
                    "share",
                    "monthly_rate",
                    "months_remaining",
                    "projected",
                    "projected_share",
                ],
            )
        )
        typer.echo("\ncommitments (agreement year to date)")
        typer.echo(
            text_table(
                data["commitments"],
                [
                    "establishment_id",
                    "months_live",
                    "committed_studies",
                    "expected_studies",
                    "actual_studies",
                    "committed_amount",
                    "expected_amount",
                    "actual_amount",
                    "status",
                ],
            )
        )
