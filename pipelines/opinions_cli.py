"""`sansfilm opinions`: a month of tele-opinions between the pilot's establishments, and who owes whom. The JSON
shape is a contract (issue 18): amounts as strings, exact."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from analytics.errors import SansfilmError
from pipelines.billing_cli import MonthOption, OutputFormat, check_format, month_to_date_note, started_month
from pipelines.output import csv_out, text_table

PAIR_COLUMNS = [
    "requester",
    "responder",
    "requests",
    "answered",
    "unanswered",
    "on_call",
    "turnaround_p50_minutes",
    "turnaround_p90_minutes",
]


def opinions_dict(month, pairs, lines) -> dict[str, object]:
    return {
        "month": str(month),
        "pairs": [{c: getattr(p, c) for c in PAIR_COLUMNS} for p in pairs],
        "settlement": [{"debtor": x.debtor, "creditor": x.creditor, "amount": f"{x.amount:.2f}"} for x in lines],
    }


def register(app: typer.Typer, settings_loader, fail) -> None:
    @app.command()
    def opinions(
        month: Annotated[str, MonthOption],
        fmt: Annotated[str, OutputFormat] = "table",
        statement: Annotated[
            bool,
            typer.Option(
                "--statement",
                help="Also write the settlement statement (CSV and PDF) into the billing out_dir's settlements/.",
            ),
        ] = False,
    ) -> None:
        """Tele-opinion requests per pilot pair for a month (answered, unanswered, on call, turnaround) and the
        settlement between establishments, netted per pair (docs/billing.md). Never part of an invoice."""
        from analytics import warehouse
        from analytics.billing import service
        from analytics.billing.contracts import load_contracts
        from analytics.opinions.facts import pair_months
        from analytics.opinions.settlement import net
        from analytics.opinions.statement_pdf import write_statement

        m, fmt = started_month(month), check_format(fmt)
        try:
            settings = settings_loader()
            contracts = load_contracts(settings)
            terms = contracts.tariff.settlement
            service.meter(settings, [m])  # records the month's requests too
            con = warehouse.connect(settings.warehouse.path, read_only=True)
            try:
                pairs = pair_months(con, m)
            finally:
                con.close()
            if terms is None and any(p.answered for p in pairs):
                raise SansfilmError(
                    f"{contracts.tariff.path} has no settlement: (fee, on_call_fee): answered tele-opinions cannot"
                    " be settled"
                )
            lines = net(pairs, terms) if terms is not None else []
            written = None
            if statement:
                names = {e.establishment_id: e.name for e in contracts.registry.establishments}
                written = write_statement(settings.billing.out_dir, m, pairs, lines, names)
            note = month_to_date_note(settings, m)
        except SansfilmError as exc:
            raise fail(exc) from None
        if note and fmt != "table":
            typer.echo(f"{m}: {note} (figures grow until the month ends)", err=True)
        if written:
            typer.echo(f"settlement statement: {written[0]}, {written[1]}", err=True)
        data = opinions_dict(m, pairs, lines)
        if fmt == "json":
            typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        if fmt == "csv":
            from analytics.billing.export import to_csv

            rows = [{"month": str(m), **p} for p in data["pairs"]]
            typer.echo(csv_out(to_csv(rows, ["month", *PAIR_COLUMNS])), nl=False)
            return
        typer.echo(f"tele-opinions {m}{f' ({note})' if note else ''}")
        typer.echo(text_table(data["pairs"], PAIR_COLUMNS) if data["pairs"] else "no request in a pilot pair")
        if data["settlement"]:
            typer.echo("settlement (EUR, netted per pair):")
            typer.echo(text_table(data["settlement"], ["debtor", "creditor", "amount"]))
