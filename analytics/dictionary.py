"""The data dictionary of the marts, generated from the models' `.yml` files.

Every table of the DuckDB schema `marts` has `analytics/sql/marts/<table>.yml` (description, grain, and each column's
description and unit), whether a `.sql` model or other code (metering) writes it. This module reads those files,
checks them against a built warehouse (every column described, no column described that does not exist), and
renders the marts part of docs/warehouse.md between two markers; the rest of that page is written by hand.

    python -m analytics.dictionary             # rewrite the marts part of docs/warehouse.md
    python -m analytics.dictionary --check     # exit 1 if docs/warehouse.md is not up to date
    python -m analytics.dictionary --warehouse # also check the .yml files against the published warehouse
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from analytics.errors import DictionaryError, SansfilmError
from analytics.warehouse import SQL_DIR

MARTS_DIR = SQL_DIR / "marts"
DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"
COMMAND = "python -m analytics.dictionary"
BEGIN = f"<!-- BEGIN generated marts dictionary: edit analytics/sql/marts/*.yml, then run `{COMMAND}` -->"
END = "<!-- END generated marts dictionary -->"


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    unit: str


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    grain: str
    columns: tuple[Column, ...]
    path: Path


def _line(node: yaml.Node | None, *keys: str) -> int | None:
    """1-based line of a key in the YAML node tree (the deepest one found), for error messages."""
    line = None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if key_node.value == key:
                line, node = key_node.start_mark.line + 1, value_node
                break
        else:
            break
    return line


def _text(value: Any) -> str | None:
    return " ".join(value.split()) if isinstance(value, str) and value.strip() else None


def load_table(path: Path) -> Table:
    """Read and validate one `<table>.yml`; every problem names the file, the line and the field."""
    text = path.read_text(encoding="utf-8")
    try:
        node, data = yaml.compose(text), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DictionaryError(path, f"not valid YAML: {exc}", line=mark.line + 1 if mark else None) from None

    def fail(message: str, *keys: str) -> DictionaryError:
        return DictionaryError(path, message, line=_line(node, *keys), field=".".join(keys) or None)

    if not isinstance(data, dict):
        raise fail("expected a mapping with description, grain and columns")
    unknown = sorted(set(data) - {"description", "grain", "columns"})
    if unknown:
        raise fail("unknown key (expected description, grain, columns)", str(unknown[0]))
    for key in ("description", "grain"):
        if _text(data.get(key)) is None:
            raise fail("missing or empty: describe the table for an analyst", key)
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise fail("missing or empty: one entry per column, {description: ..., unit: ...}", "columns")
    parsed = []
    for name, spec in columns.items():
        if not isinstance(spec, dict):
            raise fail("expected {description: ..., unit: ...}", "columns", str(name))
        extra = sorted(set(spec) - {"description", "unit"})
        if extra:
            raise fail(f"unknown key '{extra[0]}' (expected description, unit)", "columns", str(name))
        for key in ("description", "unit"):
            if _text(spec.get(key)) is None:
                hint = ' (use "-" for identifiers and text)' if key == "unit" else ""
                raise fail(f"missing or empty{hint}", "columns", str(name), key)
        parsed.append(Column(str(name), _text(spec["description"]), _text(spec["unit"])))
    return Table(path.stem, _text(data["description"]), _text(data["grain"]), tuple(parsed), path)


def load_dictionary(folder: Path | None = None) -> dict[str, Table]:
    """Every `<table>.yml` of the folder (default: analytics/sql/marts), by table name (sorted)."""
    return {path.stem: load_table(path) for path in sorted((folder or MARTS_DIR).glob("*.yml"))}


def warehouse_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Table -> its columns in order, for the `marts` schema of the connected database."""
    rows = con.execute(
        """select table_name, column_name from information_schema.columns
           where table_catalog = current_database() and table_schema = 'marts'
           order by table_name, ordinal_position"""
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
            found.append(f"marts.{table}: no dictionary file analytics/sql/marts/{table}.yml")
            continue
        described = {c.name for c in doc.columns}
        found += [
            f"marts.{table}.{c}: no description and unit in {doc.path.name}" for c in columns if c not in described
        ]
        found += [
            f"marts.{table}.{c}: described in {doc.path.name} but the table has no such column"
            for c in sorted(described - set(columns))
        ]
    found += [
        f"marts.{t}: described in {tables[t].path.name} but the warehouse has no such table"
        for t in sorted(set(tables) - set(actual))
    ]
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(tables: dict[str, Table]) -> str:
    """The generated marts section of docs/warehouse.md (markdown, between the markers)."""
    out = [BEGIN, "", "## marts", "", "| table | grain |", "|---|---|"]
    out += [f"| [`marts.{t.name}`](#marts{t.name}) | {_cell(t.grain)} |" for t in tables.values()]
    for t in tables.values():
        out += ["", f"### `marts.{t.name}`", "", t.description, "", f"Grain: {t.grain}.", ""]
        out += ["| column | unit | description |", "|---|---|---|"]
        out += [f"| `{c.name}` | {_cell(c.unit)} | {_cell(c.description)} |" for c in t.columns]
    return "\n".join([*out, "", END])


def updated(doc: str, section: str, doc_path: Path = DOC_PATH) -> str:
    """The page with its generated section replaced; the hand-written parts around it are kept as they are."""
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0 or end < start:
        raise DictionaryError(
            doc_path,
            f"the markers of the generated section are missing: put {BEGIN} and {END} "
            "where the marts dictionary belongs",
        )
    return doc[:start] + section + doc[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Generate the marts part of docs/warehouse.md.")
    parser.add_argument("--check", action="store_true", help="only check that docs/warehouse.md is up to date")
    parser.add_argument(
        "--warehouse",
        action="store_true",
        help="also check the .yml files against the published warehouse of the configuration",
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
    except SansfilmError as exc:  # a malformed .yml, a missing config or warehouse: said plainly
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if new != doc:
            print(f"{DOC_PATH} is out of date with analytics/sql/marts/*.yml: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if new != doc:
        DOC_PATH.write_text(new, encoding="utf-8")
        print(f"wrote {DOC_PATH} ({len(tables)} marts tables)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
