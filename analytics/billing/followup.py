"""What follows an issue, in the ledger: credit notes, sendings and payments, each an act recorded with who did it and
when, in the transaction of its effect (Ledger.recording: under the ledger's lock, chained, never edited).

Why it is built this way:
- An issued invoice is never edited: it is corrected by a credit note (EN 16931 type 381) that references it (BT-25).
  A credit note takes its number in the one gapless sequence of the invoices (CGI art. 242 nonies A: credit notes
  are invoices) and is rendered by the invoices' own code (analytics.billing.documents) from its `Invoice` form:
  the credited lines negated, each naming the invoice, so the XML passes the same XSD and Schematron checks.
- A credit note credits whole lines (each at most once), or an amount excluding VAT (its VAT at the invoice's rate,
  half up to the cent); never more than the invoice's net not credited yet.
- Sending and payments change no amount: they are rows of their own (a re-send is another row); the status of an
  invoice is computed from them (`accounts`), never stored, so it cannot disagree with the acts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, or_, select

from analytics.billing.cii import CREDIT_PREFIX
from analytics.billing.issue_rules import document_name
from analytics.billing.ledger import Ledger
from analytics.billing.ledger_tables import (
    LedgerError,
    credit_note,
    credit_note_document,
    credit_note_line,
    dispatch,
    invoice,
    invoice_document,
    ledger_act,
    payment,
)
from analytics.billing.model import Invoice, InvoiceLine, round_money

STATUSES = ("draft", "issued", "sent", "partly paid", "paid", "overdue", "credited")


class ActRefused(LedgerError):
    """The ledger refuses this credit, sending or payment (the message says why and what to do)."""


@dataclass(frozen=True)
class CreditNote:
    number: str
    invoice_number: str
    scope: str  # total | lines | amount
    reason: str
    document: Invoice  # the credit note as its documents show it (number, lines negated, parties of the invoice)
    documents: Mapping[str, bytes]  # pdf, xml, csv as recorded (their SHA-256 are in the ledger)


@dataclass(frozen=True)
class Account:
    """One issued invoice or credit note and where it stands on `today`."""

    number: str
    kind: str  # invoice | credit_note
    establishment_id: str
    month: str
    issue_date: date
    gross: Decimal
    credited: Decimal  # gross of the credit notes against it (positive)
    paid: Decimal
    balance: Decimal  # gross - credited - paid
    due_date: date | None
    status: str
    days_late: int
    references: tuple[str, ...]  # an invoice's credit notes; a credit note's invoice
    sent: str | None  # the last sending: "2012-04-03T10:00:00+00:00 outbox"

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, (Decimal, date)) else list(v) if isinstance(v, tuple) else v)
            for k, v in self.__dict__.items()
        }


# --- credit notes -----------------------------------------------------------------------------------------------------


def parse_amount(text: str, what: str = "amount") -> Decimal:
    """A positive amount in euros with at most two decimals ('120.50'); anything else is refused in one line."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except (InvalidOperation, AttributeError):
        raise ActRefused(f"{what} '{text}' is not an amount: give euros with a dot, e.g. 120.50") from None
    if not value.is_finite() or value <= 0 or value != round_money(value):
        raise ActRefused(f"{what} '{text}' must be a positive amount in euros with at most two decimals, e.g. 120.50")
    return round_money(value)  # to the cent: 100 is recorded as 100.00


def credit_lines(
    original: Invoice, credited: set[int], positions: Sequence[int] | None, amount: Decimal | None, already_net: Decimal
) -> tuple[str, list[tuple[int | None, InvoiceLine]]]:
    """The scope and the lines of a credit note (amounts negated), or ActRefused. `credited`: positions credited
    before; `already_net`: the net credited before (negative)."""
    number = original.number
    remaining = original.net + already_net
    if original.gross <= 0:
        raise ActRefused(f"{number} is itself a credit note (total {original.gross}): it cannot be credited")
    if positions is not None and amount is not None:
        raise ActRefused("give either --lines or --amount, not both")
    if amount is not None:
        if amount > remaining:
            raise ActRefused(f"{number}: {amount} is more than the net not credited yet ({remaining} excluding VAT)")
        line = InvoiceLine(CREDIT_PREFIX, f"Avoir sur la facture {number}", None, Decimal(-1), amount, -amount, number)
        return "amount", [(None, line)]
    count = len(original.lines)
    if positions is None:
        chosen, scope = [p for p in range(1, count + 1) if p not in credited], "total"
        if not chosen:
            raise ActRefused(f"{number} is already credited in full: nothing is left to credit")
    else:
        chosen, scope = list(positions), "lines"
        if not chosen:
            raise ActRefused("--lines names no line: give line numbers such as 1,3")
        if len(set(chosen)) != len(chosen):
            raise ActRefused(f"--lines names a line twice ({','.join(map(str, chosen))})")
        for position in chosen:
            if not 1 <= position <= count:
                raise ActRefused(f"{number} has lines 1 to {count}: there is no line {position}")
            if position in credited:
                raise ActRefused(f"line {position} of {number} is already credited")
    lines = []
    for position in sorted(chosen):
        line = original.lines[position - 1]
        lines.append(
            (
                position,
                InvoiceLine(
                    f"{CREDIT_PREFIX}:{line.code}",
                    line.description,
                    line.metric,
                    -line.quantity,
                    line.unit_price,
                    -line.amount,
                    number,
                ),
            )
        )
    net = sum((line.amount for _, line in lines), Decimal("0.00"))
    if net >= 0:
        raise ActRefused(f"the chosen lines of {number} total {-net}: a credit note must credit a positive amount")
    if -net > remaining:
        raise ActRefused(
            f"{number}: these lines total {-net} excluding VAT, more than the net not credited yet "
            f"({remaining}): credit the rest with --amount"
        )
    return scope, lines


def credit(
    ledger: Ledger,
    number: str,
    *,
    reason: str,
    actor: str,
    issue_date: date,
    today: date,
    render: Callable[[Invoice], Mapping[str, bytes]],
    positions: Sequence[int] | None = None,
    amount: Decimal | None = None,
) -> CreditNote:
    """Issue a credit note against invoice `number` (all its lines not credited yet, the lines at `positions`, or
    `amount` excluding VAT), numbered, rendered and recorded in one transaction; the caller writes its documents."""
    reason = " ".join(reason.split())
    if not reason:
        raise ActRefused("a credit note needs a reason (--reason TEXT): it is printed on it")
    if issue_date > today:
        raise ActRefused(f"issue date {issue_date} is after today ({today}, Europe/Paris)")
    original = ledger.invoice(number)
    assert original.issue_date is not None
    with ledger.recording(f"credit {number}") as rec:
        conn = rec.conn
        previous = conn.execute(
            select(credit_note.c.number, credit_note.c.net).where(credit_note.c.invoice_number == number)
        ).all()
        credited = set(
            conn.execute(
                select(credit_note_line.c.invoice_position)
                .join(credit_note)
                .where(credit_note.c.invoice_number == number, credit_note_line.c.invoice_position.is_not(None))
            ).scalars()
        )
        scope, lines = credit_lines(
            original, credited, positions, amount, sum((r.net for r in previous), Decimal("0.00"))
        )
        latest = max(
            [
                d
                for t in (invoice, credit_note)
                if (d := conn.execute(select(func.max(t.c.issue_date))).scalar()) is not None
            ]
        )
        if issue_date < latest:
            raise ActRefused(
                f"issue date {issue_date} is before the last issue in the ledger ({latest}): numbers "
                f"follow issue dates; date it on or after {latest}"
            )
        seq, credit_number = rec.next_number()
        document = replace(
            original,
            number=credit_number,
            issue_date=issue_date,
            lines=tuple(l for _, l in lines),
            usage={},
            revision=None,
            note=f"Avoir sur la facture {number} : {reason}",
        )
        documents = render(document)
        act_id = rec.act(
            "credit",
            credit_number,
            actor,
            {
                "invoice": number,
                "scope": scope,
                "reason": reason,
                "net": str(document.net),
                "gross": str(document.gross),
            },
        )
        rec.insert(
            credit_note,
            [
                dict(
                    number=credit_number,
                    seq=seq,
                    invoice_number=number,
                    act_id=act_id,
                    scope=scope,
                    reason=reason,
                    issue_date=issue_date,
                    vat_rate=document.vat_rate,
                    net=document.net,
                    vat=document.vat,
                    gross=document.gross,
                )
            ],
        )
        fields = ("code", "description", "metric", "quantity", "unit_price", "amount")
        rec.insert(
            credit_note_line,
            [
                {"credit_note_number": credit_number, "position": i, "invoice_position": p}
                | {f: getattr(line, f) for f in fields}
                for i, (p, line) in enumerate(lines, start=1)
            ],
        )
        rec.insert(
            credit_note_document,
            [
                {
                    "credit_note_number": credit_number,
                    "kind": kind,
                    "file_name": document_name(credit_number, kind),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                }
                for kind, data in sorted(documents.items())
            ],
        )
    return CreditNote(credit_number, number, scope, reason, document, documents)


def credit_note_document_of(ledger: Ledger, number: str) -> Invoice:
    """A recorded credit note in its `Invoice` form (what its documents show), rebuilt from the ledger."""
    with ledger.read(f"read credit note {number}") as conn:
        head = conn.execute(select(credit_note).where(credit_note.c.number == number)).first()
        if head is None:
            raise ActRefused(f"no credit note numbered '{number}' in the ledger at {ledger.url}")
        rows = conn.execute(
            select(credit_note_line)
            .where(credit_note_line.c.credit_note_number == number)
            .order_by(credit_note_line.c.position)
        ).all()
    original = ledger.invoice(head.invoice_number)
    lines = tuple(
        InvoiceLine(r.code, r.description, r.metric, r.quantity, r.unit_price, r.amount, head.invoice_number)
        for r in rows
    )
    return replace(
        original,
        number=number,
        issue_date=head.issue_date,
        lines=lines,
        usage={},
        revision=None,
        note=f"Avoir sur la facture {head.invoice_number} : {head.reason}",
    )


# --- payments ---------------------------------------------------------------------------------------------------------


def pay(ledger: Ledger, number: str, *, paid_on: date, amount: Decimal, reference: str, actor: str, today: date) -> int:
    """Record a payment received for invoice `number`; the act's id. Refused: a date before the invoice or after
    today, an amount that is not positive or more than the balance due, an empty reference."""
    reference = " ".join(reference.split())
    if not reference:
        raise ActRefused("a payment needs its reference (--reference, e.g. the bank transfer's label)")
    if amount <= 0 or amount != round_money(amount):
        raise ActRefused(f"payment amount {amount} must be positive, in euros with at most two decimals")
    original = ledger.invoice(number)
    assert original.issue_date is not None
    if paid_on < original.issue_date:
        raise ActRefused(f"payment date {paid_on} is before {number} was issued ({original.issue_date})")
    if paid_on > today:
        raise ActRefused(f"payment date {paid_on} is after today ({today}, Europe/Paris)")
    with ledger.recording(f"record a payment of {number}") as rec:
        credited = -sum(
            rec.conn.execute(select(credit_note.c.gross).where(credit_note.c.invoice_number == number)).scalars(),
            Decimal("0.00"),
        )
        paid = sum(
            rec.conn.execute(select(payment.c.amount).where(payment.c.invoice_number == number)).scalars(),
            Decimal("0.00"),
        )
        due = original.gross - credited - paid
        if original.gross <= 0:
            raise ActRefused(f"{number} is a credit note (total {original.gross}): nothing is to be paid on it")
        if amount > due:
            raise ActRefused(
                f"{number}: {amount} is more than the balance due ({due}: total {original.gross}, "
                f"credited {credited}, paid {paid})"
            )
        act_id = rec.act(
            "payment", number, actor, {"amount": str(amount), "paid_on": paid_on.isoformat(), "reference": reference}
        )
        rec.insert(
            payment,
            [
                {
                    "act_id": act_id,
                    "invoice_number": number,
                    "paid_on": paid_on,
                    "amount": amount,
                    "reference": reference,
                }
            ],
        )
    return act_id


# --- reading: statuses, balances, the audit trail ---------------------------------------------------------------------


def accounts(ledger: Ledger, due_days: Callable[[str], int], today: date) -> list[Account]:
    """Every issued invoice and credit note, in number order, with its balance and status on `today`. `due_days`:
    establishment id -> days to pay (analytics.billing.tariff.PaymentTerms)."""
    with ledger.read("read the invoices' statuses") as conn:
        invoices = conn.execute(
            select(
                invoice.c.number,
                invoice.c.seq,
                invoice.c.establishment_id,
                invoice.c.month,
                invoice.c.issue_date,
                invoice.c.gross,
                invoice.c.payment_days,
            )
        ).all()
        notes = conn.execute(
            select(
                credit_note.c.number,
                credit_note.c.seq,
                credit_note.c.invoice_number,
                credit_note.c.issue_date,
                credit_note.c.gross,
            )
        ).all()
        payments = conn.execute(select(payment.c.invoice_number, payment.c.amount)).all()
        sendings = conn.execute(
            select(dispatch.c.document_number, dispatch.c.transport, ledger_act.c.recorded_at)
            .join(ledger_act, ledger_act.c.id == dispatch.c.act_id)
            .order_by(dispatch.c.act_id)
        ).all()
    sent = {r.document_number: f"{r.recorded_at} {r.transport}" for r in sendings}
    paid: dict[str, Decimal] = {}
    for row in payments:
        paid[row.invoice_number] = paid.get(row.invoice_number, Decimal("0.00")) + row.amount
    by_invoice: dict[str, list[Any]] = {}
    for note in notes:
        by_invoice.setdefault(note.invoice_number, []).append(note)
    heads = {i.number: i for i in invoices}
    found = []
    for i in invoices:
        credited = -sum((n.gross for n in by_invoice.get(i.number, [])), Decimal("0.00"))
        got = paid.get(i.number, Decimal("0.00"))
        balance = i.gross - credited - got if i.gross > 0 else Decimal("0.00")
        days = due_days(i.establishment_id) if i.payment_days is None else i.payment_days  # as printed, when recorded
        due = i.issue_date + timedelta(days=days) if i.gross > 0 else None
        late = (today - due).days if due is not None and balance > 0 and today > due else 0
        status = (
            ("paid" if got > 0 else "credited")
            if i.gross > 0 and balance <= 0
            else ("overdue" if late else "partly paid" if got > 0 else "sent" if i.number in sent else "issued")
        )
        found.append(
            (
                i.seq,
                Account(
                    i.number,
                    "invoice",
                    i.establishment_id,
                    i.month,
                    i.issue_date,
                    i.gross,
                    credited,
                    got,
                    balance,
                    due,
                    status,
                    late,
                    tuple(n.number for n in by_invoice.get(i.number, [])),
                    sent.get(i.number),
                ),
            )
        )
    for n in notes:
        of = heads[n.invoice_number]
        found.append(
            (
                n.seq,
                Account(
                    n.number,
                    "credit_note",
                    of.establishment_id,
                    of.month,
                    n.issue_date,
                    n.gross,
                    Decimal("0.00"),
                    Decimal("0.00"),
                    Decimal("0.00"),
                    None,
                    "sent" if n.number in sent else "issued",
                    0,
                    (n.invoice_number,),
                    sent.get(n.number),
                ),
            )
        )
    return [account for _, account in sorted(found, key=lambda pair: pair[0])]


def overdue(found: Sequence[Account]) -> list[Account]:
    """The invoices past their due date with a balance, the latest first."""
    return sorted((a for a in found if a.status == "overdue"), key=lambda a: (-a.days_late, a.number))


def acts(ledger: Ledger, subject: str | None = None) -> list[dict[str, Any]]:
    """The audit trail (every act, oldest first), or the acts about one month or number: an invoice's include the
    credit notes on it (their act's subject is the credit note's own number)."""
    query = select(ledger_act).order_by(ledger_act.c.id)
    if subject is not None:
        credits = select(credit_note.c.act_id).where(credit_note.c.invoice_number == subject)
        query = query.where(or_(ledger_act.c.subject == subject, ledger_act.c.id.in_(credits)))
    with ledger.read("read the audit trail") as conn:
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "subject": r.subject,
                "actor": r.actor,
                "recorded_at": r.recorded_at,
                "detail": json.loads(r.detail),
            }
            for r in conn.execute(query)
        ]


def payments_of(ledger: Ledger, number: str | None = None) -> list[dict[str, Any]]:
    query = (
        select(payment, ledger_act.c.actor, ledger_act.c.recorded_at)
        .join(ledger_act, ledger_act.c.id == payment.c.act_id)
        .order_by(payment.c.act_id)
    )
    if number is not None:
        query = query.where(payment.c.invoice_number == number)
    with ledger.read("read the payments") as conn:
        return [
            {
                "invoice_number": r.invoice_number,
                "paid_on": r.paid_on.isoformat(),
                "amount": str(r.amount),
                "reference": r.reference,
                "recorded_by": r.actor,
                "recorded_at": r.recorded_at,
            }
            for r in conn.execute(query)
        ]


@dataclass(frozen=True)
class Recorded:
    """Where an issued document is and what it is: under out_dir/<month>/<file_name>, with its recorded SHA-256."""

    number: str
    kind: str  # invoice | credit_note
    establishment_id: str
    month: str
    file_name: str
    sha256: str


def recorded_document(ledger: Ledger, number: str, kind: str) -> Recorded:
    """An issued invoice's or credit note's document of `kind` (pdf, xml, csv), as recorded."""
    columns = (invoice.c.establishment_id, invoice.c.month)
    with ledger.read(f"find the documents of {number}") as conn:
        row = conn.execute(
            select(*columns, invoice_document.c.file_name, invoice_document.c.sha256)
            .join(invoice, invoice.c.number == invoice_document.c.invoice_number)
            .where(invoice_document.c.invoice_number == number, invoice_document.c.kind == kind)
        ).first()
        what = "invoice"
        if row is None:
            what = "credit_note"
            row = conn.execute(
                select(*columns, credit_note_document.c.file_name, credit_note_document.c.sha256)
                .join(credit_note, credit_note.c.number == credit_note_document.c.credit_note_number)
                .join(invoice, invoice.c.number == credit_note.c.invoice_number)
                .where(credit_note_document.c.credit_note_number == number, credit_note_document.c.kind == kind)
            ).first()
    if row is None:
        raise ActRefused(
            f"no issued invoice or credit note '{number}' with a recorded {kind.upper()} in the ledger at {ledger.url}"
        )
    return Recorded(number, what, row.establishment_id, row.month, row.file_name, row.sha256)
