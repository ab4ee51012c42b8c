"""Regularisation lines: what an issued invoice billed against what its month's usage gives now.

A credit note issued against a line of an invoice (analytics.billing.followup) has already corrected that line: when
the month's data changes that line later, the regularisation starts from what is still billed for it (the line, the
regularisations since, minus what credit notes took off it), so the month is not corrected twice. A line whose data
did not change is left as finance credited it (a credit is a decision, not a figure to recompute). A credit of an
amount names no line: it is not netted (docs/billing.md, "Regularisation").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import and_, select

from analytics import metering
from analytics.billing.contracts import Contracts
from analytics.billing.credits import SLA
from analytics.billing.ledger_tables import credit_note, credit_note_line, invoice_line
from analytics.billing.model import Invoice, InvoiceLine
from analytics.billing.rules import draft_invoice, regularisation_lines
from analytics.periods import Month

if TYPE_CHECKING:
    from analytics.billing.ledger import Ledger

REGUL = "REGUL:"
# invoice number -> line code -> (quantity, amount) that credit notes took off it (both negative)
Credited = Mapping[str, Mapping[str, tuple[Decimal, Decimal]]]


def fold_line_credits(rows: Iterable[tuple[str, str, str | None, Decimal, Decimal]]) -> dict[str, dict[str, tuple]]:
    """(credited invoice, code of the credited line, its reference, quantity, amount of the credit note line) ->
    Credited. A credited REGUL line corrects the invoice it references: its credit goes to that invoice's line."""
    credited: dict[str, dict[str, tuple[Decimal, Decimal]]] = {}
    for number, code, reference, quantity, amount in rows:
        if code.startswith(SLA):
            continue  # a service-level credit belongs to no month's usage
        if code.startswith(REGUL) and reference:
            number, code = reference, code.removeprefix(REGUL)
        q, a = credited.setdefault(number, {}).get(code, (Decimal(0), Decimal("0.00")))
        credited[number][code] = (q + quantity, a + amount)
    return credited


def line_credits(ledger: Ledger) -> dict[str, dict[str, tuple[Decimal, Decimal]]]:
    """What the ledger's credit notes took off each invoice line (credits of chosen lines; not credits of an amount)."""
    credited_line = and_(
        invoice_line.c.invoice_number == credit_note.c.invoice_number,
        invoice_line.c.position == credit_note_line.c.invoice_position,
    )
    with ledger.read("read the invoice lines credited") as conn:
        rows = conn.execute(
            select(
                credit_note.c.invoice_number,
                invoice_line.c.code,
                invoice_line.c.reference,
                credit_note_line.c.quantity,
                credit_note_line.c.amount,
            )
            .select_from(
                credit_note_line.join(credit_note, credit_note.c.number == credit_note_line.c.credit_note_number).join(
                    invoice_line, credited_line
                )
            )
            .order_by(credit_note.c.seq, credit_note_line.c.position)
        ).all()
    return fold_line_credits(tuple(r) for r in rows)


def _effective(original: Invoice, later: list[Invoice]) -> Invoice:
    """An issued invoice as corrected so far: its lines plus the regularisations issued since that reference it."""
    # its own regularisation lines correct other invoices: they are not part of what this one billed for its month
    # nor are its service-level credits (they credit the month before)
    lines: dict[str, InvoiceLine] = {
        line.code: line for line in original.lines if not line.code.startswith((REGUL, SLA))
    }
    for invoice in later:
        for line in invoice.lines:
            if line.reference == original.number and line.code.startswith(REGUL):
                code = line.code.removeprefix(REGUL)
                base = lines.get(code)
                quantity = (base.quantity if base else Decimal(0)) + line.quantity
                amount = (base.amount if base else Decimal("0.00")) + line.amount
                lines[code] = InvoiceLine(
                    code, base.description if base else line.description, line.metric, quantity, line.unit_price, amount
                )
    return replace(original, lines=tuple(lines.values()))


def _net_of_credits(effective: Invoice, corrected: Invoice, credits: Mapping[str, tuple[Decimal, Decimal]]) -> Invoice:
    """The effective invoice with what credit notes took off each line whose data changed since (a line credited in
    full and no longer billed at all is dropped, so that no zero line is cancelled)."""
    if not credits:
        return effective
    now = {line.code: (line.quantity, line.amount) for line in corrected.lines}
    lines = []
    for line in effective.lines:
        credit = credits.get(line.code)
        if credit is None or now.get(line.code) == (line.quantity, line.amount):
            lines.append(line)
            continue
        quantity, amount = line.quantity + credit[0], line.amount + credit[1]
        if quantity or amount:
            lines.append(replace(line, quantity=quantity, amount=amount))
    return replace(effective, lines=tuple(lines))


def regularisations(
    contracts: Contracts,
    issued: dict[Month, list[Invoice]],
    usage: dict[Month, dict[str, dict[str, Decimal]]],
    credited: Credited | None = None,
) -> dict[str, list[InvoiceLine]]:
    """Establishment id -> regularisation lines for every issued invoice whose month's data has changed since;
    `credited` (line_credits): what credit notes took off the issued lines, netted out."""
    later_invoices = [inv for invoices in issued.values() for inv in invoices]
    establishments = contracts.registry.by_id()
    lines: dict[str, list[InvoiceLine]] = {}
    for month in sorted(issued):
        for original in issued[month]:
            establishment = establishments.get(original.establishment_id)
            if establishment is None:
                continue
            corrected = draft_invoice(
                establishment,
                month,
                usage[month].get(original.establishment_id, metering.zero_usage()),
                contracts.tariff,
            )
            if corrected is None:
                continue
            effective = _effective(original, [i for i in later_invoices if i.month > month])
            effective = _net_of_credits(effective, corrected, (credited or {}).get(original.number or "", {}))
            lines.setdefault(original.establishment_id, []).extend(regularisation_lines(effective, corrected))
    return lines
