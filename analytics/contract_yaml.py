"""Contract files in YAML (contracts/*.yaml), read so that every error names the file, the field and the line.

The files are read with `yaml.compose` rather than `yaml.safe_load` because finance needs two things a loaded dict
loses: every amount is taken from the scalar's own text (so `2.40` and `"2.40"` are both `Decimal("2.40")`, never a
float), and every error names the line of the node at fault. Field paths in errors are dotted, with 1-based list
positions as a finance officer counts them: `offers.PACS_RIS.charges[1].tiers[2].up_to` is the second tier of the
first charge. Each contract's loader subclasses ContractReader with the reading of its own entries.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from analytics.contract_text import read_contract_text
from analytics.errors import ContractError
from analytics.registry import OFFERS

_STANDARD_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "str", "int", "float", "null", "bool", "timestamp")}
_NUMBER_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float")}
_NULL = "tag:yaml.org,2002:null"
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")


def compose_contract_file(path: Path, *, missing: str | None) -> Node | None:
    """The YAML node tree of a contract file, for a ContractReader (which keeps each value's text and line).

    A file that is not UTF-8, not YAML or empty is a ContractError naming it (and the line when YAML knows it); an
    absent file is one too, with the message `missing`, or gives None when `missing` is None (an optional file).
    """
    text = read_contract_text(path, missing=missing)
    if text is None:
        return None
    try:
        root = _composed(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ContractError(path, f"is not valid YAML: {exc.problem or exc.context}", line=line) from None
    except yaml.YAMLError as exc:
        raise ContractError(path, f"is not valid YAML: {exc}") from None
    if root is None:
        raise ContractError(path, "is empty", line=1)
    return root


@functools.lru_cache(maxsize=64)
def _composed(text: str) -> Node | None:
    """The node tree of a contract's text, kept by its text: a pipeline run reads the same files dozens of times (the
    data checks of each asset, the tariff of each step), and composing was most of each read (166 reads, 1.4 s of a
    `sansfilm run` on a small corpus). The readers only read the tree, never change it."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


class ContractReader:
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
        self,
        node: Node,
        field: str,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
        *,
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
        return tuple(
            self.text(key, item, f"{field}[{i}]")
            for i, item in enumerate(self.sequence(key, node, field, at_least_one), start=1)
        )

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

    def whole(self, key: ScalarNode, node: Node, field: str, low: int, high: int) -> int:
        value = self.scalar(key, node, field)
        raw = value.value.strip()
        if value.tag not in _NUMBER_TAGS or not re.fullmatch(r"\d+", raw) or not low <= int(raw) <= high:
            message = f"'{value.value}' is not a whole number from {low} to {high}"
            raise self.fail(self.line_node(key, value), field, message)
        return int(raw)


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key
