"""The monthly settlement statement between establishments for tele-opinions: never part of the GCS's invoices.

For each pair, the requester owes the responder `settlement.fee` (framework.yaml) per answered day request and
`settlement.on_call_fee` per answered on-call request; the two directions of two establishments are netted, and the
one with the larger debt owes the difference (a zero net is no line). analytics.opinions.statement_pdf writes the
statement as CSV and PDF under the billing output directory's `settlements/` folder, outside the invoice numbering.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from analytics.billing.tariff import Settlement
from analytics.opinions.facts import PairMonth
from analytics.periods import Month

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class SettlementLine:
    debtor: str
    creditor: str
    amount: Decimal  # > 0, to the cent


def owed(pair: PairMonth, terms: Settlement) -> Decimal:
    """What the pair's requester owes its responder for the month, before netting."""
    day = pair.answered - pair.answered_on_call
    return (day * terms.fee + pair.answered_on_call * terms.on_call_fee).quantize(CENT)


def net(pairs: Iterable[PairMonth], terms: Settlement) -> list[SettlementLine]:
    """Who owes whom how much, one line per pair of establishments with a non-zero balance."""
    balance: dict[tuple[str, str], Decimal] = {}  # (a, b) with a < b: what a owes b (negative: b owes a)
    for pair in pairs:
        amount = owed(pair, terms)
        a, b = sorted((pair.requester, pair.responder))
        sign = 1 if pair.requester == a else -1
        balance[(a, b)] = balance.get((a, b), Decimal("0.00")) + sign * amount
    lines = []
    for (a, b), amount in sorted(balance.items()):
        if amount > 0:
            lines.append(SettlementLine(a, b, amount))
        elif amount < 0:
            lines.append(SettlementLine(b, a, -amount))
    return sorted(lines, key=lambda x: (x.debtor, x.creditor))


def to_csv(month: Month, lines: list[SettlementLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", "debtor", "creditor", "amount"])
    for line in lines:
        writer.writerow([str(month), line.debtor, line.creditor, f"{line.amount:.2f}"])
    return out.getvalue()
