"""The data dictionary: `.yml` validation, the check against a warehouse's marts, and the generated docs section."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from analytics import dictionary
from analytics.errors import DictionaryError

GOOD = """description: Archive activity per day.
grain: one row per establishment × Paris day
columns:
  establishment_id: {description: "FINESS number", unit: "-"}
  bytes_received: {description: "Bytes received | that day", unit: bytes}
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads_in_column_order(tmp_path):
    table = dictionary.load_table(write(tmp_path, "mart_x", GOOD))
    assert table.name == "mart_x" and table.grain == "one row per establishment × Paris day"
    assert [(c.name, c.unit) for c in table.columns] == [("establishment_id", "-"), ("bytes_received", "bytes")]


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        (GOOD.replace(", unit: bytes", ""), "columns.bytes_received.unit", 5),
        (GOOD.replace('"FINESS number"', '""'), "columns.establishment_id.description", 4),
        (GOOD.replace("grain: one row per establishment × Paris day\n", ""), "grain", None),
        (GOOD.replace(", unit: bytes}", ", unit: bytes, type: hugeint}"), "columns.bytes_received", 5),
        (GOOD + "owner: someone\n", "owner", 6),
        (GOOD.replace('{description: "FINESS number", unit: "-"}', "FINESS"), "columns.establishment_id", 4),
    ],
)
def test_a_bad_file_is_refused_naming_file_field_and_line(tmp_path, text, field, line):
    path = write(tmp_path, "mart_x", text)
    with pytest.raises(DictionaryError) as caught:
        dictionary.load_table(path)
    assert caught.value.path == path and caught.value.field == field and caught.value.line == line
    assert str(path) in str(caught.value)


def test_problems_name_each_table_and_column(tmp_path):
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.mart_x (establishment_id varchar, received_date date)")  # bytes_received gone
    con.execute("create table marts.fct_new (x integer)")  # nobody described it
    write(tmp_path, "mart_x", GOOD)
    write(tmp_path, "mart_gone", GOOD)  # describes a table that no longer exists
    found = dictionary.problems(dictionary.warehouse_columns(con), dictionary.load_dictionary(tmp_path))
    assert found == [
        "marts.fct_new: no dictionary file analytics/sql/marts/fct_new.yml",
        "marts.mart_x.received_date: no description and unit in mart_x.yml",
        "marts.mart_x.bytes_received: described in mart_x.yml but the table has no such column",
        "marts.mart_gone: described in mart_gone.yml but the warehouse has no such table",
    ]


def test_the_generated_section_replaces_only_what_is_between_the_markers(tmp_path):
    write(tmp_path, "mart_x", GOOD)
    tables = dictionary.load_dictionary(tmp_path)
    doc = f"# Intro, by hand\n\n{dictionary.BEGIN}\nstale\n{dictionary.END}\n\n## Checks, by hand\n"
    new = dictionary.updated(doc, dictionary.render(tables))
    assert new.startswith("# Intro, by hand\n\n" + dictionary.BEGIN) and new.endswith(
        dictionary.END + "\n\n## Checks, by hand\n"
    )
    assert "stale" not in new and "### `marts.mart_x`" in new
    assert "| `bytes_received` | bytes | Bytes received \\| that day |" in new  # a pipe cannot break the table
    assert dictionary.updated(new, dictionary.render(tables)) == new
    with pytest.raises(DictionaryError, match="markers"):
        dictionary.updated("# no markers\n", dictionary.render(tables))


def test_check_fails_on_a_stale_page_and_the_generator_fixes_it(tmp_path, monkeypatch, capsys):
    page = tmp_path / "warehouse.md"
    page.write_text(f"intro\n{dictionary.BEGIN}\nstale\n{dictionary.END}\noutro\n", encoding="utf-8")
    monkeypatch.setattr(dictionary, "DOC_PATH", page)
    assert dictionary.main(["--check"]) == 1
    assert "python -m analytics.dictionary" in capsys.readouterr().err
    assert dictionary.main([]) == 0
    assert dictionary.main(["--check"]) == 0
    assert page.read_text(encoding="utf-8").startswith("intro\n") and "### `marts.fct_usage_daily`" in page.read_text()


def test_docs_warehouse_md_is_up_to_date_with_the_yml_files():
    doc = dictionary.DOC_PATH.read_text(encoding="utf-8")
    assert dictionary.updated(doc, dictionary.render(dictionary.load_dictionary())) == doc, (
        "docs/warehouse.md is out of date with analytics/sql/marts/*.yml: run `python -m analytics.dictionary`"
    )
