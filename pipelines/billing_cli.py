"""`sansfilm usage` and `sansfilm bill`: the finance officer's commands. Output shapes are contracts: finance scripts
parse them (decimals as strings, exact)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from analytics.billing.export import LINE_COLUMNS, describe, invoice_dict, line_rows, to_csv, write_drafts
from analytics.billing.model import Invoice
from analytics.clock import current_month, paris_today
from analytics.errors import SansfilmError
from analytics.metrics import METRICS
from analytics.periods import Month
from pipelines.output import csv_out, text_table

OutputFormat = typer.Option("--format", help="table, csv or json.")
MonthOption = typer.Option("--month", help="Billing month, YYYY-MM (a calendar month in Europe/Paris).")


def started_month(text: str) -> Month:
    """A billing month that has started (Paris time, analytics.clock): there is no usage of a later one to meter."""
    try:
        month = Month.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if month > current_month():
        raise typer.BadParameter(f"{month} has not started yet (the current month is {current_month()})")
    return month


def month_to_date_note(settings, month: Month) -> str | None:
    """'month to date, through <day>' when the month had not ended when it was metered (analytics.metering)."""
    from analytics import metering, warehouse

    con = warehouse.connect(settings.warehouse.path, read_only=True)
    try:
        through = metering.month_to_date(con, month)
    finally:
        con.close()
    return None if through is None else f"month to date, through {through}"


def check_format(fmt: str) -> str:
    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter(f"'{fmt}' is not one of table, csv, json")
    return fmt


def register(app: typer.Typer, settings_loader, fail) -> None:
    @app.command()
    def usage(
        month: Annotated[str, MonthOption],
        fmt: Annotated[str, OutputFormat] = "table",
    ) -> None:
        """Usage metrics of every establishment for a month (metered from the warehouse)."""
        from analytics import metering
        from analytics.billing import service
        from analytics.billing.contracts import load_contracts
        from analytics.billing.rules import active_days

        m, fmt = started_month(month), check_format(fmt)
        try:
            settings = settings_loader()
            contracts = load_contracts(settings)
            report = metering.usage_report(
                service.meter(settings, [m])[m], contracts.registry, m, active_days, contracts.tariff.outside(m)
            ).to_dict()
            note = month_to_date_note(settings, m)
        except SansfilmError as exc:
            raise fail(exc) from None
        if note and fmt != "table":  # the JSON and CSV shapes are contracts: the label goes to stderr
            typer.echo(f"{m}: {note} (figures grow until the month ends)", err=True)
        if fmt == "json":
            typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
            return
        rows = [{**e, "status": "billed"} for e in report["establishments"]]
        rows += [{**e, "status": f"unbilled: {e['reason']}"} for e in report["unbilled"]]
        rows.append({"establishment_id": "UNATTRIBUTED", **report["unattributed"], "status": "unattributed"})
        columns = ["establishment_id", *METRICS, "status"]
        typer.echo(
            csv_out(to_csv([{**r, "month": report["month"]} for r in rows], ["month", *columns]))
            if fmt == "csv"
            else f"usage {report['month']}{f' ({note})' if note else ''}\n" + text_table(rows, columns)
        )

    @app.command()
    def bill(
        month: Annotated[str, MonthOption],
        establishment: Annotated[str | None, typer.Option("--establishment", help="Only this FINESS.")] = None,
        fmt: Annotated[str, OutputFormat] = "table",
        out: Annotated[
            Path | None, typer.Option("--out", help="Folder for documents (default [billing] out_dir).")
        ] = None,
        issue: Annotated[
            bool, typer.Option("--issue", help="Issue the month: number, record, write documents.")
        ] = False,
        issue_date: Annotated[
            str | None,
            typer.Option(
                help="Date printed on issued invoices, YYYY-MM-DD: from the 1st "
                "of the next month up to today (default: today, Paris)."
            ),
        ] = None,
        rewrite_documents: Annotated[
            bool,
            typer.Option(
                "--rewrite-documents",
                help="Write again, from the ledger, the issued month's documents that are missing or altered.",
            ),
        ] = False,
    ) -> None:
        """Preview a month's invoices (changes nothing), issue them with --issue, or repair their documents."""
        from analytics.billing import service
        from analytics.billing.issued import issued_invoices
        from analytics.billing.ledger import parse_issue_date
        from analytics.billing.ledger_tables import os_actor
        from analytics.billing.workflow import rewrite_credit_notes

        m, fmt = started_month(month), check_format(fmt)
        note = None
        already_issued = rewrite_documents  # a month issued before: no warning about what it bills any more
        if issue and m == current_month():
            raise typer.BadParameter(
                f"{m} has not ended: its figures are month to date; issue it once it has ended", param_hint="'--issue'"
            )
        try:
            settings = settings_loader()
            if rewrite_documents:
                if issue or establishment:
                    raise SansfilmError(
                        "--rewrite-documents repairs the whole issued month: give only --month (and --out)"
                    )
                folder = out or settings.billing.out_dir
                written = service.rewrite_documents(settings, m, folder)
                if out is None:  # credit notes are checked and rewritten under [billing] out_dir only
                    written += rewrite_credit_notes(settings, m)
                typer.echo(
                    f"rewrote {len(written)} document(s) of {m} in {folder / str(m)} from the ledger: "
                    + (", ".join(p.name for p in written) if written else "none was missing or altered"),
                    err=True,
                )
                invoices = issued_invoices(settings, m)
            elif issue:
                if establishment:
                    raise typer.BadParameter("--issue issues the whole month; --establishment is for previews")
                today = paris_today()
                when = parse_issue_date(issue_date) if issue_date else today
                outcome = service.issue(
                    settings, m, issue_date=when, today=today, out_dir=out or settings.billing.out_dir, actor=os_actor()
                )
                invoices, already_issued = outcome.invoices, outcome.already_issued
                message = (
                    f"{m} was already issued: nothing changed ({len(invoices)} invoices; missing or altered "
                    f"documents: --rewrite-documents)"
                    if outcome.already_issued
                    else f"issued {m}: {len(invoices)} invoices, {invoices[0].number if invoices else '-'}"
                    f" to {invoices[-1].number if invoices else '-'}"
                )
                typer.echo(message, err=True)
                if outcome.documents:
                    typer.echo(f"documents in {(out or settings.billing.out_dir) / str(m)}", err=True)
                invoices = [i for i in invoices if establishment in (None, i.establishment_id)]
            else:
                invoices = service.preview(settings, m, establishment)
                if issued := issued_invoices(settings, m):
                    already_issued = True
                    typer.echo(
                        f"{m} is issued ({issued[0].number} to {issued[-1].number}): these drafts are recomputed from "
                        f"today's data (late data is regularised on the next month's invoices); the issued invoices: "
                        f"`sansfilm bill --month {m} --issue`, which changes nothing",
                        err=True,
                    )
                note = month_to_date_note(settings, m)
                if note:
                    typer.echo(f"{m}: {note}: these drafts grow until the month ends", err=True)
                pending = next((i.revision.pending for i in invoices if i.revision and i.revision.pending), None)
                if pending:
                    typer.echo(f"revision pending, provisional prices (issuing is refused): {pending}", err=True)
                if out is not None:
                    write_drafts(out, m, invoices)
        except SansfilmError as exc:
            raise fail(exc) from None
        if not already_issued and service.no_activity(invoices):
            typer.echo(
                f"warning: {m} holds no activity (no study archived, retrieved, shared or viewed by "
                f"{establishment or 'any establishment'}): these invoices bill subscriptions, storage and minimums "
                "only; check that the month was harvested (`sansfilm check`)",
                err=True,
            )
        emit_invoices(m, invoices, fmt, note)

    ledger_app = typer.Typer(no_args_is_help=True, help="The invoice ledger: verify its hash chain and numbering.")
    app.add_typer(ledger_app, name="ledger")
    from pipelines.finance_cli import register_ledger_acts

    register_ledger_acts(ledger_app, settings_loader, fail)

    @ledger_app.command()
    def verify(fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table") -> None:
        """Recompute the ledger's hash chain and numbering, and the issued documents' SHA-256 under [billing] out_dir;
        name the first broken row (or document) and exit 1 if any."""
        from analytics.billing.issued import document_problems
        from analytics.billing.ledger import Ledger, ledger_missing, missing_ledger_message

        if fmt not in ("table", "json"):
            raise typer.BadParameter(f"'{fmt}' is not one of table, json")
        try:
            settings = settings_loader()
            if ledger_missing(settings.ledger.url):
                raise SansfilmError(missing_ledger_message(settings.ledger.url, "nothing to verify"))
            with Ledger(settings.ledger.url) as ledger:
                result, where = ledger.verify(), ledger.url
            documents, damaged = document_problems(settings)
        except SansfilmError as exc:
            raise fail(exc) from None
        problems = result.problems + damaged
        if fmt == "json":
            typer.echo(
                json.dumps(
                    {
                        "ledger": where,
                        "ok": not problems,
                        "rows": result.rows,
                        "invoices": result.invoices,
                        "documents": documents,
                        "head": result.head,
                        "problems": problems,
                    },
                    indent=2,
                )
            )
        elif not problems:
            typer.echo(
                f"ledger at {where} verified: {result.rows} rows chained, {result.invoices} invoices numbered "
                f"without gap, {documents} documents as recorded, head {result.head}"
            )
        else:
            typer.echo(f"ledger at {where} is BROKEN: {problems[0]}", err=True)
            for problem in problems[1:]:
                typer.echo(f"  also: {problem}", err=True)
        if problems:
            raise typer.Exit(1)


def emit_invoices(month: Month, invoices: list[Invoice], fmt: str, note: str | None = None) -> None:
    if fmt == "json":
        typer.echo(
            json.dumps(
                {"month": str(month), "invoices": [invoice_dict(i) for i in invoices]}, indent=2, ensure_ascii=False
            )
        )
    elif fmt == "csv":
        typer.echo(csv_out(to_csv(line_rows(month, invoices), LINE_COLUMNS)), nl=False)
    else:
        for i in invoices:
            title = (
                f"{i.number or 'DRAFT'}  {i.establishment_id}  {i.offer}  {month}{f' ({note})' if note else ''}  "
                f"active days {i.active_days}/{i.days_in_month}"
            )
            typer.echo(title)
            if i.revision is not None:
                typer.echo(("REVISION PENDING: " if i.revision.pending else "") + describe(i.revision))
            rows = [
                {
                    "code": l.code,
                    "description": l.description,
                    "quantity": l.quantity,
                    "unit_price": l.unit_price,
                    "amount": l.amount,
                }
                for l in i.lines
            ]
            typer.echo(text_table(rows, ["code", "description", "quantity", "unit_price", "amount"]))
            typer.echo(f"net {i.net}  VAT {i.vat}  gross {i.gross} {i.currency}\n")
