"""The service levels of the framework agreement (`contracts/service_levels.yaml`) and the credits their breaches give.

Read like the tariff (the same line-keeping reader, analytics.contract_yaml.ContractReader): percentages and
minutes come from the scalar's text as exact Decimals, and every error names the file, the line and the dotted field,
e.g. `offers.PACS.availability.credits[2].below`. The file is optional: an agreement without it has no service levels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from yaml.nodes import Node, ScalarNode

from analytics.contract_yaml import ContractReader, compose_contract_file

SERVICE_LEVELS_FILE = "service_levels.yaml"
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class TermKind:
    """What a term measures: its unit, and whether the target is a floor (availability) or a ceiling."""

    name: str
    unit: str  # "%" or "min"
    minimum: bool  # True: breached below the target (steps use `below`); False: above it (steps use `above`)
    label: str  # French, for the invoice line

    @property
    def bound(self) -> str:
        return "below" if self.minimum else "above"


AVAILABILITY = TermKind("availability", "%", True, "Disponibilité")
INGESTION_DELAY = TermKind("ingestion_delay_p95", "min", False, "Délai d'ingestion (95e centile)")
RETRIEVAL_FAILURES = TermKind("retrieval_failure_rate", "%", False, "Taux d'échec des récupérations")
KINDS = (AVAILABILITY, INGESTION_DELAY, RETRIEVAL_FAILURES)  # also the order of the credit lines on an invoice


@dataclass(frozen=True)
class CreditStep:
    bound: Decimal  # the step applies when the measure is below (minimum terms) or above (maximum terms) this
    credit_percent: Decimal  # of the month's subscription fee


@dataclass(frozen=True)
class Term:
    kind: TermKind
    target: Decimal
    steps: tuple[CreditStep, ...]  # the first step's bound is the target; each later one further from it

    def breached(self, measured: Decimal) -> bool:
        return measured < self.target if self.kind.minimum else measured > self.target

    def credit_percent(self, measured: Decimal) -> Decimal:
        """The credit of the furthest step the measure has crossed; 0 when the level is met."""
        credit = Decimal(0)
        for step in self.steps:
            if (measured < step.bound) if self.kind.minimum else (measured > step.bound):
                credit = step.credit_percent
        return credit


@dataclass(frozen=True)
class OfferLevels:
    offer: str
    terms: tuple[Term, ...]  # in KINDS order, only the terms the offer has
    applications: tuple[str, ...]  # AuditSourceIDs whose stop -> start counts as downtime for this offer


@dataclass(frozen=True)
class ServiceLevels:
    path: Path
    contract_id: str
    credit_cap_percent: Decimal  # all of a month's credits together, in percent of that month's fee
    offers: dict[str, OfferLevels]


def load_service_levels(contracts_dir: Path, offers_in_use: Iterable[str] = ()) -> ServiceLevels | None:
    """Read and validate `contracts_dir/service_levels.yaml`; None when the agreement has no such file."""
    path = Path(contracts_dir) / SERVICE_LEVELS_FILE
    root = compose_contract_file(path, missing=None)
    if root is None:
        return None
    return _LevelsReader(path).levels(root, tuple(offers_in_use))


class _LevelsReader(ContractReader):
    def levels(self, root: Node, offers_in_use: tuple[str, ...]) -> ServiceLevels:
        top = self.mapping(root, "", ("contract_id", "credit_cap_percent", "offers"))
        contract_id = self.text(*top["contract_id"], "contract_id")
        cap = self.percent(*top["credit_cap_percent"], "credit_cap_percent")
        offers = self.by_offer(*top["offers"], offers_in_use, self.offer, "service levels")
        return ServiceLevels(self.path, contract_id, cap, offers)

    def offer(self, code: str, key: ScalarNode, node: Node) -> OfferLevels:
        field = f"offers.{code}"
        entries = self.mapping(node, field, (), tuple(kind.name for kind in KINDS), owner=key)
        if not entries:
            raise self.fail(key, field, f"needs at least one term ({', '.join(kind.name for kind in KINDS)})")
        terms, applications = [], ()
        for kind in KINDS:
            if kind.name not in entries:
                continue
            term_key, term_node = entries[kind.name]
            here = f"{field}.{kind.name}"
            extra = ("applications",) if kind is AVAILABILITY else ()
            term = self.mapping(term_node, here, ("target", "credits", *extra), owner=term_key)
            target = self.measure(kind, *term["target"], f"{here}.target")
            if kind is AVAILABILITY:
                applications = self.applications(*term["applications"], f"{here}.applications")
            terms.append(Term(kind, target, self.steps(kind, target, *term["credits"], f"{here}.credits")))
        return OfferLevels(code, tuple(terms), applications)

    def applications(self, key: ScalarNode, node: Node, field: str) -> tuple[str, ...]:
        return self.texts(key, node, field, "AuditSourceID (the applications the offer needs)")

    def steps(self, kind: TermKind, target: Decimal, key: ScalarNode, node: Node, field: str) -> tuple[CreditStep, ...]:
        items = self.sequence(key, node, field, "step (a breach must give a credit)")
        steps: list[CreditStep] = []
        for index, item in enumerate(items, start=1):
            here = f"{field}[{index}]"
            entries = self.mapping(item, here, (kind.bound, "credit_percent"))
            bound_key, bound_node = entries[kind.bound]
            bound = self.measure(kind, bound_key, bound_node, f"{here}.{kind.bound}")
            credit = self.percent(*entries["credit_percent"], f"{here}.credit_percent")
            if credit == 0:
                raise self.fail(entries["credit_percent"][1], f"{here}.credit_percent", "must be greater than 0")
            if index == 1 and bound != target:
                raise self.fail(
                    bound_node,
                    f"{here}.{kind.bound}",
                    f"the first step starts where the target is missed: {kind.bound} must be {target}",
                )
            if steps:
                previous = steps[-1]
                further = bound < previous.bound if kind.minimum else bound > previous.bound
                if not further:
                    order = "decreasing" if kind.minimum else "increasing"
                    raise self.fail(
                        bound_node,
                        f"{here}.{kind.bound}",
                        f"steps must be strictly {order} ({bound} after {previous.bound})",
                    )
                if credit <= previous.credit_percent:
                    raise self.fail(
                        entries["credit_percent"][1],
                        f"{here}.credit_percent",
                        f"a further step must give a larger credit ({credit} after {previous.credit_percent})",
                    )
            steps.append(CreditStep(bound, credit))
        return tuple(steps)

    def measure(self, kind: TermKind, key: ScalarNode, node: Node, field: str) -> Decimal:
        if kind.unit == "%":
            return self.percent(key, node, field)
        return self.decimal(key, node, field, what="a number of minutes")

    def percent(self, key: ScalarNode, node: Node, field: str) -> Decimal:
        value = self.decimal(key, node, field, what="a percentage")
        if value > HUNDRED:
            raise self.fail(
                self.line_node(key, self.scalar(key, node, field)),
                field,
                f"{value} is not a percentage between 0 and 100",
            )
        return value
