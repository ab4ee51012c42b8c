"""What a proposed tariff would have billed: every metered month rated again under it, next to the current tariff.

The rating is the invoices' own (`rules.month_prices` and `rules.draft_invoice`: prorated subscription, per-unit,
graduated and volume charges, the minimum-consumption top-up, VAT), so a proposal identical to the tariff in force
gives every establishment a delta of exactly 0.00. Nothing here writes: the caller passes the usage and the issued
invoices it read.

What is compared, per establishment and month (docs/billing.md, "Simulating a proposed tariff"):
- an issued month: the issued invoice's own lines (subscription, usage, minimum top-up) as billed, against the
  proposal applied to the usage recorded on that invoice (late data is not a tariff effect);
- any other month: the draft under the tariff in force against the proposal, both from the same usage.
Regularisations of other months and service-level credits are left out of both sides. Amounts are Decimal, each line
rounded half-up to the cent as on an invoice; totals are exact sums of those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from analytics import metering
from analytics.billing.credits import SLA
from analytics.billing.model import Invoice
from analytics.billing.rules import REGUL, draft_invoice, month_prices
from analytics.billing.tariff import Tariff
from analytics.periods import Month
from analytics.registry import Registry

PROPOSALS_DIR = "proposals"  # proposed tariffs, under the contracts folder
ISSUED, DRAFT = "issued", "draft"
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class MonthBill:
    """One establishment's month under both tariffs."""

    month: Month
    establishment_id: str
    offer: str
    status: str  # issued (current = as billed) | draft (current = drafted under the tariff in force)
    current_net: Decimal
    simulated_net: Decimal
    current_gross: Decimal
    simulated_gross: Decimal

    @property
    def delta(self) -> Decimal:
        return self.simulated_net - self.current_net


@dataclass(frozen=True)
class Simulation:
    proposal: Tariff  # as priced: laid over the current agreement's dates when it does not cover the months
    laid_over: bool
    months: tuple[Month, ...]
    bills: tuple[MonthBill, ...]
    month_to_date: dict[str, str] = field(default_factory=dict)  # month -> last day covered, for a month not ended

    @property
    def current_net(self) -> Decimal:
        return sum((b.current_net for b in self.bills), ZERO)

    @property
    def simulated_net(self) -> Decimal:
        return sum((b.simulated_net for b in self.bills), ZERO)


def laid_over(proposal: Tariff, current: Tariff, months: list[Month]) -> tuple[Tariff, bool]:
    """The proposal as it prices these months. A proposal for the next agreement does not cover the months already
    metered: it is then priced as if it had been in force instead of the current one (the current agreement's dates,
    revision clause and index), so both are compared at the same price level, the revision coefficient of each
    month applied to the proposal's prices as to the current ones."""
    if all(proposal.covers(m) for m in months):
        return proposal, False
    return replace(
        proposal,
        valid_from=current.valid_from,
        valid_to=current.valid_to,
        revision=current.revision,
        price_index=current.price_index,
    ), True


def own_month(invoice: Invoice) -> Invoice:
    """An issued invoice's lines for its own month: without the regularisations of earlier months it carries, nor
    the service-level credits of the month before."""
    return replace(invoice, lines=tuple(line for line in invoice.lines if not line.code.startswith((REGUL, SLA))))


def simulate(
    registry: Registry,
    current: Tariff,
    proposal: Tariff,
    months: list[Month],
    usage: Mapping[Month, Mapping[str, Mapping[str, Decimal]]],
    issued: Mapping[Month, list[Invoice]],
) -> Simulation:
    """Every establishment billed in each month, under both tariffs. `usage`: month -> establishment -> metric (as
    metered); `issued`: the ledger's invoices of the issued months (their usage is the one compared)."""
    priced, moved = laid_over(proposal, current, months)
    establishments = registry.by_id()
    bills: list[MonthBill] = []
    for month in sorted(months):
        now, then = month_prices(current, month), month_prices(priced, month)
        if month in issued:
            pairs = [(own_month(inv), inv.usage) for inv in sorted(issued[month], key=lambda i: i.establishment_id)]
            for billed, used in pairs:
                establishment = establishments.get(billed.establishment_id)
                if establishment is None or not billed.lines:
                    continue
                simulated = draft_invoice(establishment, month, used, priced, then)
                bills.append(_bill(month, billed, simulated, ISSUED))
            continue
        month_usage = usage.get(month, {})
        for establishment in sorted(registry.establishments, key=lambda e: e.establishment_id):
            used = month_usage.get(establishment.establishment_id, metering.zero_usage())
            drafted = draft_invoice(establishment, month, used, current, now)
            if drafted is not None:
                bills.append(_bill(month, drafted, draft_invoice(establishment, month, used, priced, then), DRAFT))
    return Simulation(priced, moved, tuple(sorted(months)), tuple(bills))


def _bill(month: Month, current: Invoice, simulated: Invoice | None, status: str) -> MonthBill:
    sim_net, sim_gross = (simulated.net, simulated.gross) if simulated is not None else (ZERO, ZERO)
    return MonthBill(
        month, current.establishment_id, current.offer, status, current.net, sim_net, current.gross, sim_gross
    )


def by_establishment(simulation: Simulation) -> list[dict[str, object]]:
    """Per establishment over the months: offer, both nets and the delta (Decimal), months and statuses."""
    totals: dict[str, dict[str, object]] = {}
    for bill in simulation.bills:
        row = totals.setdefault(
            bill.establishment_id,
            {
                "establishment_id": bill.establishment_id,
                "offer": bill.offer,
                "current_net": ZERO,
                "simulated_net": ZERO,
                "current_gross": ZERO,
                "simulated_gross": ZERO,
                "months": 0,
                "issued_months": 0,
            },
        )
        for key in ("current_net", "simulated_net", "current_gross", "simulated_gross"):
            row[key] += getattr(bill, key)  # type: ignore[operator]
        row["months"] += 1  # type: ignore[operator]
        row["issued_months"] += bill.status == ISSUED  # type: ignore[operator]
    for row in totals.values():
        row["delta"] = row["simulated_net"] - row["current_net"]  # type: ignore[operator]
    return [totals[k] for k in sorted(totals)]


def simulation_dict(
    simulation: Simulation, source: str, first: Month | None = None, last: Month | None = None
) -> dict[str, object]:
    """The JSON of `sansfilm simulate` (amounts as strings, two decimals): the keys of the contract first, then more."""
    months = simulation.months
    rows = by_establishment(simulation)
    current, simulated = simulation.current_net, simulation.simulated_net
    return {
        "from": str(first) if first else (str(months[0]) if months else None),
        "to": str(last) if last else (str(months[-1]) if months else None),
        "current_net": str(current),
        "simulated_net": str(simulated),
        "establishments": [
            {
                "establishment_id": r["establishment_id"],
                "offer": r["offer"],
                "current_net": str(r["current_net"]),
                "simulated_net": str(r["simulated_net"]),
                "delta": str(r["delta"]),
            }
            | {"current_gross": str(r["current_gross"]), "simulated_gross": str(r["simulated_gross"])}
            | {"months": r["months"], "issued_months": r["issued_months"]}
            for r in rows
        ],
        "delta": str(simulated - current),
        "current_gross": str(sum((b.current_gross for b in simulation.bills), ZERO)),
        "simulated_gross": str(sum((b.simulated_gross for b in simulation.bills), ZERO)),
        "months": [str(m) for m in months],
        "month_to_date": simulation.month_to_date,
        "proposal": {"file": source, "contract_id": simulation.proposal.contract_id, "laid_over": simulation.laid_over},
        "rounding": "each invoice line half-up to the cent, as invoiced; totals are exact sums of those",
    }
