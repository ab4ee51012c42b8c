"""The data contracts: `contracts/data_quality/*.yaml`, one file per table or theme, read strictly.

A file maps tables to their rules:

    tables:
      staged.stg_dicom_instances:
        - name: sop_instance_uid_unique      # unique across every file
          severity: error                    # error blocks billing; warn is reported
          description: one row per SOPInstanceUID
          check: unique                      # a sansfilm rule kind (see KINDS) ...
          columns: [sop_instance_uid]
        - name: modality_known
          severity: warn
          expectation: expect_column_values_to_be_in_set    # ... or a Great Expectations expectation
          kwargs: {column: modality, value_set: [CT, MR]}

Files are read with `yaml.compose` through analytics.contract_yaml, so every error names the file, the line and the
dotted field (`tables.staged.stg_dicom_instances[2].severity`). Unknown tables, kinds, expectation types, keys and
severities fail at load. The folder is `<[contracts] dir>/data_quality/` when it exists, else the platform's defaults
in the repository's `contracts/data_quality/` (a corpus made by `sansfilm samples` carries no rules of its own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from analytics.contract_yaml import ContractReader, compose_contract_file
from analytics.errors import ContractError
from analytics.warehouse import MODELS

RULES_FOLDER = "data_quality"
DEFAULT_RULES_DIR = Path(__file__).resolve().parents[2] / "contracts" / RULES_FOLDER
SEVERITIES = ("error", "warn")
TABLES = (
    *(f"{schema}.{name}" for schema, name in MODELS),
    "marts.fct_usage_daily",
    "marts.fct_share_flows",
    "raw.harvest_runs",
    "ledger.invoice",
)

# Defined terms of Modality (0008,0060), DICOM PS3.3 C.7.3.1.1.1 and PS3.16 CID 29/33, current and retired.
DICOM_MODALITIES = (
    "AR",
    "ASMT",
    "AU",
    "BDUS",
    "BI",
    "BMD",
    "CFM",
    "CR",
    "CT",
    "CTPROTOCOL",
    "DG",
    "DOC",
    "DX",
    "ECG",
    "EEG",
    "EMG",
    "EOG",
    "EPS",
    "ES",
    "FID",
    "GM",
    "HC",
    "HD",
    "IO",
    "IOL",
    "IVOCT",
    "IVUS",
    "KER",
    "KO",
    "LEN",
    "LS",
    "MG",
    "MR",
    "M3D",
    "NM",
    "OAM",
    "OCT",
    "OP",
    "OPM",
    "OPT",
    "OPTBSV",
    "OPTENF",
    "OPV",
    "OSS",
    "OT",
    "PA",
    "PLAN",
    "POS",
    "PR",
    "PT",
    "PX",
    "REG",
    "RESP",
    "RF",
    "RG",
    "RTDOSE",
    "RTIMAGE",
    "RTINTENT",
    "RTPLAN",
    "RTRAD",
    "RTRECORD",
    "RTSEGANN",
    "RTSTRUCT",
    "RWV",
    "SEG",
    "SM",
    "SMR",
    "SR",
    "SRF",
    "STAIN",
    "TEXTUREMAP",
    "TG",
    "US",
    "VA",
    "XA",
    "XAPROTOCOL",
    "XC",
    # retired terms still met in old archives
    "AS",
    "CD",
    "CF",
    "CP",
    "CS",
    "DD",
    "DF",
    "DM",
    "DS",
    "EC",
    "FA",
    "FS",
    "LP",
    "MA",
    "MS",
    "OPR",
    "ST",
    "VF",
)
NAMED_SETS = {"dicom_modalities": DICOM_MODALITIES}

# Row-level expectations: each row passes or not, so a table can be validated chunk by chunk (see rules.py).
# The value: the kwargs naming the columns to pull (one of them is required).
EXPECTATIONS: dict[str, tuple[str, ...]] = {
    "expect_column_values_to_not_be_null": ("column",),
    "expect_column_values_to_be_null": ("column",),
    "expect_column_values_to_be_between": ("column",),
    "expect_column_values_to_be_in_set": ("column",),
    "expect_column_values_to_not_be_in_set": ("column",),
    "expect_column_values_to_match_regex": ("column",),
    "expect_column_values_to_not_match_regex": ("column",),
    "expect_column_values_to_match_regex_list": ("column",),
    "expect_column_values_to_match_strftime_format": ("column",),
    "expect_column_value_lengths_to_be_between": ("column",),
    "expect_column_value_lengths_to_equal": ("column",),
    "expect_column_pair_values_a_to_be_greater_than_b": ("column_A", "column_B"),
    "expect_column_pair_values_to_be_equal": ("column_A", "column_B"),
    "expect_multicolumn_sum_to_equal": ("column_list",),
}


@dataclass(frozen=True)
class Kind:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    table: str | None = None  # the one table the kind is about, when fixed


KINDS: dict[str, Kind] = {
    # row-level, validated by Great Expectations on the pulled column
    "dicom_uid": Kind(("column",), ("mostly",)),
    "in_set": Kind(("column", "values"), ("mostly",)),
    "positive": Kind(("column",), ("mostly",)),
    "in_harvest_window": Kind(("column",)),
    # aggregates computed in DuckDB, their result validated by Great Expectations
    "unique": Kind(("columns",)),
    "unknown_ae_share": Kind(("column", "max_share")),
    "harvest_age": Kind(("max_hours",), table="marts.mart_source_freshness"),
    "record_lag": Kind(("max_hours",), table="marts.mart_source_freshness"),
    # reconciliations (analytics/quality/reconcile.py)
    "harvest_files_accounted": Kind((), table="raw.harvest_runs"),
    "receipts_match_studies": Kind(("max_share",), table="staged.int_studies"),
    "usage_daily_matches_monthly": Kind((), table="marts.fct_usage_daily"),
    "invoices_match_usage": Kind((), table="ledger.invoice"),
    "ledger_chain_verified": Kind((), table="ledger.invoice"),
    "invoice_documents_intact": Kind((), table="ledger.invoice"),
}
_COMMON = ("name", "severity", "description")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_COLUMN = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class Rule:
    name: str
    table: str  # schema.table
    severity: str  # error | warn
    description: str
    kind: str  # a KINDS key, or "expectation"
    params: dict[str, Any]  # the kind's parameters; for "expectation": {"type": ..., "kwargs": {...}}
    path: Path = field(compare=False)
    line: int = field(compare=False)

    def fail(self, message: str, field: str | None = None) -> ContractError:
        """An error about this rule found when it runs (an unknown column, kwargs Great Expectations refuses)."""
        return ContractError(self.path, f"rule '{self.name}': {message}", line=self.line, field=field)


@dataclass(frozen=True)
class CheckResult:
    """One rule's outcome: the JSON object of `sansfilm check` and one row of the history."""

    name: str
    table: str
    severity: str
    passed: bool
    observed: int | float | str | None  # the measured figure (offending rows, a share, hours...)
    details: dict[str, Any]  # description, threshold, a few examples (identifiers only, never patient data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "table": self.table,
            "severity": self.severity,
            "passed": self.passed,
            "observed": self.observed,
            "details": self.details,
        }


def rules_dir(contracts_dir: Path) -> Path:
    own = Path(contracts_dir) / RULES_FOLDER
    return own if own.is_dir() else DEFAULT_RULES_DIR


def load_rules(contracts_dir: Path) -> list[Rule]:
    """Every rule of every `*.yaml` file of the data-quality folder, in file then written order."""
    folder = rules_dir(contracts_dir)
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ContractError(folder, "holds no data-quality contract (*.yaml)")
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for path in files:
        for rule in _read_file(path):
            if rule.name in seen:
                first = seen[rule.name]
                raise ContractError(
                    path,
                    f"rule name '{rule.name}' is already used ({first.path.name}, line {first.line})",
                    line=rule.line,
                    field="name",
                )
            seen[rule.name] = rule
            rules.append(rule)
    return rules


def _read_file(path: Path) -> list[Rule]:
    root = compose_contract_file(path, missing="is missing")
    assert root is not None
    return _RuleReader(path).rules(root)


class _RuleReader(ContractReader):
    def rules(self, root: Node) -> list[Rule]:
        top = self.mapping(root, "", ("tables",))
        tables_key, tables_node = top["tables"]
        if not isinstance(tables_node, MappingNode):
            raise self.fail(tables_key, "tables", "must map table names (schema.table) to their rules")
        rules: list[Rule] = []
        for table, (table_key, rules_node) in self.entries(tables_node, "tables").items():
            here = f"tables.{table}"
            if table not in TABLES:
                raise self.fail(table_key, here, f"unknown table '{table}' (known: {', '.join(TABLES)})")
            for index, node in enumerate(self.sequence(table_key, rules_node, here), start=1):
                rules.append(self.rule(table, node, f"{here}[{index}]"))
        return rules

    def rule(self, table: str, node: Node, field: str) -> Rule:
        if not isinstance(node, MappingNode):
            raise self.fail(node, field, "must be a mapping (name, severity, check or expectation...)")
        keys = self.entries(node, field)
        if ("check" in keys) == ("expectation" in keys):
            raise self.fail(node, field, "needs exactly one of 'check' (a sansfilm rule kind) or 'expectation'")
        if "expectation" in keys:
            entries = self.mapping(node, field, (*_COMMON[:2], "expectation", "kwargs"), ("description",))
            params = self.expectation(entries, field)
            kind = "expectation"
        else:
            kind_key, kind_node = keys["check"]
            kind = self.text(kind_key, kind_node, f"{field}.check")
            if kind not in KINDS:
                raise self.fail(kind_node, f"{field}.check", f"unknown rule kind '{kind}' (known: {', '.join(KINDS)})")
            spec = KINDS[kind]
            entries = self.mapping(
                node, field, (*_COMMON[:2], "check", *spec.required), ("description", *spec.optional)
            )
            if spec.table and table != spec.table:
                raise self.fail(kind_node, f"{field}.check", f"a {kind} rule is about {spec.table}, not {table}")
            params = {
                key: self.param(key, *entries[key], f"{field}.{key}")
                for key in (*spec.required, *spec.optional)
                if key in entries
            }
        name_key, name_node = entries["name"]
        name = self.text(name_key, name_node, f"{field}.name")
        if not _NAME.fullmatch(name):
            raise self.fail(name_node, f"{field}.name", f"'{name}' is not a rule name (lower case, digits, _)")
        severity_key, severity_node = entries["severity"]
        severity = self.text(severity_key, severity_node, f"{field}.severity")
        if severity not in SEVERITIES:
            raise self.fail(severity_node, f"{field}.severity", f"unknown severity '{severity}' (error or warn)")
        description = self.text(*entries["description"], f"{field}.description") if "description" in entries else ""
        return Rule(name, table, severity, description, kind, params, self.path, node.start_mark.line + 1)

    def expectation(self, entries: dict[str, tuple[ScalarNode, Node]], field: str) -> dict[str, Any]:
        type_key, type_node = entries["expectation"]
        expectation = self.text(type_key, type_node, f"{field}.expectation")
        if expectation not in EXPECTATIONS:
            raise self.fail(
                type_node,
                f"{field}.expectation",
                f"unknown or unsupported expectation '{expectation}' "
                f"(supported: {', '.join(EXPECTATIONS)}; uniqueness is `check: unique`)",
            )
        kwargs_key, kwargs_node = entries["kwargs"]
        if not isinstance(kwargs_node, MappingNode):
            raise self.fail(kwargs_key, f"{field}.kwargs", "must be a mapping of the expectation's arguments")
        kwargs = {
            key: self.value(value, f"{field}.kwargs.{key}")
            for key, (_, value) in self.entries(kwargs_node, f"{field}.kwargs").items()
        }
        columns = EXPECTATIONS[expectation]
        for key in columns:
            if key not in kwargs:
                raise self.fail(kwargs_key, f"{field}.kwargs.{key}", f"{expectation} needs '{key}'")
        names = [c for key in columns for c in (kwargs[key] if isinstance(kwargs[key], list) else [kwargs[key]])]
        for column in names:
            if not isinstance(column, str) or not _COLUMN.fullmatch(column):
                raise self.fail(kwargs_key, f"{field}.kwargs", f"'{column}' is not a column name")
        return {"type": expectation, "kwargs": kwargs, "columns": tuple(names)}

    def value(self, node: Node, field: str) -> Any:
        """Any plain YAML value (an expectation's argument), as a safe load would give it."""
        self.check_tag(node, field)
        for child in _children(node):
            self.value(child, field)
        return yaml.SafeLoader("").construct_object(node, deep=True)

    def param(self, key: str, key_node: ScalarNode, node: Node, field: str) -> Any:
        if key == "column":
            column = self.text(key_node, node, field)
            if not _COLUMN.fullmatch(column):
                raise self.fail(node, field, f"'{column}' is not a column name")
            return column
        if key == "columns":
            columns = self.texts(key_node, node, field)
            if not columns or not all(_COLUMN.fullmatch(c) for c in columns):
                raise self.fail(key_node, field, "must list one or more column names")
            return columns
        if key == "values":
            if isinstance(node, ScalarNode):
                named = self.text(key_node, node, field)
                if named not in NAMED_SETS:
                    raise self.fail(
                        node, field, f"unknown value set '{named}' (known: {', '.join(NAMED_SETS)}), or give a list"
                    )
                return NAMED_SETS[named]
            return self.texts(key_node, node, field)
        number = float(self.decimal(key_node, node, field, what="a number"))
        if key in ("mostly", "max_share") and not 0 <= number <= 1:
            raise self.fail(node, field, f"{number} is not a share between 0 and 1 (5 % is 0.05)")
        if key == "max_hours" and number <= 0:
            raise self.fail(node, field, "must be a number of hours above 0")
        return number


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if not isinstance(node, ScalarNode) else []
