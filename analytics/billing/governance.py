"""Framework governance for the GCS: is the agreement still valid, how much of its ceiling is used, and does each
establishment keep its annual commitment (docs/billing.md, "Framework governance").

Everything is relative to an `as_of` date (a Paris calendar day) given by the caller, never the clock. Only complete
months count: those that ended before `as_of`'s month. Amounts (excluding VAT) are the issued invoices of the ledger
for issued months and the drafts (billing rules on the metered usage, with the previous month's service-level
credits, without regularisation lines) for the others;
volumes are the metered usage of the registry's establishments. Money is Decimal, rounded half-up to the cent; shares
are rounded half-up to 4 decimals (0.1234 = 12.34 %).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from pathlib import Path

from analytics.billing.model import Invoice, round_money
from analytics.billing.price_index import parse_decimal, read_csv_rows
from analytics.billing.revision import anniversary
from analytics.billing.rules import active_days
from analytics.billing.tariff import Tariff
from analytics.errors import ContractError
from analytics.periods import Month
from analytics.registry import Registry

COMMITMENTS_FILE = "commitments.csv"
COMMITMENT_COLUMNS = ("establishment_id", "studies_per_year", "amount_per_year")
RENEWAL_ALERT_MONTHS = 12  # a renewal (new tender) takes about a year: alert when fewer months are left
RATE_WINDOW = 12  # the "current rate" is the mean of the last 12 complete months counted
SHARE = Decimal("0.0001")
_DIVISION = Context(prec=28, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Commitment:
    establishment_id: str
    studies_per_year: Decimal
    amount_per_year: Decimal  # excluding VAT


def load_commitments(contracts_dir: Path, registry: Registry) -> dict[str, Commitment]:
    """`contracts_dir/commitments.csv`, every FINESS known to the registry; errors name file, line and column."""
    path = Path(contracts_dir) / COMMITMENTS_FILE
    known = registry.by_id()
    commitments: dict[str, Commitment] = {}
    lines: dict[str, int] = {}
    for line, row in read_csv_rows(path, COMMITMENT_COLUMNS, "commitments file"):
        finess = row["establishment_id"]
        if not re.fullmatch(r"\d{9}", finess):
            raise ContractError(
                path, f"'{finess}' is not a FINESS number (9 digits)", line=line, field="establishment_id"
            )
        if finess not in known:
            raise ContractError(
                path,
                f"establishment {finess} is not in the registry ({registry.path.name})",
                line=line,
                field="establishment_id",
            )
        if finess in lines:
            raise ContractError(
                path,
                f"establishment {finess} is given twice (first on line {lines[finess]})",
                line=line,
                field="establishment_id",
            )
        studies = parse_decimal(path, line, "studies_per_year", row["studies_per_year"], positive=False)
        if studies != studies.to_integral_value():
            raise ContractError(
                path, f"'{studies}' is not a whole number of studies", line=line, field="studies_per_year"
            )
        amount = parse_decimal(path, line, "amount_per_year", row["amount_per_year"], positive=False)
        lines[finess] = line
        commitments[finess] = Commitment(finess, studies, amount)
    return commitments


# ---- validity ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Validity:
    contract_id: str
    valid_from: date
    valid_to: date
    as_of: date
    months_left: int  # whole months from as_of to valid_to (0 once fewer than a month is left or expired)
    days_left: int  # calendar days after as_of up to valid_to included; negative once expired
    alert_months: int
    status: str  # not_started | valid | renewal_due | expired


def months_between(start: date, end: date) -> int:
    """Whole calendar months from `start` to `end` (2014-04-01 -> 2015-03-31 is 11: 11 months and 30 days)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - (1 if end.day < start.day else 0)


def validity(tariff: Tariff, as_of: date, alert_months: int = RENEWAL_ALERT_MONTHS) -> Validity:
    days_left = (tariff.valid_to - as_of).days
    months_left = max(months_between(as_of, tariff.valid_to), 0) if days_left >= 0 else 0
    if as_of < tariff.valid_from:
        status = "not_started"
    elif as_of > tariff.valid_to:
        status = "expired"
    elif months_left < alert_months:
        status = "renewal_due"
    else:
        status = "valid"
    return Validity(
        tariff.contract_id, tariff.valid_from, tariff.valid_to, as_of, months_left, days_left, alert_months, status
    )


# ---- what was billed and used, month by month --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Billed:
    """One establishment's billed amount and metered usage in one complete month."""

    month: Month
    establishment_id: str
    status: str  # issued | draft | none (usage but no invoice: not live that month)
    net: Decimal
    usage: Mapping[str, Decimal]


def complete_months(tariff: Tariff, as_of: date) -> list[Month]:
    """The agreement's months that ended before as_of's month."""
    month, last = Month(tariff.valid_from.year, tariff.valid_from.month), Month(as_of.year, as_of.month).previous()
    last = min(last, Month(tariff.valid_to.year, tariff.valid_to.month))
    months = []
    while month <= last:
        months.append(month)
        month = month.next()
    return months


def billed_months(
    tariff: Tariff,
    as_of: date,
    issued_months: Iterable[Month],
    issued: Mapping[tuple[Month, str], Decimal],
    drafts: Iterable[Invoice],
    usage: Mapping[Month, Mapping[str, Mapping[str, Decimal]]],
) -> list[Billed]:
    """The ledger's nets ((month, FINESS) -> net) where the month is issued, drafts otherwise, with each
    establishment's metered usage. Drafts of issued months are ignored (the ledger is what was billed)."""
    months = set(complete_months(tariff, as_of))
    closed = set(issued_months)
    drafted = {(d.month, d.establishment_id): d.net for d in drafts if d.month in months and d.month not in closed}
    kept = {key: net for key, net in issued.items() if key[0] in months}
    keys = set(kept) | set(drafted) | {(m, e) for m, by_site in usage.items() if m in months for e in by_site}
    rows = []
    for month, establishment_id in sorted(keys):
        if (month, establishment_id) in kept:
            status, net = "issued", kept[month, establishment_id]
        elif (month, establishment_id) in drafted:
            status, net = "draft", drafted[month, establishment_id]
        else:
            status, net = "none", Decimal("0.00")
        rows.append(Billed(month, establishment_id, status, net, usage.get(month, {}).get(establishment_id, {})))
    return rows


# ---- ceiling -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CeilingUse:
    measure: str  # "amount" (excluding VAT) or a metric
    ceiling: Decimal
    consumed: Decimal
    issued: Decimal  # amounts only: the part on issued invoices (drafts are the rest); volumes: 0
    share: Decimal  # consumed / ceiling
    months_counted: int
    monthly_rate: Decimal  # mean of the last RATE_WINDOW months counted
    months_remaining: int  # complete months from the last counted to the end of the agreement
    projected: Decimal  # consumed + rate x months remaining
    projected_share: Decimal


def ceiling_use(tariff: Tariff, as_of: date, billed: list[Billed]) -> list[CeilingUse]:
    """Amount and volumes consumed against the ceiling, with a projection to the agreement's end at the current rate.

    Months before the first month with an invoice or usage are not counted (nothing was metered then).
    """
    if tariff.ceiling is None:
        return []
    months = sorted({b.month for b in billed})
    end = Month(tariff.valid_to.year, tariff.valid_to.month)
    last = months[-1] if months else None
    remaining = 0 if last is None else max(_month_number(end) - _month_number(last), 0)
    recent = set(months[-RATE_WINDOW:])
    measures: list[tuple[str, Decimal, Decimal, Decimal, Decimal]] = []
    issued = sum((b.net for b in billed if b.status == "issued"), Decimal("0.00"))
    total = sum((b.net for b in billed), Decimal("0.00"))
    recent_total = sum((b.net for b in billed if b.month in recent), Decimal("0.00"))
    measures.append(("amount", tariff.ceiling.amount, total, issued, recent_total))
    for metric, cap in tariff.ceiling.volumes.items():
        used = sum((b.usage.get(metric, Decimal(0)) for b in billed), Decimal(0))
        recent_used = sum((b.usage.get(metric, Decimal(0)) for b in billed if b.month in recent), Decimal(0))
        measures.append((metric, cap, used, Decimal(0), recent_used))
    result = []
    for measure, cap, consumed, issued_part, recent_sum in measures:
        money = measure == "amount"
        rate = _DIVISION.divide(recent_sum, Decimal(len(recent))) if recent else Decimal(0)
        rate = round_money(rate) if money else rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        projected = consumed + rate * remaining
        result.append(
            CeilingUse(
                measure,
                cap,
                consumed,
                issued_part,
                _share(consumed, cap),
                len(months),
                rate,
                remaining,
                projected,
                _share(projected, cap),
            )
        )
    return result


# ---- commitments ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommitmentUse:
    establishment_id: str
    year_start: date  # the agreement year (anniversary to anniversary) containing as_of
    year_end: date  # inclusive
    months_live: int  # complete months of that year in which the establishment had an active day
    committed_studies: Decimal  # per year
    committed_amount: Decimal  # per year, excluding VAT
    expected_studies: Decimal  # committed x months_live / 12
    expected_amount: Decimal
    actual_studies: Decimal
    actual_amount: Decimal
    studies_share: Decimal | None  # actual / expected (None when nothing is expected yet)
    amount_share: Decimal | None
    projected_studies: Decimal  # actual x 12 / months_live: the year at the current rate
    projected_amount: Decimal
    status: str  # on_track | below | not_live


def agreement_year(tariff: Tariff, as_of: date) -> tuple[date, date]:
    """The year of the agreement (from valid_from or an anniversary, to the day before the next) containing as_of."""
    years = 0
    while anniversary(tariff.valid_from, years + 1) <= as_of:
        years += 1
    return anniversary(tariff.valid_from, years), anniversary(tariff.valid_from, years + 1) - timedelta(days=1)


def commitment_use(
    tariff: Tariff, registry: Registry, commitments: Mapping[str, Commitment], as_of: date, billed: list[Billed]
) -> list[CommitmentUse]:
    """Each committed establishment's studies and amount so far in the current agreement year vs its commitment,
    prorated over the complete months it was live."""
    start, end = agreement_year(tariff, as_of)
    months = [m for m in complete_months(tariff, as_of) if start <= m.first_day <= end]
    establishments = registry.by_id()
    result = []
    for finess in sorted(commitments):
        c = commitments[finess]
        live = sum(1 for m in months if active_days(establishments[finess], m) > 0)
        rows = [b for b in billed if b.establishment_id == finess and b.month in months]
        studies = sum((b.usage.get("studies_archived", Decimal(0)) for b in rows), Decimal(0))
        amount = sum((b.net for b in rows), Decimal("0.00"))
        expected_studies = _DIVISION.divide(c.studies_per_year * live, Decimal(12)).quantize(Decimal(1), ROUND_HALF_UP)
        expected_amount = round_money(_DIVISION.divide(c.amount_per_year * live, Decimal(12)))
        projected_studies = (
            _DIVISION.divide(studies * 12, Decimal(live)).quantize(Decimal(1), ROUND_HALF_UP) if live else Decimal(0)
        )
        projected_amount = round_money(_DIVISION.divide(amount * 12, Decimal(live))) if live else Decimal("0.00")
        if live == 0:
            status = "not_live"
        elif studies < expected_studies or amount < expected_amount:
            status = "below"
        else:
            status = "on_track"
        result.append(
            CommitmentUse(
                finess,
                start,
                end,
                live,
                c.studies_per_year,
                c.amount_per_year,
                expected_studies,
                expected_amount,
                studies,
                amount,
                _share(studies, expected_studies) if expected_studies else None,
                _share(amount, expected_amount) if expected_amount else None,
                projected_studies,
                projected_amount,
                status,
            )
        )
    return result


def _share(part: Decimal, whole: Decimal) -> Decimal:
    return _DIVISION.divide(part, whole).quantize(SHARE, rounding=ROUND_HALF_UP) if whole else Decimal(0)


def _month_number(month: Month) -> int:
    return month.year * 12 + month.month
