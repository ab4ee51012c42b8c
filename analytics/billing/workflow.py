"""Finance's acts after issuing, over the settings: credit, send, record a payment, follow each invoice. The CLI
(`sansfilm credit`, `send`, `payments`) and the dashboards' Factures page call these same functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from analytics.billing import followup
from analytics.billing.followup import Account, CreditNote
from analytics.billing.model import Month
from analytics.billing.sending import Sent, send
from analytics.config import Settings


@dataclass(frozen=True)
class Credited:
    note: CreditNote
    documents: list[Path]


def due_days(settings: Settings) -> Callable[[str], int]:
    """Establishment id -> days to pay, from `payment_terms` in framework.yaml and the establishment's sector."""
    from analytics.billing.contracts import load_contracts

    contracts = load_contracts(settings)
    sectors = {e.establishment_id: e.sector for e in contracts.registry.establishments}
    terms = contracts.tariff.payment_terms
    return lambda establishment_id: terms.days_for(sectors.get(establishment_id))


def credit_invoice(
    settings: Settings,
    number: str,
    *,
    reason: str,
    actor: str,
    issue_date: date,
    today: date,
    positions: Sequence[int] | None = None,
    amount: Decimal | None = None,
) -> Credited:
    """Issue a credit note against an issued invoice, then write its documents beside the invoice's, under
    [billing] out_dir/<month of the invoice>/ (the ledger commits first, as for an issue)."""
    from analytics.billing.documents import render_documents, write_documents
    from analytics.billing.issue_rules import document_name
    from analytics.billing.ledger import Ledger

    with Ledger(settings.ledger.url) as ledger:
        note = followup.credit(
            ledger,
            number,
            reason=reason,
            actor=actor,
            issue_date=issue_date,
            today=today,
            render=render_documents,
            positions=positions,
            amount=amount,
        )
    folder = settings.billing.out_dir / str(note.document.month)
    names = {kind: document_name(note.number, kind) for kind in note.documents}
    return Credited(note, write_documents(dict(note.documents), names, folder))


def send_document(settings: Settings, number: str, *, transport: str, actor: str) -> Sent:
    from analytics.billing.contracts import load_contracts
    from analytics.billing.ledger import Ledger

    emails = {e.establishment_id: e.billing_email for e in load_contracts(settings).registry.establishments}
    with Ledger(settings.ledger.url) as ledger:
        return send(ledger, settings.billing, number, transport=transport, actor=actor, email_of=emails)


def record_payment(
    settings: Settings, number: str, *, paid_on: date, amount: Decimal, reference: str, actor: str, today: date
) -> int:
    from analytics.billing.ledger import Ledger

    with Ledger(settings.ledger.url) as ledger:
        return followup.pay(
            ledger, number, paid_on=paid_on, amount=amount, reference=reference, actor=actor, today=today
        )


def statuses(settings: Settings, today: date) -> list[Account]:
    """Every issued invoice and credit note with its balance and status on `today` (none before the first issue)."""
    from analytics.billing.ledger import Ledger, not_created_yet

    if not_created_yet(settings.ledger.url, "cannot tell which invoices were issued or what is owed"):
        return []
    terms = due_days(settings)
    with Ledger(settings.ledger.url) as ledger:
        return followup.accounts(ledger, terms, today)


def credit_note_documents(settings: Settings) -> list[tuple[str, str, Path, str]]:
    """(credit note number, kind, path under [billing] out_dir, recorded SHA-256) of every credit note's document."""
    from sqlalchemy import select

    from analytics.billing.ledger import Ledger, not_created_yet
    from analytics.billing.ledger_tables import credit_note, credit_note_document, invoice

    if not_created_yet(settings.ledger.url, "cannot tell which credit notes were issued"):
        return []
    with Ledger(settings.ledger.url) as ledger, ledger.read("read the credit notes' documents") as conn:
        rows = conn.execute(
            select(credit_note_document, invoice.c.month)
            .join(credit_note, credit_note.c.number == credit_note_document.c.credit_note_number)
            .join(invoice, invoice.c.number == credit_note.c.invoice_number)
            .order_by(credit_note.c.seq, credit_note_document.c.kind)
        ).all()
    return [(r.credit_note_number, r.kind, settings.billing.out_dir / r.month / r.file_name, r.sha256) for r in rows]


def rewrite_credit_notes(settings: Settings, month: Month) -> list[Path]:
    """Write again, from the ledger, the credit note documents of the month's invoices that are missing or altered
    under [billing] out_dir (byte for byte as issued; refused, writing nothing, if a rendering does not give the
    recorded SHA-256)."""
    import hashlib

    from analytics.billing.documents import render_documents, sha256_of, write_documents
    from analytics.billing.ledger import Ledger, LedgerError

    damaged = [
        (n, k, p, s)
        for n, k, p, s in credit_note_documents(settings)
        if p.parent.name == str(month) and sha256_of(p) != s
    ]
    written: list[Path] = []
    with Ledger(settings.ledger.url) as ledger:
        rendered = {n: render_documents(followup.credit_note_document_of(ledger, n)) for n in {d[0] for d in damaged}}
    for number, kind, path, sha in damaged:
        if hashlib.sha256(rendered[number][kind]).hexdigest() != sha:
            raise LedgerError(
                f"{path.name} rendered from the ledger does not give the SHA-256 recorded when {number} "
                "was issued: restore it from a backup; nothing was written"
            )
    for number, kind, path, _ in damaged:
        written += write_documents({kind: rendered[number][kind]}, {kind: path.name}, path.parent)
    return written
