"""The tariff of the framework agreement (`contracts/framework.yaml`): what each offer costs, per use.

Read with analytics.contract_yaml: every amount from its scalar's own text (never a float), every error with the
file, the dotted field (`offers.PACS_RIS.charges[1].tiers[2].up_to`) and the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode

from analytics.billing.model import Party
from analytics.billing.price_index import PriceIndex, load_price_index
from analytics.contract_yaml import ContractReader, compose_contract_file
from analytics.metrics import METRICS
from analytics.periods import Month
from analytics.registry import SECTORS, luhn_ok

TARIFF_FILE = "framework.yaml"
MODELS = ("per_unit", "graduated", "volume")
REVISION_RULES = ("last_published",)
CONTINUOUS_METRICS = ("storage_gb_month",)  # every other metric is a count: its tier bounds are whole numbers

_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # inclusive upper bound; None for the open-ended last tier
    unit_price: Decimal


@dataclass(frozen=True)
class Charge:
    metric: str
    model: str  # per_unit | graduated | volume
    unit_price: Decimal | None  # per_unit only
    tiers: tuple[Tier, ...]  # graduated and volume only


@dataclass(frozen=True)
class OfferTariff:
    code: str
    monthly_fee: Decimal
    minimum_monthly: Decimal | None
    charges: tuple[Charge, ...]


@dataclass(frozen=True)
class RevisionTerms:
    """The revision clause: P = P0 x (a + b x I / I0), rules in `billing.revision`."""

    index: str  # the series name in price_index.csv
    a: Decimal  # fixed part
    b: Decimal  # indexed part; a + b = 1
    base_period: Month  # I0 is the index value of this month
    max_lag_months: int  # I's month is at most this many months before the anniversary's month
    coefficient_decimals: int
    unit_price_decimals: int  # revised unit and tier prices
    fee_decimals: int  # revised monthly fees and minimums


@dataclass(frozen=True)
class Ceiling:
    """The agreement's maximum over its whole life (framework governance), excluding VAT."""

    amount: Decimal
    volumes: dict[str, Decimal]  # metric -> maximum quantity over the agreement (optional caps)


@dataclass(frozen=True)
class Tariff:
    path: Path
    contract_id: str
    currency: str
    vat_rate: Decimal
    valid_from: date
    valid_to: date
    offers: dict[str, OfferTariff]
    seller: Party | None
    revision: RevisionTerms | None = None
    price_index: PriceIndex | None = None  # loaded when there is a revision clause
    ceiling: Ceiling | None = None
    payment_terms: PaymentTerms = field(default_factory=lambda: PaymentTerms())
    settlement: Settlement | None = None  # tele-opinions between establishments (analytics/opinions/settlement.py)

    def covers(self, month: Month) -> bool:
        """Whether the agreement prices `month`: the whole month within valid_from..valid_to (else bill refuses it)."""
        return self.valid_from <= month.first_day and month.last_day <= self.valid_to

    def outside(self, month: Month) -> str | None:
        """Why `month` is billed to nobody, as usage reports say it; None for a month the agreement prices."""
        return None if self.covers(month) else f"outside the agreement ({self.valid_from} to {self.valid_to})"

    @property
    def first_month(self) -> Month:
        """The first calendar month that starts on or after valid_from (one that starts before is not priced)."""
        month = Month(self.valid_from.year, self.valid_from.month)
        return month if month.first_day >= self.valid_from else month.next()

    @property
    def last_month(self) -> Month:
        """The last calendar month that ends on or before valid_to (one that ends after is not priced)."""
        month = Month(self.valid_to.year, self.valid_to.month)
        return month if month.last_day <= self.valid_to else month.previous()

    def months(self) -> list[Month]:
        """Every month the agreement prices, in order (60 for five years from the 1st of a month)."""
        month, out = self.first_month, []
        while self.covers(month):
            out.append(month)
            month = month.next()
        return out


@dataclass(frozen=True)
class Settlement:
    """What a requester owes the responder per answered tele-opinion: `fee` by day, `on_call_fee` on call."""

    fee: Decimal
    on_call_fee: Decimal


@dataclass(frozen=True)
class PaymentTerms:
    """When an invoice is due (`payment_terms:` in framework.yaml): French public bodies pay within 30 days, public
    hospitals within 50 (Code de la commande publique, R2192-10 and R2192-11)."""

    days: int = 30
    sectors: dict[str, int] = field(default_factory=lambda: {"public": 50})  # without `sectors:` in the file

    def days_for(self, sector: str | None) -> int:
        return self.sectors.get(sector or "", self.days)


def load_tariff(contracts_dir: Path, offers_in_use: Iterable[str] = ()) -> Tariff:
    """Read and validate `contracts_dir/framework.yaml`; `offers_in_use` (the registry's offers) must all be priced."""
    return load_tariff_file(Path(contracts_dir) / TARIFF_FILE, offers_in_use)


def load_tariff_file(
    path: Path,
    offers_in_use: Iterable[str] = (),
    index_dir: Path | None = None,
    missing: str = "the framework tariff is missing",
) -> Tariff:
    """Read and validate a tariff file of framework.yaml's schema (a proposal for the next agreement, say); its
    price index is read from `index_dir` (default: the file's folder) when it has a revision clause."""
    path = Path(path)
    root = compose_contract_file(path, missing=missing)
    assert root is not None
    tariff = _TariffReader(path).tariff(root, tuple(offers_in_use))
    if tariff.revision is not None:
        tariff = replace(tariff, price_index=load_price_index(index_dir or path.parent))
    return tariff


class _TariffReader(ContractReader):
    """The tariff's own entries, read with the checks every contract file shares."""

    def tariff(self, root: Node, offers_in_use: tuple[str, ...]) -> Tariff:
        top = self.mapping(
            root,
            "",
            ("contract_id", "currency", "vat_rate", "valid_from", "valid_to", "offers"),
            ("seller", "revision", "ceiling", "payment_terms", "settlement"),
        )
        contract_id = self.text(*top["contract_id"], "contract_id")
        currency = self.text(*top["currency"], "currency")
        if not _CURRENCY.fullmatch(currency):
            raise self.fail(top["currency"][1], "currency", f"'{currency}' is not an ISO 4217 code (e.g. EUR)")
        vat_rate = self.decimal(*top["vat_rate"], "vat_rate", what="a rate")
        if vat_rate >= 1:
            raise self.fail(top["vat_rate"][1], "vat_rate", f"{vat_rate} is not a rate between 0 and 1 (20 % is 0.20)")
        valid_from = self.a_date(*top["valid_from"], "valid_from")
        valid_to = self.a_date(*top["valid_to"], "valid_to")
        if valid_to < valid_from:
            raise self.fail(top["valid_to"][1], "valid_to", f"{valid_to} is before valid_from ({valid_from})")
        offers = self.by_offer(*top["offers"], offers_in_use, self.offer, "prices")
        seller = self.seller(*top["seller"]) if "seller" in top else None
        revision = self.revision(*top["revision"], valid_from) if "revision" in top else None
        ceiling = self.ceiling(*top["ceiling"]) if "ceiling" in top else None
        terms = self.payment_terms(*top["payment_terms"]) if "payment_terms" in top else PaymentTerms()
        settlement = None
        if "settlement" in top:
            entries = self.mapping(
                top["settlement"][1], "settlement", ("fee", "on_call_fee"), (), owner=top["settlement"][0]
            )
            settlement = Settlement(*(self.decimal(*entries[f], f"settlement.{f}") for f in ("fee", "on_call_fee")))
        return Tariff(
            self.path,
            contract_id,
            currency,
            vat_rate,
            valid_from,
            valid_to,
            offers,
            seller,
            revision,
            None,
            ceiling,
            terms,
            settlement,
        )

    def payment_terms(self, key: ScalarNode, node: Node) -> PaymentTerms:
        """Days to pay after the issue date: `days` by default, `sectors` per registry sector (public: 50)."""
        entries = self.mapping(node, "payment_terms", ("days",), ("sectors",), owner=key)
        days = self.whole(*entries["days"], "payment_terms.days", 0, 365)
        sectors: dict[str, int] = {}
        if "sectors" in entries:
            sectors_key, sectors_node = entries["sectors"]
            self.check_tag(sectors_node, "payment_terms.sectors")
            if not isinstance(sectors_node, MappingNode):
                raise self.fail(sectors_key, "payment_terms.sectors", "must be a mapping of sectors to days")
            for sector, (sector_key, value) in self.entries(sectors_node, "payment_terms.sectors").items():
                if sector not in SECTORS:
                    raise self.fail(
                        sector_key,
                        f"payment_terms.sectors.{sector}",
                        f"unknown sector '{sector}' (expected: {', '.join(SECTORS)})",
                    )
                sectors[sector] = self.whole(sector_key, value, f"payment_terms.sectors.{sector}", 0, 365)
        return PaymentTerms(days, sectors)

    def revision(self, key: ScalarNode, node: Node, valid_from: date) -> RevisionTerms:
        """The price revision clause; a + b must be exactly 1 and I0's month must precede the agreement's start."""
        entries = self.mapping(
            node,
            "revision",
            (
                "index",
                "a",
                "b",
                "base_period",
                "current",
                "max_lag_months",
                "coefficient_decimals",
                "unit_price_decimals",
                "fee_decimals",
            ),
            owner=key,
        )
        index = self.text(*entries["index"], "revision.index")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", index):
            raise self.fail(entries["index"][1], "revision.index", f"'{index}' is not an index name (e.g. SYNTEC)")
        a = self.decimal(*entries["a"], "revision.a", what="a share")
        b = self.decimal(*entries["b"], "revision.b", what="a share")
        if a + b != 1:
            raise self.fail(entries["b"][1], "revision.b", f"a + b must be 1 (got {a} + {b} = {a + b})")
        if b == 0:
            raise self.fail(entries["b"][1], "revision.b", "must be greater than 0 (b = 0 revises nothing)")
        period_text = self.text(*entries["base_period"], "revision.base_period")
        try:
            base_period = Month.parse(period_text)
        except ValueError:
            raise self.fail(
                entries["base_period"][1], "revision.base_period", f"'{period_text}' is not a month (YYYY-MM)"
            ) from None
        if base_period.first_day >= valid_from:
            raise self.fail(
                entries["base_period"][1],
                "revision.base_period",
                f"{base_period} is not before the agreement's start ({valid_from})",
            )
        current = self.text(*entries["current"], "revision.current")
        if current not in REVISION_RULES:
            raise self.fail(
                entries["current"][1],
                "revision.current",
                f"unknown rule '{current}' (expected: {', '.join(REVISION_RULES)})",
            )
        lag = self.whole(*entries["max_lag_months"], "revision.max_lag_months", 0, 24)
        decimals = {
            name: self.whole(*entries[name], f"revision.{name}", 0, 6)
            for name in ("coefficient_decimals", "unit_price_decimals", "fee_decimals")
        }
        if decimals["fee_decimals"] < 2:
            raise self.fail(
                entries["fee_decimals"][1], "revision.fee_decimals", "fees are amounts: at least 2 decimals"
            )
        return RevisionTerms(index, a, b, base_period, lag, **decimals)

    def ceiling(self, key: ScalarNode, node: Node) -> Ceiling:
        entries = self.mapping(node, "ceiling", ("amount",), ("volumes",), owner=key)
        amount = self.decimal(*entries["amount"], "ceiling.amount")
        volumes: dict[str, Decimal] = {}
        if "volumes" in entries:
            volumes_key, volumes_node = entries["volumes"]
            self.check_tag(volumes_node, "ceiling.volumes")
            if not isinstance(volumes_node, MappingNode):
                raise self.fail(volumes_key, "ceiling.volumes", "must be a mapping of metrics to maximum quantities")
            for metric, (metric_key, value) in self.entries(volumes_node, "ceiling.volumes").items():
                if metric not in METRICS:
                    raise self.fail(
                        metric_key,
                        f"ceiling.volumes.{metric}",
                        f"unknown metric '{metric}' (expected: {', '.join(METRICS)})",
                    )
                volumes[metric] = self.decimal(metric_key, value, f"ceiling.volumes.{metric}", what="a quantity")
        return Ceiling(amount, volumes)

    def offer(self, code: str, key: ScalarNode, node: Node) -> OfferTariff:
        field = f"offers.{code}"
        entries = self.mapping(node, field, ("monthly_fee", "charges"), ("minimum_monthly",), owner=key)
        monthly_fee = self.decimal(*entries["monthly_fee"], f"{field}.monthly_fee")
        minimum: Decimal | None = None
        if "minimum_monthly" in entries:
            key, value = entries["minimum_monthly"]
            if not (isinstance(value, ScalarNode) and self.is_null(value)):
                minimum = self.decimal(key, value, f"{field}.minimum_monthly")
        charges_key, charges_node = entries["charges"]
        charges: list[Charge] = []
        seen: dict[str, int] = {}
        for index, charge_node in enumerate(self.sequence(charges_key, charges_node, f"{field}.charges"), start=1):
            charge = self.charge(charge_node, f"{field}.charges[{index}]")
            if charge.metric in seen:
                raise self.fail(
                    charge_node,
                    f"{field}.charges[{index}].metric",
                    f"{charge.metric} is already charged by charges[{seen[charge.metric]}]",
                )
            seen[charge.metric] = index
            charges.append(charge)
        return OfferTariff(code, monthly_fee, minimum, tuple(charges))

    def charge(self, node: Node, field: str) -> Charge:
        entries = self.mapping(node, field, ("metric", "model"), ("unit_price", "tiers"))
        metric_key, metric_node = entries["metric"]
        metric = self.text(metric_key, metric_node, f"{field}.metric")
        if metric not in METRICS:
            expected = ", ".join(METRICS)
            raise self.fail(metric_node, f"{field}.metric", f"unknown metric '{metric}' (expected: {expected})")
        model_key, model_node = entries["model"]
        model = self.text(model_key, model_node, f"{field}.model")
        if model not in MODELS:
            raise self.fail(model_node, f"{field}.model", f"unknown model '{model}' (expected: {', '.join(MODELS)})")
        if model == "per_unit":
            if "tiers" in entries:
                raise self.fail(entries["tiers"][0], f"{field}.tiers", "a per_unit charge has a unit_price, not tiers")
            if "unit_price" not in entries:
                raise self.fail(node, f"{field}.unit_price", "a per_unit charge needs a unit_price")
            return Charge(metric, model, self.decimal(*entries["unit_price"], f"{field}.unit_price"), ())
        if "unit_price" in entries:
            raise self.fail(
                entries["unit_price"][0],
                f"{field}.unit_price",
                f"a {model} charge is priced by its tiers: move unit_price into the tiers",
            )
        if "tiers" not in entries:
            raise self.fail(node, f"{field}.tiers", f"a {model} charge needs tiers")
        tiers_key, tiers_node = entries["tiers"]
        return Charge(metric, model, None, self.tiers(metric, tiers_key, tiers_node, f"{field}.tiers"))

    def tiers(self, metric: str, key: ScalarNode, node: Node, field: str) -> tuple[Tier, ...]:
        items = self.sequence(key, node, field, "tier")
        tiers: list[Tier] = []
        for index, item in enumerate(items, start=1):
            here = f"{field}[{index}]"
            entries = self.mapping(item, here, ("unit_price",), ("up_to",))
            unit_price = self.decimal(*entries["unit_price"], f"{here}.unit_price")
            last = index == len(items)
            up_to_key, up_to_node = entries.get("up_to", (None, None))
            open_ended = up_to_node is None or (isinstance(up_to_node, ScalarNode) and self.is_null(up_to_node))
            if open_ended:
                if not last:
                    message = "only the last tier may be open-ended: give up_to"
                    raise self.fail(up_to_key or item, f"{here}.up_to", message)
                tiers.append(Tier(None, unit_price))
                continue
            up_to = self.decimal(up_to_key, up_to_node, f"{here}.up_to", what="a quantity")
            at = self.line_node(up_to_key, up_to_node)
            if last:
                raise self.fail(at, f"{here}.up_to", "the last tier must be open-ended (up_to: null)")
            if up_to == 0:
                raise self.fail(at, f"{here}.up_to", "must be greater than 0")
            if metric not in CONTINUOUS_METRICS and up_to != up_to.to_integral_value():
                raise self.fail(at, f"{here}.up_to", f"{metric} is a count: up_to must be a whole number")
            if tiers and up_to <= tiers[-1].up_to:
                raise self.fail(
                    at, f"{here}.up_to", f"tiers must be strictly increasing ({up_to} after {tiers[-1].up_to})"
                )
            tiers.append(Tier(up_to, unit_price))
        return tuple(tiers)

    def seller(self, key: ScalarNode, node: Node) -> Party:
        """The GCS that issues the invoices, as EN 16931 and Chorus Pro need it."""
        entries = self.mapping(
            node, "seller", ("name", "siret", "address", "postcode", "city"), ("vat_id", "country"), owner=key
        )
        siret = self.text(*entries["siret"], "seller.siret")
        if not re.fullmatch(r"\d{14}", siret) or not luhn_ok(siret):
            raise self.fail(entries["siret"][1], "seller.siret", f"'{siret}' is not a valid SIRET (14 digits, Luhn)")
        vat_id = None
        if "vat_id" in entries:
            vat_id = self.text(*entries["vat_id"], "seller.vat_id").replace(" ", "")
            if not _vat_id_ok(vat_id, siret[:9]):
                raise self.fail(
                    entries["vat_id"][1],
                    "seller.vat_id",
                    f"'{vat_id}' is not the French VAT number of SIREN {siret[:9]} (FR + 2-digit key + SIREN)",
                )
        country = self.text(*entries["country"], "seller.country") if "country" in entries else "FR"
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise self.fail(entries["country"][1], "seller.country", f"'{country}' is not an ISO 3166 code (e.g. FR)")
        address_key, address_node = entries["address"]
        address = self.texts(address_key, address_node, "seller.address", "street line")
        return Party(
            name=self.text(*entries["name"], "seller.name"),
            siret=siret,
            vat_id=vat_id,
            address=address,
            postcode=self.text(*entries["postcode"], "seller.postcode"),
            city=self.text(*entries["city"], "seller.city"),
            country=country,
        )


def _vat_id_ok(vat_id: str, siren: str) -> bool:
    """French intra-EU VAT number: FR, key = (12 + 3 × (SIREN mod 97)) mod 97, then the SIREN."""
    match = re.fullmatch(r"FR(\d{2})(\d{9})", vat_id)
    return bool(match) and match.group(2) == siren and int(match.group(1)) == (12 + 3 * (int(siren) % 97)) % 97
