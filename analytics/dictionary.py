"""The data dictionary of the warehouse, generated from the dbt project's manifest (analytics/dbt/).

Every dbt model (staging, intermediate, marts), and every mart other code writes (the metering facts, documented as
the dbt source `metering`), has in its `schema.yml` a description, its grain (`meta.grain`) and each column's
description and unit (`meta.unit`). This module reads them from the manifest dbt parses, refuses any that lacks one,
checks them against a built warehouse (every column described, none described that does not exist), and renders the
generated part of docs/warehouse.md between two markers; the rest of that page is written by hand.

    python -m analytics.dictionary             # rewrite the generated part of docs/warehouse.md
    python -m analytics.dictionary --check     # exit 1 if docs/warehouse.md is not up to date
    python -m analytics.dictionary --warehouse # also check the dictionary against the published warehouse
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from analytics import dbt_build
from analytics.errors import DictionaryError, SansfilmError

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"
COMMAND = "python -m analytics.dictionary"
BEGIN = f"<!-- BEGIN generated dictionary: edit analytics/dbt/models/*/*.yml, then run `{COMMAND}` -->"
END = "<!-- END generated dictionary -->"
SCHEMAS = ("staged", "marts")


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    unit: str


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    description: str
    grain: str
    columns: tuple[Column, ...]
    path: Path

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def _text(value: Any) -> str | None:
    return " ".join(value.split()) if isinstance(value, str) and value.strip() else None


def load_node(node: dict[str, Any]) -> Table:
    """One documented model or source table of the manifest; what is missing is named with its file and field."""
    path = dbt_build.PROJECT_DIR / node["original_file_path"]

    def fail(message: str, field: str) -> DictionaryError:
        return DictionaryError(path, message, field=f"{node['name']}.{field}")

    description, grain = _text(node.get("description")), _text((node.get("meta") or {}).get("grain"))
    if description is None:
        raise fail("missing or empty: describe the table for an analyst", "description")
    if grain is None:
        raise fail("missing or empty: one row per …", "meta.grain")
    columns = []
    for name, column in (node.get("columns") or {}).items():
        column_description, unit = _text(column.get("description")), _text((column.get("meta") or {}).get("unit"))
        if column_description is None:
            raise fail("missing or empty", f"columns.{name}.description")
        if unit is None:
            raise fail('missing or empty (use "-" for identifiers and text)', f"columns.{name}.meta.unit")
        columns.append(Column(name, column_description, unit))
    if not columns:
        raise fail("no column described", "columns")
    return Table(node["schema"], node["name"], description, grain, tuple(columns), path)


def load_dictionary(manifest: Path | None = None) -> dict[str, Table]:
    """`schema.table` -> its documentation, staged first then marts, by name."""
    data = json.loads((manifest or dbt_build.prepare_manifest()).read_text(encoding="utf-8"))
    nodes = [n for n in data["nodes"].values() if n["resource_type"] == "model"]
    nodes += [n for n in data["sources"].values() if n["schema"] in SCHEMAS]  # marts written by Python
    tables = [load_node(n) for n in nodes]
    tables.sort(key=lambda t: (SCHEMAS.index(t.schema), t.name))
    return {t.qualified: t for t in tables}


def warehouse_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """`schema.table` -> its columns in order, for the staged and marts schemas of the connected database."""
    rows = con.execute(
        """select table_schema || '.' || table_name, column_name from information_schema.columns
           where table_catalog = current_database() and table_schema in ('staged', 'marts')
           order by table_schema, table_name, ordinal_position"""
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def problems(actual: dict[str, list[str]], tables: dict[str, Table]) -> list[str]:
    """Every disagreement between the warehouse's marts and the dictionary, each naming the table and column."""
    found = []
    for table, columns in sorted(actual.items()):
        doc = tables.get(table)
        if doc is None:
            found.append(f"{table}: not in any schema.yml of analytics/dbt/models")
            continue
        described = {c.name for c in doc.columns}
        found += [f"{table}.{c}: no description and unit in {doc.path.name}" for c in columns if c not in described]
        found += [
            f"{table}.{c}: described in {doc.path.name} but the table has no such column"
            for c in sorted(described - set(columns))
        ]
    found += [
        f"{t}: described in {tables[t].path.name} but the warehouse has no such table"
        for t in sorted(set(tables) - set(actual))
    ]
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(tables: dict[str, Table]) -> str:
    """The generated section of docs/warehouse.md (markdown, between the markers)."""
    out = [BEGIN, "", "## Tables", "", "| table | grain |", "|---|---|"]
    out += [f"| [`{t.qualified}`](#{t.schema}{t.name}) | {_cell(t.grain)} |" for t in tables.values()]
    for t in tables.values():
        out += ["", f"### `{t.qualified}`", "", t.description, "", f"Grain: {t.grain}.", ""]
        out += ["| column | unit | description |", "|---|---|---|"]
        out += [f"| `{c.name}` | {_cell(c.unit)} | {_cell(c.description)} |" for c in t.columns]
    return "\n".join([*out, "", END])


def updated(doc: str, section: str, doc_path: Path = DOC_PATH) -> str:
    """The page with its generated section replaced; the hand-written parts around it are kept as they are."""
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0 or end < start:
        raise DictionaryError(
            doc_path,
            f"the markers of the generated section are missing: put {BEGIN} and {END} where the dictionary belongs",
        )
    return doc[:start] + section + doc[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Generate the dictionary part of docs/warehouse.md.")
    parser.add_argument("--check", action="store_true", help="only check that docs/warehouse.md is up to date")
    parser.add_argument(
        "--warehouse",
        action="store_true",
        help="also check the dictionary against the published warehouse of the configuration",
    )
    args = parser.parse_args(argv)
    try:
        tables = load_dictionary()
        if args.warehouse:
            from analytics import warehouse

            con = warehouse.connect()
            try:
                found = problems(warehouse_columns(con), tables)
            finally:
                con.close()
            for problem in found:
                print(problem, file=sys.stderr)
            if found:
                return 1
        doc = DOC_PATH.read_text(encoding="utf-8")
        new = updated(doc, render(tables))
    except SansfilmError as exc:  # an undocumented model, a missing config or warehouse: said plainly
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if new != doc:
            print(f"{DOC_PATH} is out of date with analytics/dbt/models/*/*.yml: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if new != doc:
        DOC_PATH.write_text(new, encoding="utf-8")
        print(f"wrote {DOC_PATH} ({len(tables)} tables)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
