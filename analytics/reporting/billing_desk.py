"""The Factures page's acts and follow-up, for the dashboards: the same functions as the CLI, behind the viewer's
rights. Only `finance` acts (issue, credit, send, record a payment): any other viewer gets Forbidden here, whatever
the page shows. Every viewer who sees money reads statuses and balances, an establishment only its own.

Each act is recorded in the ledger with `dashboards:<user name>` as its actor.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from analytics.billing.followup import Account, parse_amount
from analytics.billing.model import Month
from analytics.clock import current_month
from analytics.config import Settings
from analytics.reporting.scope import Forbidden, Viewer

ACCOUNT_SCHEMA = {
    "number": pl.String,
    "kind": pl.String,
    "establishment_id": pl.String,
    "name": pl.String,
    "month": pl.String,
    "issue_date": pl.Date,
    "gross": pl.Decimal(18, 2),
    "credited": pl.Decimal(18, 2),
    "paid": pl.Decimal(18, 2),
    "balance": pl.Decimal(18, 2),
    "due_date": pl.Date,
    "status": pl.String,
    "days_late": pl.Int64,
    "references": pl.String,
    "sent": pl.String,
}


# One issue at a time in the dashboards' process: its sessions are threads sharing one DuckDB instance, where two
# meterings of the same month conflict ("Conflict on tuple deletion"); the second click waits, then finds the month
# issued. Between processes the ledger's lock decides (analytics.billing.ledger).
_ISSUING = threading.Lock()


@dataclass(frozen=True)
class IssueAnswer:
    issued: bool  # False: the month was already issued (by someone else a moment before): nothing changed
    message: str


def actor(viewer: Viewer) -> str:
    viewer.require("finance")
    return f"dashboards:{viewer.name}"


def _require_acts(viewer: Viewer) -> str:
    if viewer.kind != "finance":
        raise Forbidden(f"{viewer.name} ({viewer.role}) may not issue, credit, send or record payments: finance only")
    return actor(viewer)


def issue_month(settings: Settings, viewer: Viewer, month: Month, today: date) -> IssueAnswer:
    """What "Émettre" does: `sansfilm bill --month M --issue` (service.issue, issue date today), refused the same
    way (month not over, an earlier month not issued, the data-quality gate)."""
    from analytics.billing import service
    from analytics.billing.ledger import IssueRefused

    who = _require_acts(viewer)
    if month >= current_month():
        raise IssueRefused(f"{month} has not ended: its figures are month to date; issue it once it has ended")
    with _ISSUING:
        outcome = service.issue(
            settings, month, issue_date=today, today=today, out_dir=settings.billing.out_dir, actor=who
        )
    numbers = [i.number for i in outcome.invoices]
    if outcome.already_issued:
        return IssueAnswer(False, f"{month} est déjà émis ({len(numbers)} factures) : rien n'a changé.")
    span = f", {numbers[0]} à {numbers[-1]}" if numbers else ""
    return IssueAnswer(True, f"{month} émis : {len(numbers)} facture(s){span}.")


def credit(
    settings: Settings,
    viewer: Viewer,
    number: str,
    *,
    reason: str,
    today: date,
    positions: list[int] | None = None,
    amount: str | None = None,
) -> str:
    from analytics.billing.workflow import credit_invoice

    who = _require_acts(viewer)
    value = parse_amount(amount, "le montant") if amount else None
    done = credit_invoice(
        settings, number, reason=reason, actor=who, issue_date=today, today=today, positions=positions, amount=value
    )
    return f"Avoir {done.note.number} émis sur {number} : {done.note.document.gross} € TTC."


def send(settings: Settings, viewer: Viewer, number: str, transport: str) -> str:
    from analytics.billing.workflow import send_document

    sent = send_document(settings, number, transport=transport, actor=_require_acts(viewer))
    return f"{sent.number} envoyé ({sent.transport}) à {sent.recipient}."


def pay(
    settings: Settings, viewer: Viewer, number: str, *, amount: str, paid_on: date, reference: str, today: date
) -> str:
    from analytics.billing.workflow import record_payment

    who = _require_acts(viewer)
    value = parse_amount(amount, "le montant")
    record_payment(settings, number, paid_on=paid_on, amount=value, reference=reference, actor=who, today=today)
    return f"Paiement de {value} € enregistré sur {number}."


def accounts(settings: Settings, viewer: Viewer, today: date, names: dict[str, str]) -> pl.DataFrame:
    """Every issued invoice and credit note the viewer may see, with its balance and status (an establishment: its
    own); `names`: FINESS -> establishment name, for the search."""
    from analytics.billing.workflow import statuses

    if not viewer.sees_money:
        raise Forbidden(f"{viewer.name} ({viewer.role}) may not see invoice amounts")
    found: list[Account] = [a for a in statuses(settings, today) if viewer.scope in (None, a.establishment_id)]
    return pl.DataFrame(
        [
            {
                "number": a.number,
                "kind": "facture" if a.kind == "invoice" else "avoir",
                "establishment_id": a.establishment_id,
                "name": names.get(a.establishment_id, ""),
                "month": a.month,
                "issue_date": a.issue_date,
                "gross": a.gross,
                "credited": a.credited,
                "paid": a.paid,
                "balance": a.balance,
                "due_date": a.due_date,
                "status": a.status,
                "days_late": a.days_late,
                "references": ", ".join(a.references),
                "sent": a.sent,
            }
            for a in found
        ],
        schema=ACCOUNT_SCHEMA,
    )


def search(table: pl.DataFrame, text: str, status: str | None) -> pl.DataFrame:
    """Rows whose number, establishment name or FINESS contains `text` (case-insensitive), of `status` if given."""
    text = text.strip().casefold()
    if text:
        table = table.filter(
            pl.any_horizontal(
                pl.col(c).fill_null("").str.to_lowercase().str.contains(text, literal=True)
                for c in ("number", "name", "establishment_id")
            )
        )
    return table if status is None else table.filter(pl.col("status") == status)


def balance(table: pl.DataFrame) -> Decimal:
    """What the invoices shown still owe (credit notes are inside their invoice's balance)."""
    return sum(table.filter(pl.col("kind") == "facture")["balance"].to_list(), Decimal("0.00"))
