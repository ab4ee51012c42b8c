"""The data dictionary from the dbt manifest: every model documented, the check against a warehouse, the docs page."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from analytics import dictionary
from analytics.errors import DictionaryError


def node(name: str = "mart_x", schema: str = "marts", **overrides) -> dict:
    base = {
        "name": name,
        "schema": schema,
        "resource_type": "model",
        "original_file_path": "models/marts/schema.yml",
        "description": "Archive activity per day.",
        "meta": {"grain": "one row per establishment × Paris day"},
        "columns": {
            "establishment_id": {"description": "FINESS number", "meta": {"unit": "-"}},
            "bytes_received": {"description": "Bytes received | that day", "meta": {"unit": "bytes"}},
        },
    }
    return {**base, **overrides}


def manifest(tmp_path: Path, *nodes: dict) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": {f"model.x.{n['name']}": n for n in nodes}, "sources": {}}), encoding="utf-8")
    return path


def test_a_documented_model_loads_in_column_order():
    table = dictionary.load_node(node())
    assert table.qualified == "marts.mart_x" and table.grain == "one row per establishment × Paris day"
    assert [(c.name, c.unit) for c in table.columns] == [("establishment_id", "-"), ("bytes_received", "bytes")]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"columns": {"bytes_received": {"description": "Bytes", "meta": {}}}},
            "mart_x.columns.bytes_received.meta.unit",
        ),
        (
            {"columns": {"bytes_received": {"description": " ", "meta": {"unit": "bytes"}}}},
            "mart_x.columns.bytes_received.description",
        ),
        ({"meta": {}}, "mart_x.meta.grain"),
        ({"description": ""}, "mart_x.description"),
        ({"columns": {}}, "mart_x.columns"),
    ],
)
def test_an_undocumented_model_is_refused_naming_file_and_field(overrides, field):
    with pytest.raises(DictionaryError) as caught:
        dictionary.load_node(node(**overrides))
    assert caught.value.field == field and "schema.yml" in str(caught.value)


def test_problems_name_each_table_and_column(tmp_path):
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.mart_x (establishment_id varchar, received_date date)")  # bytes_received gone
    con.execute("create table marts.fct_new (x integer)")  # nobody described it
    tables = dictionary.load_dictionary(manifest(tmp_path, node(), node("mart_gone")))
    found = dictionary.problems(dictionary.warehouse_columns(con), tables)
    assert found == [
        "marts.fct_new: not in any schema.yml of analytics/dbt/models",
        "marts.mart_x.received_date: no description and unit in schema.yml",
        "marts.mart_x.bytes_received: described in schema.yml but the table has no such column",
        "marts.mart_gone: described in schema.yml but the warehouse has no such table",
    ]


def test_the_generated_section_replaces_only_what_is_between_the_markers(tmp_path):
    tables = dictionary.load_dictionary(manifest(tmp_path, node()))
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
    text = page.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and "### `marts.fct_usage_daily`" in text and "### `staged.int_studies`" in text


def test_docs_warehouse_md_is_up_to_date_with_the_dbt_project():
    doc = dictionary.DOC_PATH.read_text(encoding="utf-8")
    assert dictionary.updated(doc, dictionary.render(dictionary.load_dictionary())) == doc, (
        "docs/warehouse.md is out of date with analytics/dbt/models/*/*.yml: run `python -m analytics.dictionary`"
    )


def test_the_keys_a_publish_reads_from_the_models_are_those_dbt_parses():
    """The publish reads each incremental model's key from its SQL file (no dbt parse on the nightly path): every
    incremental model's `unique_key` or `replace_where` column, as dbt's manifest has it, is found there, so none is
    copied whole for a config written another way."""
    from analytics import dbt_build

    nodes = json.loads(dbt_build.prepare_manifest().read_text(encoding="utf-8"))["nodes"].values()
    incremental = [n for n in nodes if n["resource_type"] == "model" and n["config"]["materialized"] == "incremental"]
    assert len(incremental) >= 10
    assert {n["config"]["incremental_strategy"] for n in incremental} == {"delete+insert"}  # macros/delete_insert.sql
    keys = {n["name"]: n["config"]["unique_key"] for n in incremental if n["config"].get("unique_key")}
    partitions = {
        n["name"]: n["config"]["replace_where"].split()[0] for n in incremental if n["config"].get("replace_where")
    }
    assert set(keys) | set(partitions) == {n["name"] for n in incremental} and not set(keys) & set(partitions)
    found = dbt_build.model_keys()  # read from the models' SQL by the publish, without dbt
    assert (found.unique, found.partitions) == (keys, partitions)
    # and the day each keyed model stores its rows in order of, by which the publish finds the rows it replaces
    days = {n["name"]: n["config"]["storage_day"] for n in incremental if n["config"].get("storage_day")}
    assert found.storage_days == days and set(days) <= set(keys)
    # a model declaring its storage day stores its rows in that order (the publish's day filter skips row groups only
    # then), and only such a model asks for the order
    ordered = {n["name"] for n in incremental if "{{ in_storage_order() }}" in n["raw_code"]}
    assert ordered == set(days)
    assert all(n["raw_code"].rstrip().endswith("{{ in_storage_order() }}") for n in incremental if n["name"] in days)
    assert set(days) == {
        "stg_dicom_instances",
        "stg_audit_studies",
        "int_studies",
        "int_study_owners",
        "int_transfers_between_establishments",
    }
