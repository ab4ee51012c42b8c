"""The tariff of the framework agreement (`contracts/framework.yaml`): what each offer costs, per use.

The file is read with `yaml.compose` rather than `yaml.safe_load` because finance needs two things a loaded dict
loses: every amount is taken from the scalar's own text (so `2.40` and `"2.40"` are both `Decimal("2.40")`, never a
float), and every error names the line of the node at fault. Field paths in errors are dotted, with 1-based list
positions as a finance officer counts them: `offers.PACS_RIS.charges[1].tiers[2].up_to` is the second tier of the
first charge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from analytics.billing.model import METRICS, Month, Party
from analytics.billing.price_index import PriceIndex, load_price_index
from analytics.errors import ContractError
from analytics.registry import OFFERS, SECTORS, luhn_ok

TARIFF_FILE = "framework.yaml"
MODELS = ("per_unit", "graduated", "volume")
REVISION_RULES = ("last_published",)
CONTINUOUS_METRICS = ("storage_gb_month",)  # every other metric is a count: its tier bounds are whole numbers

_STANDARD_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "str", "int", "float", "null", "bool", "timestamp")}
_NUMBER_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float")}
_NULL = "tag:yaml.org,2002:null"
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
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


@dataclass(frozen=True)
class PaymentTerms:
    """When an invoice is due (`payment_terms:` in framework.yaml): French public bodies pay within 30 days, public
    hospitals within 50 (Code de la commande publique, R2192-10 and R2192-11)."""

    days: int = 30
    sectors: dict[str, int] = field(default_factory=lambda: {"public": 50})  # without `sectors:` in the file

    def days_for(self, sector: str | None) -> int:
        return self.sectors.get(sector or "", self.days)


def compose_contract_file(path: Path, *, missing: str | None) -> Node | None:
    """The YAML node tree of a contract file, for a `_Reader` (which keeps each value's text and line).

    A file that is not UTF-8, not YAML or empty is a ContractError naming it (and the line when YAML knows it); an
    absent file is one too, with the message `missing`, or gives None when `missing` is None (an optional file).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing is None:
            return None
        raise ContractError(path, missing) from None
    except UnicodeDecodeError as exc:
        raise ContractError(path, f"is not UTF-8 text ({exc.reason})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ContractError(path, f"is not valid YAML: {exc.problem or exc.context}", line=line) from None
    except yaml.YAMLError as exc:
        raise ContractError(path, f"is not valid YAML: {exc}") from None
    if root is None:
        raise ContractError(path, "is empty", line=1)
    return root


def load_tariff(contracts_dir: Path, offers_in_use: Iterable[str] = ()) -> Tariff:
    """Read and validate `contracts_dir/framework.yaml`; `offers_in_use` (the registry's offers) must all be priced."""
    path = Path(contracts_dir) / TARIFF_FILE
    root = compose_contract_file(path, missing="the framework tariff is missing")
    assert root is not None
    tariff = _Reader(path).tariff(root, tuple(offers_in_use))
    if tariff.revision is not None:
        tariff = replace(tariff, price_index=load_price_index(path.parent))
    return tariff


class _Reader:
    """Walks the composed node tree; every check raises a ContractError carrying the node's line and dotted field."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, node: Node, field: str | None, message: str) -> ContractError:
        return ContractError(self.path, message, line=node.start_mark.line + 1, field=field)

    def by_offer(self, key: ScalarNode, node: Node, offers_in_use: Iterable[str], read, what: str) -> dict:
        """`offers:`, a mapping of offer codes to `read(code, code_node, value_node)`; each offer the registry uses
        must be there (`what` the offers are given here: "prices", "service levels")."""
        self.check_tag(node, "offers")
        if not isinstance(node, MappingNode):
            raise self.fail(key, "offers", f"must be a mapping of offer codes to their {what}")
        offers = {}
        for code, (code_node, value_node) in self.entries(node, "offers").items():
            if code not in OFFERS:
                raise self.fail(code_node, f"offers.{code}", f"unknown offer '{code}' (expected: {', '.join(OFFERS)})")
            offers[code] = read(code, code_node, value_node)
        for code in offers_in_use:
            if code not in offers:
                raise self.fail(key, f"offers.{code}", f"offer {code} is used by the registry but has no {what} here")
        return offers

    # ---- structure -------------------------------------------------------------------------------------------------

    def mapping(
        self, node: Node, field: str, required: tuple[str, ...], optional: tuple[str, ...] = (), *,
        owner: Node | None = None,
    ) -> dict[str, tuple[ScalarNode, Node]]:
        """The mapping's entries by key; unknown, duplicate or missing keys are errors.

        A missing key is reported on the line of `owner` (the key the mapping is the value of, e.g. `VNA:`) when given,
        since a block mapping only starts at its first key.
        """
        self.check_tag(node, field)
        if not isinstance(node, MappingNode):
            raise self.fail(node, field or None, "must be a mapping of keys to values")
        entries = self.entries(node, field)
        for key, (key_node, _) in entries.items():
            if key not in required and key not in optional:
                allowed = ", ".join(required + optional)
                raise self.fail(key_node, _join(field, key), f"unknown key '{key}' (expected: {allowed})")
        for key in required:
            if key not in entries:
                raise self.fail(owner or node, _join(field, key), f"missing required key '{key}'")
        return entries

    def entries(self, node: MappingNode, field: str) -> dict[str, tuple[ScalarNode, Node]]:
        """Entries of any mapping, keys as written; a key given twice is an error (YAML would keep the last)."""
        entries: dict[str, tuple[ScalarNode, Node]] = {}
        for key_node, value_node in node.value:
            self.check_tag(key_node, field)
            if not isinstance(key_node, ScalarNode):
                raise self.fail(key_node, field or None, "keys must be plain words")
            key = key_node.value
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                raise self.fail(key_node, _join(field, key), f"key '{key}' is given twice (first on line {first})")
            entries[key] = (key_node, value_node)
        return entries

    def sequence(self, key: ScalarNode, node: Node, field: str, at_least_one: str | None = None) -> list[Node]:
        """The list's items; `at_least_one` names what an empty list lacks (then an empty one fails)."""
        self.check_tag(node, field)
        if not isinstance(node, SequenceNode):
            raise self.fail(key, field, "must be a list")
        if at_least_one is not None and not node.value:
            raise self.fail(key, field, f"needs at least one {at_least_one}")
        return list(node.value)

    def texts(self, key: ScalarNode, node: Node, field: str, at_least_one: str | None = None) -> tuple[str, ...]:
        """A list of text items (`field[1]`, `field[2]`... in errors)."""
        return tuple(self.text(key, item, f"{field}[{i}]")
                     for i, item in enumerate(self.sequence(key, node, field, at_least_one), start=1))  # fmt: skip

    def check_tag(self, node: Node, field: str) -> None:
        """Only the plain types of a safe load: no `!!python/...`, `!!binary`, `!!set`, merge keys or custom tags."""
        if node.tag not in _STANDARD_TAGS:
            raise self.fail(node, field or None, f"unsupported YAML tag or merge key ({node.tag})")

    # ---- scalars ---------------------------------------------------------------------------------------------------

    def scalar(self, key: ScalarNode, node: Node, field: str) -> ScalarNode:
        self.check_tag(node, field)
        if not isinstance(node, ScalarNode):
            raise self.fail(key, field, "must be a single value, not a list or mapping")
        return node

    def line_node(self, key: ScalarNode, node: ScalarNode) -> Node:
        """An empty value (`up_to:`) is marked where the next token starts; report the key's line instead."""
        return key if node.value == "" else node

    def is_null(self, node: ScalarNode) -> bool:
        return node.tag == _NULL

    def text(self, key: ScalarNode, node: Node, field: str) -> str:
        value = self.scalar(key, node, field)
        if self.is_null(value) or not value.value.strip():
            raise self.fail(self.line_node(key, value), field, "must not be empty")
        return value.value.strip()

    def decimal(self, key: ScalarNode, node: Node, field: str, what: str = "an amount") -> Decimal:
        """A non-negative decimal read from the scalar's text, so that no binary float ever touches money."""
        value = self.scalar(key, node, field)
        raw = value.value.strip()
        at = self.line_node(key, value)
        if value.tag not in _NUMBER_TAGS or not raw:
            raise self.fail(at, field, f"'{value.value}' is not {what} (write digits with a decimal point, e.g. 2.40)")
        if "," in raw and _DECIMAL.fullmatch(raw.replace(",", ".")):
            raise self.fail(at, field, f"'{raw}' uses a decimal comma: write {raw.replace(',', '.')}")
        if not _DECIMAL.fullmatch(raw):
            raise self.fail(at, field, f"'{raw}' is not {what} (write digits with a decimal point, e.g. 2.40)")
        try:
            number = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - the pattern above already guarantees a decimal
            raise self.fail(at, field, f"'{raw}' is not {what}") from None
        if number < 0:
            raise self.fail(at, field, f"must not be negative (got {raw})")
        return number.copy_abs()  # -0.00 becomes 0.00; no context rounding, the written scale stays (2.40)

    def a_date(self, key: ScalarNode, node: Node, field: str) -> date:
        value = self.scalar(key, node, field)
        try:
            if value.tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:str"):
                raise ValueError
            return date.fromisoformat(value.value.strip())
        except ValueError:
            raise self.fail(self.line_node(key, value), field, f"'{value.value}' is not a date (YYYY-MM-DD)") from None

    # ---- the tariff ------------------------------------------------------------------------------------------------

    def tariff(self, root: Node, offers_in_use: tuple[str, ...]) -> Tariff:
        top = self.mapping(
            root, "", ("contract_id", "currency", "vat_rate", "valid_from", "valid_to", "offers"),
            ("seller", "revision", "ceiling", "payment_terms"),
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
        return Tariff(self.path, contract_id, currency, vat_rate, valid_from, valid_to, offers, seller, revision,
                      None, ceiling, terms)  # fmt: skip

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
                    raise self.fail(sector_key, f"payment_terms.sectors.{sector}",
                                    f"unknown sector '{sector}' (expected: {', '.join(SECTORS)})")  # fmt: skip
                sectors[sector] = self.whole(sector_key, value, f"payment_terms.sectors.{sector}", 0, 365)
        return PaymentTerms(days, sectors)

    def revision(self, key: ScalarNode, node: Node, valid_from: date) -> RevisionTerms:
        """The price revision clause; a + b must be exactly 1 and I0's month must precede the agreement's start."""
        entries = self.mapping(
            node, "revision", ("index", "a", "b", "base_period", "current", "max_lag_months", "coefficient_decimals",
                               "unit_price_decimals", "fee_decimals"), owner=key,
        )  # fmt: skip
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
            raise self.fail(entries["base_period"][1], "revision.base_period",
                            f"'{period_text}' is not a month (YYYY-MM)") from None  # fmt: skip
        if base_period.first_day >= valid_from:
            raise self.fail(entries["base_period"][1], "revision.base_period",
                            f"{base_period} is not before the agreement's start ({valid_from})")  # fmt: skip
        current = self.text(*entries["current"], "revision.current")
        if current not in REVISION_RULES:
            raise self.fail(entries["current"][1], "revision.current",
                            f"unknown rule '{current}' (expected: {', '.join(REVISION_RULES)})")  # fmt: skip
        lag = self.whole(*entries["max_lag_months"], "revision.max_lag_months", 0, 24)
        decimals = {name: self.whole(*entries[name], f"revision.{name}", 0, 6)
                    for name in ("coefficient_decimals", "unit_price_decimals", "fee_decimals")}  # fmt: skip
        if decimals["fee_decimals"] < 2:
            raise self.fail(entries["fee_decimals"][1], "revision.fee_decimals", "fees are amounts: at least 2 decimals")
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
                    raise self.fail(metric_key, f"ceiling.volumes.{metric}",
                                    f"unknown metric '{metric}' (expected: {', '.join(METRICS)})")  # fmt: skip
                volumes[metric] = self.decimal(metric_key, value, f"ceiling.volumes.{metric}", what="a quantity")
        return Ceiling(amount, volumes)

    def whole(self, key: ScalarNode, node: Node, field: str, low: int, high: int) -> int:
        value = self.scalar(key, node, field)
        raw = value.value.strip()
        if value.tag not in _NUMBER_TAGS or not re.fullmatch(r"\d+", raw) or not low <= int(raw) <= high:
            message = f"'{value.value}' is not a whole number from {low} to {high}"
            raise self.fail(self.line_node(key, value), field, message)
        return int(raw)

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
                    charge_node, f"{field}.charges[{index}].metric",
                    f"{charge.metric} is already charged by charges[{seen[charge.metric]}]",
                )  # fmt: skip
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
                entries["unit_price"][0], f"{field}.unit_price",
                f"a {model} charge is priced by its tiers: move unit_price into the tiers",
            )  # fmt: skip
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
                    entries["vat_id"][1], "seller.vat_id",
                    f"'{vat_id}' is not the French VAT number of SIREN {siret[:9]} (FR + 2-digit key + SIREN)",
                )  # fmt: skip
        country = self.text(*entries["country"], "seller.country") if "country" in entries else "FR"
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise self.fail(entries["country"][1], "seller.country", f"'{country}' is not an ISO 3166 code (e.g. FR)")
        address_key, address_node = entries["address"]
        address = self.texts(address_key, address_node, "seller.address", "street line")
        return Party(
            name=self.text(*entries["name"], "seller.name"), siret=siret, vat_id=vat_id, address=address,
            postcode=self.text(*entries["postcode"], "seller.postcode"),
            city=self.text(*entries["city"], "seller.city"),
            country=country,
        )  # fmt: skip


def _vat_id_ok(vat_id: str, siren: str) -> bool:
    """French intra-EU VAT number: FR, key = (12 + 3 × (SIREN mod 97)) mod 97, then the SIREN."""
    match = re.fullmatch(r"FR(\d{2})(\d{9})", vat_id)
    return bool(match) and match.group(2) == siren and int(match.group(1)) == (12 + 3 * (int(siren) % 97)) % 97


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key
