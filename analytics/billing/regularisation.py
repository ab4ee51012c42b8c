"""Regularisation lines: what an issued invoice billed against what its month's usage gives now."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from analytics import metering
from analytics.billing.contracts import Contracts
from analytics.billing.credits import SLA
from analytics.billing.model import Invoice, InvoiceLine
from analytics.billing.rules import draft_invoice, regularisation_lines
from analytics.periods import Month


def _effective(original: Invoice, later: list[Invoice]) -> Invoice:
    """An issued invoice as corrected so far: its lines plus the regularisations issued since that reference it."""
    # its own regularisation lines correct other invoices: they are not part of what this one billed for its month
    # nor are its service-level credits (they credit the month before)
    lines: dict[str, InvoiceLine] = {
        line.code: line for line in original.lines if not line.code.startswith(("REGUL:", SLA))
    }
    for invoice in later:
        for line in invoice.lines:
            if line.reference == original.number and line.code.startswith("REGUL:"):
                code = line.code.removeprefix("REGUL:")
                base = lines.get(code)
                quantity = (base.quantity if base else Decimal(0)) + line.quantity
                amount = (base.amount if base else Decimal("0.00")) + line.amount
                lines[code] = InvoiceLine(
                    code, base.description if base else line.description, line.metric, quantity, line.unit_price, amount
                )
    return replace(original, lines=tuple(lines.values()))


def regularisations(
    contracts: Contracts, issued: dict[Month, list[Invoice]], usage: dict[Month, dict[str, dict[str, Decimal]]]
) -> dict[str, list[InvoiceLine]]:
    """Establishment id -> regularisation lines for every issued invoice whose month's data has changed since."""
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
            lines.setdefault(original.establishment_id, []).extend(regularisation_lines(effective, corrected))
    return lines
