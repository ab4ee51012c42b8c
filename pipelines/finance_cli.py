"""`sansfilm credit`, `send`, `payments add|list` and `ledger acts`: finance's acts after issuing, recorded in the
ledger with the OS user who ran them (the dashboards' Factures page calls the same functions with its user)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

from analytics.clock import paris_today
from analytics.errors import SansfilmError
from pipelines.output import csv_out, text_table

FormatOption = typer.Option("--format", help="table or json.")
ACCOUNT_COLUMNS = [
    "number",
    "kind",
    "establishment_id",
    "month",
    "issue_date",
    "gross",
    "credited",
    "paid",
    "balance",
    "due_date",
    "status",
    "days_late",
    "sent",
]


def _require_known(settings, establishment: str) -> None:  # noqa: ANN001 - Settings, imported lazily
    """A FINESS with no document must at least be in the registry: a typing mistake is not an empty list."""
    from analytics.registry import load_registry

    if establishment not in {e.establishment_id for e in load_registry(settings.contracts.dir).establishments}:
        raise SansfilmError(
            f"--establishment '{establishment}' is not the FINESS of an establishment of the registry "
            f"({settings.contracts.dir / 'establishments.csv'})"
        )


def _formats(fmt: str, allowed: tuple[str, ...] = ("table", "json")) -> str:
    if fmt not in allowed:
        raise typer.BadParameter(f"'{fmt}' is not one of {', '.join(allowed)}")
    return fmt


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    from analytics.billing.ledger import parse_issue_date

    try:
        return parse_issue_date(text)
    except SansfilmError as exc:
        raise typer.BadParameter(str(exc).replace("issue date", "date"), param_hint=option) from None


def _positions(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not a list of line numbers such as 1,3", param_hint="'--lines'"
        ) from None


def register(app: typer.Typer, settings_loader, fail) -> None:
    @app.command()
    def credit(
        invoice_number: Annotated[str, typer.Argument(help="The issued invoice to credit, e.g. RSF-000012.")],
        reason: Annotated[str, typer.Option("--reason", help="Why (printed on the credit note).")],
        lines: Annotated[
            str | None,
            typer.Option(
                "--lines",
                help="Credit these lines only, by their position on the "
                "invoice: 1,3 (default: every line not credited yet).",
            ),
        ] = None,
        amount: Annotated[
            str | None,
            typer.Option(
                "--amount",
                help="Credit this amount excluding VAT instead, e.g. 120.50 (VAT added at the invoice's rate).",
            ),
        ] = None,
        issue_date: Annotated[
            str | None, typer.Option(help="Date of the credit note, YYYY-MM-DD (default: today, Paris).")
        ] = None,
        fmt: Annotated[str, FormatOption] = "table",
    ) -> None:
        """Issue a credit note (EN 16931 type 381) against an issued invoice: numbered in the invoices' sequence,
        its Factur-X PDF, XML and CSV written beside the invoice's under \\[billing] out_dir/<month>/."""
        from analytics.billing.followup import parse_amount
        from analytics.billing.ledger_tables import os_actor
        from analytics.billing.workflow import credit_invoice

        fmt, positions = _formats(fmt), _positions(lines)
        today = paris_today()
        when = _day(issue_date, "'--issue-date'") or today
        try:
            value = parse_amount(amount, "--amount") if amount is not None else None
            done = credit_invoice(
                settings_loader(),
                invoice_number,
                reason=reason,
                actor=os_actor(),
                issue_date=when,
                today=today,
                positions=positions,
                amount=value,
            )
        except SansfilmError as exc:
            raise fail(exc) from None
        note = done.note.document
        if fmt == "json":
            typer.echo(
                json.dumps(
                    {
                        "number": done.note.number,
                        "invoice_number": done.note.invoice_number,
                        "scope": done.note.scope,
                        "reason": done.note.reason,
                        "issue_date": str(note.issue_date),
                        "net": str(note.net),
                        "vat": str(note.vat),
                        "gross": str(note.gross),
                        "documents": [str(p) for p in done.documents],
                    },
                    indent=2,
                    ensure_ascii=False,
                )
            )
            return
        typer.echo(
            f"credit note {done.note.number} against {invoice_number} ({done.note.scope}): net {note.net}  "
            f"VAT {note.vat}  gross {note.gross} {note.currency}"
        )
        typer.echo(f"documents in {done.documents[0].parent}" if done.documents else "no documents", err=True)

    @app.command()
    def send(
        numbers: Annotated[list[str], typer.Argument(help="Issued invoices or credit notes to send, e.g. RSF-000012.")],
        transport: Annotated[
            str,
            typer.Option(
                "--transport",
                help="outbox (the Factur-X PDF into \\[billing] outbox) "
                "or email (to the establishment's billing_email).",
            ),
        ] = "outbox",
    ) -> None:
        """Send issued invoices or credit notes and record each sending (when, how, to whom); sending again is
        recorded again."""
        from analytics.billing.ledger_tables import os_actor
        from analytics.billing.workflow import send_document

        try:
            settings = settings_loader()
            for number in numbers:
                sent = send_document(settings, number, transport=transport, actor=os_actor())
                typer.echo(f"sent {sent.number} by {sent.transport} to {sent.recipient} ({sent.file_name})")
        except SansfilmError as exc:
            raise fail(exc) from None

    payments_app = typer.Typer(no_args_is_help=True, help="Payments received, balances, statuses and overdue invoices.")
    app.add_typer(payments_app, name="payments")

    @payments_app.command("add")
    def payments_add(
        invoice_number: Annotated[str, typer.Argument(help="The issued invoice paid, e.g. RSF-000012.")],
        amount: Annotated[str, typer.Option("--amount", help="Amount received, VAT included, e.g. 1200.00.")],
        reference: Annotated[str, typer.Option("--reference", help="The payment's reference (bank transfer label).")],
        paid_on: Annotated[
            str | None, typer.Option("--date", help="Day received, YYYY-MM-DD (default: today, Paris).")
        ] = None,
    ) -> None:
        """Record a payment received against an issued invoice (never more than its balance due)."""
        from analytics.billing.followup import parse_amount
        from analytics.billing.ledger_tables import os_actor
        from analytics.billing.workflow import record_payment

        today = paris_today()
        when = _day(paid_on, "'--date'") or today
        try:
            value = parse_amount(amount, "--amount")
            record_payment(
                settings_loader(),
                invoice_number,
                paid_on=when,
                amount=value,
                reference=reference,
                actor=os_actor(),
                today=today,
            )
        except SansfilmError as exc:
            raise fail(exc) from None
        typer.echo(f"recorded a payment of {value} for {invoice_number} on {when}")

    @payments_app.command("list")
    def payments_list(
        overdue: Annotated[
            bool,
            typer.Option(
                "--overdue", help="Only invoices past due with a balance, the latest first, with the days late."
            ),
        ] = False,
        establishment: Annotated[str | None, typer.Option("--establishment", help="Only this FINESS.")] = None,
        status: Annotated[
            str | None,
            typer.Option("--status", help="Only this status: issued, sent, partly paid, paid, overdue, credited."),
        ] = None,
        fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    ) -> None:
        """Every issued invoice and credit note: total, credited, paid, balance due, due date, status (today,
        Paris); the payments recorded are in the JSON."""
        from analytics.billing import followup
        from analytics.billing.export import to_csv
        from analytics.billing.workflow import statuses

        fmt = _formats(fmt, ("table", "csv", "json"))
        if status is not None and status not in followup.STATUSES:
            raise typer.BadParameter(
                f"'{status}' is not one of {', '.join(followup.STATUSES)}", param_hint="'--status'"
            )
        today = paris_today()
        try:
            settings = settings_loader()
            recorded = _payments(settings)  # first: a ledger out of reach is refused in the command's own words
            found = statuses(settings, today)
        except SansfilmError as exc:
            raise fail(exc) from None
        if establishment is not None and establishment not in {a.establishment_id for a in found}:
            try:
                _require_known(settings, establishment)
            except SansfilmError as exc:
                raise fail(exc) from None
        found = followup.overdue(found) if overdue else found
        found = [a for a in found if establishment in (None, a.establishment_id) and status in (None, a.status)]
        rows = [a.to_dict() for a in found]
        if fmt == "json":
            numbers = {a.number for a in found}
            typer.echo(
                json.dumps(
                    {
                        "as_of": str(today),
                        "documents": rows,
                        "payments": [p for p in recorded if p["invoice_number"] in numbers],
                    },
                    indent=2,
                    ensure_ascii=False,
                )
            )
        elif fmt == "csv":
            typer.echo(csv_out(to_csv(rows, ACCOUNT_COLUMNS)), nl=False)
        else:
            typer.echo(f"as of {today}: {len(rows)} document(s)")
            typer.echo(text_table(rows, ACCOUNT_COLUMNS))

    def _payments(settings) -> list[dict]:  # noqa: ANN001
        from analytics.billing import followup
        from analytics.billing.ledger import Ledger, not_created_yet

        if not_created_yet(settings.ledger.url, "no payment can be listed"):
            return []
        with Ledger(settings.ledger.url) as ledger:
            return followup.payments_of(ledger)


def register_ledger_acts(ledger_app: typer.Typer, settings_loader, fail) -> None:
    @ledger_app.command("acts")
    def acts(
        subject: Annotated[
            str | None,
            typer.Option(
                "--subject",
                help="Only the acts about this month (YYYY-MM) or number (an invoice's: with its credit notes).",
            ),
        ] = None,
        fmt: Annotated[str, FormatOption] = "table",
    ) -> None:
        """The audit trail: every act recorded in the ledger (issue, credit, send, payment), who did it and when."""
        from analytics.billing import followup
        from analytics.billing.ledger import Ledger, not_created_yet

        fmt = _formats(fmt)
        try:
            settings = settings_loader()
            if not_created_yet(settings.ledger.url, "no act can be listed"):
                found = []
            else:
                with Ledger(settings.ledger.url) as ledger:
                    found = followup.acts(ledger, subject)
        except SansfilmError as exc:
            raise fail(exc) from None
        if fmt == "json":
            typer.echo(json.dumps({"acts": found}, indent=2, ensure_ascii=False))
            return
        rows = [{**a, "detail": json.dumps(a["detail"], ensure_ascii=False, sort_keys=True)} for a in found]
        typer.echo(text_table(rows, ["id", "recorded_at", "actor", "kind", "subject", "detail"]))
