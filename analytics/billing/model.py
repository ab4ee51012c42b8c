"""The billing vocabulary shared by the tariff, the invoice rules, the ledger and the documents.

Money is `Decimal` everywhere (never float). Amounts are rounded half-up to the cent per line (see docs/billing.md);
quantities keep full precision.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
CENT = Decimal("0.01")

# The usage metrics, in the order reports show them.
METRICS = (
    "studies_archived", "instances_archived", "bytes_archived", "storage_gb_month", "retrievals", "shares", "views",
)  # fmt: skip


def round_money(amount: Decimal) -> Decimal:
    """Half-up to the cent: the one rounding rule of every invoice amount."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """A billing month: a calendar month in Europe/Paris."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ValueError(f"'{text}' is not a month (YYYY-MM)")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def start(self) -> datetime:
        """First instant of the month in Paris (aware)."""
        return datetime(self.year, self.month, 1, tzinfo=PARIS)

    @property
    def end(self) -> datetime:
        """First instant of the next month in Paris (aware, exclusive bound)."""
        nxt = self.next()
        return datetime(nxt.year, nxt.month, 1, tzinfo=PARIS)

    def dates(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.days)]


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
