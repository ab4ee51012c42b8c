"""The annual price revision of the framework agreement: P = P0 x (a + b x I / I0), from each anniversary.

The terms are the `revision:` section of `contracts/framework.yaml`, the index values `contracts/price_index.csv`.
Rules (docs/billing.md, "Annual price revision"):
- Anniversaries are the dates of `valid_from` in the following years (2010-04-01 -> 2011-04-01, 2012-04-01...);
  a 29 February start has its anniversary on 1 March in other years.
- A billing month uses the coefficient of the latest anniversary on or before its first day. A month that contains
  an anniversary after its first day (an agreement starting on the 15th) keeps the previous coefficient: the new
  one starts with the first month that begins on or after the anniversary. Before the first anniversary the prices
  are the tariff's (no coefficient).
- Every coefficient is computed from the base prices P0 and the base index I0 (never compounded year on year), then
  rounded half-up to `coefficient_decimals`; revised unit and tier prices are P0 x coefficient rounded half-up to
  `unit_price_decimals`, monthly fees and minimums to `fee_decimals`.
- I is the index value of the latest month published strictly before the anniversary; it must be at most
  `max_lag_months` months older than the anniversary's month, otherwise the newer value is missing from the file.
  A missing value makes a draft "revision pending" (provisional prices: the previous coefficient) and refuses
  issuing (`require_revision_indices`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal

from analytics.billing.model import PriceRevision
from analytics.billing.price_index import PRICE_INDEX_FILE
from analytics.billing.tariff import OfferTariff, RevisionTerms, Tariff, Tier
from analytics.errors import ContractError
from analytics.periods import Month

_DIVISION = Context(prec=28, rounding=ROUND_HALF_EVEN)


class IndexValueMissing(ContractError):
    """A price index value the revision needs is not in the index file (not published yet, or not added)."""


def anniversary(start: date, years: int) -> date:
    """`start` moved `years` years on; 29 February becomes 1 March in a year without one."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return date(start.year + years, 3, 1)


def applicable_anniversary(tariff: Tariff, month: Month) -> date | None:
    """The latest anniversary on or before the month's first day; None in the agreement's first year."""
    found = None
    years = 1
    while (day := anniversary(tariff.valid_from, years)) <= month.first_day:
        found, years = day, years + 1
    return found


def round_half_up(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def coefficient(terms: RevisionTerms, current: Decimal, base: Decimal) -> Decimal:
    """a + b x I / I0, rounded half-up as the contract states (the division in a fixed 28-digit context)."""
    return round_half_up(terms.a + _DIVISION.divide(terms.b * current, base), terms.coefficient_decimals)


def revision_for(tariff: Tariff, month: Month) -> PriceRevision | None:
    """The revision a month's prices carry (pending when an index value is missing); None when there is none."""
    terms = tariff.revision
    if terms is None or (day := applicable_anniversary(tariff, month)) is None:
        return None
    try:
        return _revision_at(tariff, terms, day)
    except IndexValueMissing as missing:
        provisional = _provisional(tariff, terms, day)
        return PriceRevision(terms.index, terms.a, terms.b, provisional, day, None, None, pending=str(missing))


def require_revision_indices(tariff: Tariff, month: Month) -> None:
    """The issuing gate: raise IndexValueMissing when the month's coefficient needs an index value not listed."""
    terms = tariff.revision
    if terms is not None and (day := applicable_anniversary(tariff, month)) is not None:
        _revision_at(tariff, terms, day, month)


def waits_for_index(tariff: Tariff, month: Month) -> bool:
    """Whether issuing `month` is refused until the index file lists a value its revision needs (the gate above)."""
    try:
        require_revision_indices(tariff, month)
    except IndexValueMissing:
        return True
    return False


def _revision_at(tariff: Tariff, terms: RevisionTerms, day: date, month: Month | None = None) -> PriceRevision:
    path = tariff.price_index.path if tariff.price_index else tariff.path.with_name(PRICE_INDEX_FILE)
    series = tariff.price_index
    billing = f"to revise the prices of {month} " if month else "to revise the prices "
    base = series.value(terms.index, terms.base_period) if series else None
    if base is None:
        raise IndexValueMissing(
            path,
            f"price index {terms.index}: the base value I0 of {terms.base_period} (revision.base_period of "
            f"{tariff.path.name}) is needed {billing}(anniversary {day}) but is not listed; add it to {path}",
            field="value",
        )
    current = series.last_published_before(terms.index, day) if series else None
    anniversary_month = Month(day.year, day.month)
    oldest = anniversary_month
    for _ in range(terms.max_lag_months):
        oldest = oldest.previous()
    if current is None or current.period < oldest:
        last = (
            f"the last listed before it is {current.period}, published {current.published_on}"
            if current
            else ("none is listed")
        )
        raise IndexValueMissing(
            path,
            f"price index {terms.index}: the value of {oldest} (or a later month) published before {day} is "
            f"needed {billing}(anniversary {day}) but {last}; add the published value to {path} and issue again",
            field="value",
        )
    return PriceRevision(
        terms.index, terms.a, terms.b, coefficient(terms, current.value, base.value), day, current, base
    )


def _provisional(tariff: Tariff, terms: RevisionTerms, day: date) -> Decimal:
    """The coefficient a pending draft is priced at: the latest earlier anniversary's that can be computed, or 1."""
    years = day.year - tariff.valid_from.year - 1
    while years >= 1:
        try:
            return _revision_at(tariff, terms, anniversary(tariff.valid_from, years)).coefficient
        except IndexValueMissing:
            years -= 1
    return Decimal(1)


def revised_offer(offer: OfferTariff, revision: PriceRevision, terms: RevisionTerms) -> OfferTariff:
    """Every price of the offer (fee, minimum, unit and tier prices) times the coefficient, rounded per the terms."""
    c = revision.coefficient

    def fee(amount: Decimal) -> Decimal:
        return round_half_up(amount * c, terms.fee_decimals)

    def price(amount: Decimal) -> Decimal:
        return round_half_up(amount * c, terms.unit_price_decimals)

    charges = tuple(
        replace(
            charge,
            unit_price=None if charge.unit_price is None else price(charge.unit_price),
            tiers=tuple(Tier(t.up_to, price(t.unit_price)) for t in charge.tiers),
        )
        for charge in offer.charges
    )
    minimum = None if offer.minimum_monthly is None else fee(offer.minimum_monthly)
    return OfferTariff(offer.code, fee(offer.monthly_fee), minimum, charges)
