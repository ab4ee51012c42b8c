"""The billing vocabulary shared by the tariff, the invoice rules, the ledger and the documents.

Money is `Decimal` everywhere (never float). Amounts are rounded half-up to the cent per line (see docs/billing.md);
quantities keep full precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from analytics.periods import Month

CENT = Decimal("0.01")


def round_money(amount: Decimal) -> Decimal:
    """Half-up to the cent: the one rounding rule of every invoice amount."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    code: str  # stable machine code: SUBSCRIPTION, <metric>, <metric>:T<n>, MINIMUM, REGUL:<metric>...
    description: str  # what a finance officer reads
    metric: str | None  # the usage metric the line charges; None for subscription and top-up lines
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal  # rounded half-up to the cent
    reference: str | None = None  # for regularisation lines: the number of the invoice being corrected


@dataclass(frozen=True, slots=True)
class IndexPoint:
    """One published value of a price index: the month it measures, the value, the day it was published."""

    period: Month
    value: Decimal
    published_on: date


@dataclass(frozen=True, slots=True)
class PriceRevision:
    """The annual price revision an invoice's prices carry: P = P0 x coefficient, coefficient = a + b x I / I0.

    `pending` is set on drafts only, when the value I of the index is not in the index file yet: the coefficient is
    then the provisional one (the previous anniversary's, or 1) and issuing is refused (see `billing.revision`).
    """

    index: str
    a: Decimal
    b: Decimal
    coefficient: Decimal
    anniversary: date  # the anniversary of the agreement from which this coefficient applies
    current: IndexPoint | None  # I; None only when pending
    base: IndexPoint | None  # I0; None only when pending
    pending: str | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    establishment_id: str
    month: Month
    offer: str
    active_days: int
    days_in_month: int
    lines: tuple[InvoiceLine, ...]
    vat_rate: Decimal
    currency: str = "EUR"
    contract_id: str = ""
    number: str | None = None  # set when issued
    issue_date: date | None = None  # set when issued
    usage: dict[str, Decimal] = field(default_factory=dict)  # the usage statement the lines were computed from
    revision: PriceRevision | None = None  # None before the first anniversary or without a revision clause
    seller: Party | None = None  # set when issued: the parties as the documents show them, frozen in the ledger
    buyer: Party | None = None
    note: str | None = None  # credit notes: the invoice credited and why (printed; None on invoices)
    # set when issued: days to pay from the issue date (the payment terms of the buyer's sector, frozen in the ledger);
    # None on invoices issued before the ledger recorded it (revision 0005): they printed 30 days
    payment_days: int | None = None

    @property
    def net(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def vat(self) -> Decimal:
        return round_money(self.net * self.vat_rate)

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True, slots=True)
class Party:
    """Seller or buyer of an invoice, as EN 16931 and Chorus Pro need them."""

    name: str
    siret: str  # 14 digits; the legal identifier Chorus Pro routes on
    finess: str | None = None  # establishments only
    vat_id: str | None = None  # e.g. FR32123456789
    address: tuple[str, ...] = ()  # street lines
    postcode: str = ""
    city: str = ""
    country: str = "FR"
