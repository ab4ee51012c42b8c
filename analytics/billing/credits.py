"""Service-level credits on invoices (docs/service-levels.md): a breach in month M is credited on the establishment's
invoice of month M+1, one negative line per breached term, showing the measured figure and the target.

A credit is a percentage of month M's subscription fee (the SUBSCRIPTION line as drafted for M, so prorated to the
active days), rounded half-up to the cent; a month's credits together are capped at `credit_cap_percent` of that fee
(analytics.sla.measure applies the cap). The line is `SLA:<term>:<YYYY-MM>`, quantity -1 at the credit as unit price
(EN 16931 forbids a negative price, BR-27, so the sign is on the quantity as for regularisations), VAT as every line.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import duckdb

from analytics.billing.french import french_month, french_number
from analytics.billing.model import InvoiceLine
from analytics.billing.rules import SUBSCRIPTION, active_days, draft_invoice
from analytics.billing.tariff import Tariff
from analytics.periods import Month
from analytics.registry import Registry
from analytics.sla.measure import Assessment
from analytics.sla.terms import KINDS

SLA = "SLA:"


def subscription_fees(registry: Registry, tariff: Tariff, month: Month) -> dict[str, Decimal]:
    """Establishment id -> its subscription fee for the month (establishments with an active day), as drafted."""
    if not tariff.covers(month):
        return {}
    fees = {}
    for establishment in registry.establishments:
        if active_days(establishment, month) == 0 or establishment.offer not in tariff.offers:
            continue
        draft = draft_invoice(establishment, month, {}, tariff)
        if draft is not None:
            fees[establishment.establishment_id] = sum(
                (line.amount for line in draft.lines if line.code == SUBSCRIPTION), Decimal("0.00")
            )
    return fees


def credit_line(assessment: Assessment, currency: str = "EUR") -> InvoiceLine:
    """The measured figure with its two decimals; the target and the percentage as the contract writes them, without
    trailing zeros (so that a figure read back from the mart, stored with two decimals, reads the same)."""
    a = assessment
    assert a.measured is not None and a.breached
    month = french_month(a.month)
    sign = "<" if a.term.minimum else ">"
    unit = f" {a.term.unit}"
    description = (
        f"Crédit niveau de service – {a.term.label} {month} : {french_number(a.measured)}{unit} {sign} "
        f"{french_number(a.target.normalize())}{unit} ; "
        f"{french_number(a.credit_percent.normalize())} % de l'abonnement de {month} "
        f"({french_number(a.fee)} {currency})"
    )
    if a.capped:
        description += f", plafonné à {french_number(a.credit_amount)} {currency}"
    return InvoiceLine(
        f"{SLA}{a.term.name}:{a.month}", description, None, Decimal(-1), a.credit_amount, -a.credit_amount
    )


def credit_lines(assessments: Iterable[Assessment], currency: str = "EUR") -> dict[str, list[InvoiceLine]]:
    """Establishment id -> its credit lines (breaches with a non-zero credit), in term order."""
    lines: dict[str, list[InvoiceLine]] = {}
    for a in assessments:
        if a.breached and a.credit_amount > 0:
            lines.setdefault(a.establishment_id, []).append(credit_line(a, currency))
    return lines


def recorded_credit_lines(
    con: duckdb.DuckDBPyConnection, month: Month, currency: str = "EUR", establishment_id: str | None = None
) -> dict[str, list[InvoiceLine]]:
    """The credit lines of month `month`'s invoices as last assessed, read from marts.mart_service_levels (month
    M-1): for readers of the published warehouse (dashboards), which must not recompute or write. Empty when the
    previous month has not been assessed. `establishment_id`: that establishment's lines only."""
    tables = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = 'mart_service_levels'"
    ).fetchall()
    if tables[0][0] == 0:
        return {}
    kinds = {kind.name: kind for kind in KINDS}
    rows = con.execute(
        """select establishment_id, offer, term, measured::varchar, target::varchar, sample_size, details,
                  credit_percent::varchar, fee::varchar, credit_amount::varchar, capped
           from marts.mart_service_levels
           where month = $month and breached and establishment_id = coalesce($establishment, establishment_id)
           order by establishment_id""",
        {"month": str(month.previous()), "establishment": establishment_id},
    ).fetchall()
    order = {kind.name: i for i, kind in enumerate(KINDS)}
    assessments = [
        Assessment(
            month.previous(),
            e,
            offer,
            kinds[term],
            Decimal(measured),
            Decimal(target),
            True,
            sample,
            details,
            Decimal(percent),
            Decimal(fee),
            Decimal(amount),
            capped,
        )
        for e, offer, term, measured, target, sample, details, percent, fee, amount, capped in sorted(
            rows, key=lambda r: (r[0], order[r[2]])
        )
    ]
    return credit_lines(assessments, currency)
