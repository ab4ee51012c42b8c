"""The invoice rules of the framework agreement (docs/billing.md): from a month's usage to invoice lines.

Pure functions over Decimal, so that a month billed twice gives the same cents and every line can be explained: each
line's amount is rounded half-up to the cent on its own, quantities keep full precision, VAT is applied to the net by
`model.Invoice`. Descriptions are in French, for the establishments' finance officers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal

from analytics.billing.french import french_month, french_number
from analytics.billing.model import Invoice, InvoiceLine, PriceRevision, round_money
from analytics.billing.revision import revised_offer, revision_for
from analytics.billing.tariff import CONTINUOUS_METRICS, Charge, OfferTariff, Tariff
from analytics.errors import ContractError
from analytics.metrics import METRICS
from analytics.periods import Month
from analytics.registry import Establishment

SUBSCRIPTION = "SUBSCRIPTION"
MINIMUM = "MINIMUM"
REGUL = "REGUL:"
ZERO = Decimal(0)
# Divisions (pro-rata shares) in a fixed context, so an invoice does not depend on the caller's decimal context.
_DIVISION = Context(prec=28, rounding=ROUND_HALF_EVEN)
ONE_EURO = Decimal("1.00")  # unit price of a top-up line: its quantity is the shortfall in euros

METRIC_LABELS = {
    "studies_archived": "Examens archivés",
    "instances_archived": "Instances DICOM archivées",
    "bytes_archived": "Volume archivé (octets)",
    "storage_gb_month": "Stockage (Go·mois)",
    "retrievals": "Récupérations d'examens",
    "shares": "Partages d'examens",
    "views": "Consultations d'examens",
    "opinions": "Télé-avis rendus",
    "opinions_on_call": "Télé-avis rendus en astreinte",
    "portal_views": "Consultations via le portail ville",
    "portal_practitioners": "Médecins de ville utilisateurs du portail",
}
OFFER_LABELS = {"PACS_RIS": "PACS + RIS", "PACS": "PACS", "VNA": "archive neutre (VNA)"}


def active_days(establishment: Establishment, month: Month) -> int:
    """Days of the month the establishment was live, go-live and end date included: what the fees are prorated on."""
    if establishment.actual_go_live is None:
        return 0
    first = max(establishment.actual_go_live, month.first_day)
    last = min(establishment.end_date or month.last_day, month.last_day)
    return max((last - first).days + 1, 0)


def charge_lines(charge: Charge, quantity: Decimal) -> list[InvoiceLine]:
    """The lines one charge gives for a month's quantity; none when nothing was used."""
    quantity = _quantity(charge.metric, quantity)
    label = METRIC_LABELS[charge.metric]
    if quantity == 0:
        return []
    if charge.model == "per_unit":
        assert charge.unit_price is not None
        return [_line(charge.metric, label, charge.metric, quantity, charge.unit_price)]
    if charge.model == "volume":
        for index, tier in enumerate(charge.tiers, start=1):
            if tier.up_to is None or quantity <= tier.up_to:
                description = f"{label}, tarif de la tranche {index} ({_band(charge, index)})"
                return [_line(charge.metric, description, charge.metric, quantity, tier.unit_price)]
        raise AssertionError("the last tier of a validated tariff is open-ended")
    lines = []
    lower = ZERO
    for index, tier in enumerate(charge.tiers, start=1):
        if quantity <= lower:
            break
        band = (quantity if tier.up_to is None else min(quantity, tier.up_to)) - lower
        description = f"{label}, tranche {index} ({_band(charge, index)})"
        lines.append(_line(f"{charge.metric}:T{index}", description, charge.metric, band, tier.unit_price))
        lower = tier.up_to if tier.up_to is not None else quantity
    return lines


@dataclass(frozen=True, slots=True)
class MonthPrices:
    """The prices a month is billed at: every offer's, revised when the agreement says so, and that revision."""

    revision: PriceRevision | None
    offers: Mapping[str, OfferTariff]


def month_prices(tariff: Tariff, month: Month) -> MonthPrices:
    """Computed once for all of a month's invoices (the revision is the same for every establishment)."""
    if not tariff.covers(month):
        field = "valid_from" if month.first_day < tariff.valid_from else "valid_to"
        raise ContractError(
            tariff.path,
            f"{month} is not covered by contract {tariff.contract_id} (valid_from {tariff.valid_from}, valid_to "
            f"{tariff.valid_to}): bill it under the agreement in force that month",
            field=field,
        )
    revision = revision_for(tariff, month)
    if revision is None:
        return MonthPrices(None, tariff.offers)
    assert tariff.revision is not None
    return MonthPrices(
        revision, {code: revised_offer(o, revision, tariff.revision) for code, o in tariff.offers.items()}
    )


def draft_invoice(
    establishment: Establishment,
    month: Month,
    usage: Mapping[str, Decimal],
    tariff: Tariff,
    prices: MonthPrices | None = None,
) -> Invoice | None:
    """The month's invoice before it is numbered; None when the establishment had no active day in the month.
    `prices`: the month's, from `month_prices` (computed here when not given)."""
    prices = prices or month_prices(tariff, month)
    usage = {metric: _quantity(metric, value) for metric, value in usage.items()}
    days = active_days(establishment, month)
    if days == 0:
        return None
    offer = prices.offers.get(establishment.offer)
    if offer is None:
        raise ContractError(
            tariff.path,
            f"offer {establishment.offer} of establishment {establishment.establishment_id} has no prices",
            field=f"offers.{establishment.offer}",
        )
    revision = prices.revision
    share = _DIVISION.divide(Decimal(days), Decimal(month.days))  # exactly 1 for a full month
    prorata = f"{days} jours sur {month.days}"
    subscription = InvoiceLine(
        code=SUBSCRIPTION,
        description=f"Abonnement mensuel {OFFER_LABELS.get(offer.code, offer.code)}, {prorata}",
        metric=None,
        quantity=share,
        unit_price=offer.monthly_fee,
        amount=_prorate(offer.monthly_fee, days, month.days),
    )
    usage_lines = [line for charge in offer.charges for line in charge_lines(charge, usage.get(charge.metric, ZERO))]
    lines = [subscription, *usage_lines]
    if offer.minimum_monthly is not None:
        minimum = _prorate(offer.minimum_monthly, days, month.days)
        shortfall = minimum - sum((line.amount for line in usage_lines), Decimal("0.00"))
        if shortfall > 0:
            description = (
                f"Complément au minimum de consommation ({french_number(offer.minimum_monthly)} "
                f"{tariff.currency} par mois, "
                f"{prorata} : {french_number(minimum)} {tariff.currency})"
            )
            lines.append(InvoiceLine(MINIMUM, description, None, shortfall, ONE_EURO, shortfall))
    return Invoice(
        establishment_id=establishment.establishment_id,
        month=month,
        offer=offer.code,
        active_days=days,
        days_in_month=month.days,
        lines=tuple(lines),
        vat_rate=tariff.vat_rate,
        currency=tariff.currency,
        contract_id=tariff.contract_id,
        usage=usage,
        revision=revision,
    )


def regularisation_lines(original: Invoice, corrected: Invoice) -> list[InvoiceLine]:
    """What the next invoice must add so that an issued month ends up billed as `corrected` (late data).

    One `REGUL:<code>` line per line code whose quantity or amount changed: the quantity difference at the same unit
    price, the amount being the exact difference of the two rounded amounts. When the unit price itself changed (a
    volume charge whose total moved to another tier), the original line is cancelled and the corrected one billed:
    two lines with that code, so that no line carries a negative price (EN 16931 forbids one).
    """
    if original.number is None:
        raise ValueError("the original invoice has no number: only an issued invoice can be regularised")
    if (original.establishment_id, original.month) != (corrected.establishment_id, corrected.month):
        raise ValueError(
            f"cannot regularise invoice {original.number} ({original.establishment_id}, {original.month}) with a "
            f"draft of {corrected.establishment_id}, {corrected.month}"
        )
    before = {line.code: line for line in original.lines}
    after = {line.code: line for line in corrected.lines}
    intro = f"Régularisation de la facture {original.number} ({french_month(original.month)})"
    lines: list[InvoiceLine] = []
    for code in _merged_codes(original.lines, corrected.lines):
        old, new = before.get(code), after.get(code)
        old_q, old_a = (old.quantity, old.amount) if old else (ZERO, ZERO)
        new_q, new_a = (new.quantity, new.amount) if new else (ZERO, ZERO)
        if old_q == new_q and old_a == new_a:
            continue
        reference = (old or new).description  # type: ignore[union-attr]
        metric = (old or new).metric  # type: ignore[union-attr]
        if old is None or new is None or old.unit_price == new.unit_price:
            price = (old or new).unit_price  # type: ignore[union-attr]
            lines.append(
                InvoiceLine(
                    REGUL + code,
                    f"{intro} : {reference}",
                    metric,
                    new_q - old_q,
                    price,
                    new_a - old_a,
                    reference=original.number,
                )
            )
            continue
        if old_q or old_a:
            lines.append(
                InvoiceLine(
                    REGUL + code,
                    f"{intro}, annulation : {old.description}",
                    metric,
                    -old_q,
                    old.unit_price,
                    -old_a,
                    reference=original.number,
                )
            )
        if new_q or new_a:
            lines.append(
                InvoiceLine(
                    REGUL + code,
                    f"{intro}, refacturation : {new.description}",
                    metric,
                    new_q,
                    new.unit_price,
                    new_a,
                    reference=original.number,
                )
            )
    return lines


# ---- helpers ---------------------------------------------------------------------------------------------------------


def _quantity(metric: str, value: Decimal | int) -> Decimal:
    """Usage arrives from metering as Decimal (or int counts); a float here would already have lost cents."""
    if metric not in METRICS:
        raise ValueError(f"unknown usage metric '{metric}' (expected one of {', '.join(METRICS)})")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"usage {metric} must be a Decimal or an int, not {type(value).__name__}")
    quantity = Decimal(value)
    if not quantity.is_finite() or quantity < 0:
        raise ValueError(f"usage {metric} must be a finite quantity >= 0 (got {value})")
    return quantity


def _prorate(amount: Decimal, days: int, days_in_month: int) -> Decimal:
    """amount × days / days_in_month, multiplied before dividing, rounded half-up to the cent."""
    return round_money(_DIVISION.divide(amount * days, Decimal(days_in_month)))


def _line(code: str, description: str, metric: str | None, quantity: Decimal, unit_price: Decimal) -> InvoiceLine:
    return InvoiceLine(code, description, metric, quantity, unit_price, round_money(quantity * unit_price))


def _band(charge: Charge, index: int) -> str:
    """A tier's range in words: counts are whole (1 001 à 5 000), continuous metrics are not (au-delà de 2 000...)."""
    tier = charge.tiers[index - 1]
    lower = charge.tiers[index - 2].up_to if index > 1 else None
    if lower is None:
        return f"jusqu'à {french_number(tier.up_to)}" if tier.up_to is not None else "toutes quantités"
    if tier.up_to is None:
        return f"au-delà de {french_number(lower)}"
    if charge.metric in CONTINUOUS_METRICS:
        return f"au-delà de {french_number(lower)} et jusqu'à {french_number(tier.up_to)}"
    return f"{french_number(lower + 1)} à {french_number(tier.up_to)}"


def _merged_codes(first: tuple[InvoiceLine, ...], second: tuple[InvoiceLine, ...]) -> list[str]:
    """Codes of both invoices in invoice order: a code only the corrected draft has goes after its predecessor."""
    codes = [line.code for line in first]
    previous: str | None = None
    for line in second:
        if line.code not in codes:
            at = codes.index(previous) + 1 if previous is not None else 0
            codes.insert(at, line.code)
        previous = line.code
    return list(dict.fromkeys(codes))
