"""The raw warehouse's SQL migrations: a fresh raw schema (schema.sql) is exactly v0.1.0 + every migration file; a
file that fails half-way leaves the DuckDB file as it was; other versions are refused in one line."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from analytics import dbt_build, warehouse, warehouse_schema
from analytics.audit_codes import AUDIT_EVENT_TYPES
from analytics.errors import SchemaVersionError
from analytics.upgrade import UpgradeFailed, upgrade_warehouse
from tests.v010 import raw_rows, unpack

SHAPE = """select table_name, column_name, ordinal_position, data_type, is_nullable, column_default
           from information_schema.columns where table_schema = 'raw' order by 1, 3"""
KEYS = """select table_name, constraint_type, constraint_column_names from duckdb_constraints()
          where schema_name = 'raw' and constraint_type in ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY') order by all"""


def _shape(path: Path) -> tuple[list, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(SHAPE).fetchall(), con.execute(KEYS).fetchall()
    finally:
        con.close()


def test_fresh_raw_schema_is_v010_plus_every_migration(tmp_path):
    with warehouse.open_warehouse(tmp_path / "fresh.duckdb"):
        pass
    old = unpack("warehouse.duckdb", tmp_path / "old.duckdb")
    assert upgrade_warehouse(old).after == f"{warehouse_schema.latest():04d}"
    replayed = tmp_path / "replayed.duckdb"  # every file in order on an empty database
    con = duckdb.connect(str(replayed))
    con.execute("create schema raw")
    warehouse_schema.migrate(con, warehouse_schema.RawVersion(0, True, warehouse_schema.latest()))
    con.close()
    fresh = _shape(tmp_path / "fresh.duckdb")
    assert fresh[0] and fresh == _shape(old) == _shape(replayed)  # nobody changed a raw table without its file
    con = duckdb.connect(str(tmp_path / "fresh.duckdb"), read_only=True)
    versions = con.execute("select version, name from raw.schema_version order by 1").fetchall()
    con.close()
    assert versions == [(m.version, m.name) for m in warehouse_schema.migrations()]  # stamped at the latest


def test_other_versions_are_refused_in_one_line(tmp_path):
    old = unpack("warehouse.duckdb", tmp_path / "old.duckdb")
    for opening in (lambda: warehouse.open_warehouse(old).__enter__(), lambda: warehouse.connect(old, read_only=True)):
        with pytest.raises(SchemaVersionError, match=r"before versioning\); this sansfilm needs .*`sansfilm upgrade`"):
            opening()
    upgrade_warehouse(old)
    con = duckdb.connect(str(old))
    con.execute("insert into raw.schema_version values (9000, '9000_future', now())")
    con.close()
    with pytest.raises(SchemaVersionError) as refused:
        warehouse.connect(old, read_only=True)
    assert "9000, newer than this sansfilm" in str(refused.value) and "\n" not in str(refused.value)
    odd = tmp_path / "odd.duckdb"
    con = duckdb.connect(str(odd))
    con.execute("create schema raw; create table raw.dicom_instances (record_key varchar)")
    con.close()
    with pytest.raises(SchemaVersionError, match="not those of sansfilm v0.1.0"):
        warehouse.connect(odd, read_only=True)


def test_a_failed_migration_leaves_the_warehouse_as_it_was(tmp_path, monkeypatch):
    old = unpack("warehouse.duckdb", tmp_path / "old.duckdb")
    before, shape, digest = raw_rows(old), _shape(old), hashlib.sha256(old.read_bytes()).hexdigest()
    copy = tmp_path / "migrations"
    shutil.copytree(warehouse_schema.MIGRATIONS_DIR, copy)
    (copy / f"{warehouse_schema.latest() + 1:04d}_fails_half_way.sql").write_text(
        "alter table raw.harvest_runs add column probe varchar;\n"
        "update raw.harvest_runs set probe = 'x';\n"
        "create table raw.probe as select * from raw.harvest_files;\n"
        "select error('injected failure half-way');\n"
    )
    monkeypatch.setattr(warehouse_schema, "MIGRATIONS_DIR", copy)
    with pytest.raises(UpgradeFailed) as failed:
        upgrade_warehouse(old)
    message = str(failed.value)
    assert "injected failure half-way" in message and "rolled back" in message and "\n" not in message
    assert hashlib.sha256(old.read_bytes()).hexdigest() == digest  # not a byte changed
    assert raw_rows(old) == before and _shape(old) == shape  # no column, no table, no version table
    copies = list(tmp_path.glob("old.duckdb.*.bak"))
    assert len(copies) == 1 and raw_rows(copies[0]) == before
    monkeypatch.undo()
    assert upgrade_warehouse(old).after == f"{warehouse_schema.latest():04d}"
    kept = {t: [x for x in c if x != "path" or t == "harvest_files"] for t, (c, _) in before.items()}  # 0003: keys
    assert raw_rows(old, kept) == raw_rows(copies[0], kept)


def test_the_text_senders_put_in_stored_event_codes_is_dropped_by_the_upgrade(tmp_path):
    """Raw migration 0007: event_name held the EventID's text as sent (free text, a patient's name possible). After
    the upgrade a CID 400 code holds its standard name, any other code none; every other column is unchanged."""
    old = unpack("warehouse.duckdb", tmp_path / "old.duckdb")
    con = duckdb.connect(str(old))
    count = con.execute("select count(*) from raw.audit_events").fetchone()[0]
    assert count > 2
    con.execute("update raw.audit_events set event_name = 'Vue par DUPONT^JEANNE'")
    con.execute("update staged.stg_audit_events set event_type = 'Vue par DUPONT^JEANNE'")  # as a build copied it
    first = con.execute("select min(record_key) from raw.audit_events").fetchone()[0]
    con.execute("update raw.audit_events set event_id = 'PRIV-42' where record_key = ?", [first])
    con.execute("checkpoint")
    con.close()
    before = raw_rows(old)
    plan = upgrade_warehouse(old)
    assert plan.after == f"{warehouse_schema.latest():04d}" and "the next run rebuilds them from raw" in plan.note
    con = duckdb.connect(str(old), read_only=True)
    names = con.execute("select event_id, event_name from raw.audit_events order by record_key").fetchall()
    left = {
        t for (t,) in con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    }
    con.close()
    assert not left & {f"{schema}.{model}" for schema, model in dbt_build.models()}  # rebuilt by the next run
    assert {"marts.fct_usage_daily", "ref.establishments"} <= left  # the metering's facts and the reference stay
    assert len(names) == count and names[0] == ("PRIV-42", None)
    assert {(i, n) for i, n in names[1:]} <= {(i, n) for i, n in AUDIT_EVENT_TYPES.items()}
    kept = {t: [x for x in c if x != "path" or t == "harvest_files"] for t, (c, _) in before.items()}
    kept["audit_events"] = [c for c in kept["audit_events"] if c != "event_name"]
    copies = list(tmp_path.glob("old.duckdb.*.bak"))
    assert raw_rows(old, kept) == raw_rows(copies[0], kept)  # nothing else changed
    # the upgraded warehouse is written afresh: the text replaced is in none of the file's pages, used or not (the
    # copy made before the upgrade holds it, as it held everything: docs/deploy.md says to delete it once verified)
    assert b"DUPONT^JEANNE" not in old.read_bytes() and b"DUPONT^JEANNE" in copies[0].read_bytes()
    assert not list(tmp_path.glob(".old.duckdb.*"))  # no file of the rewrite left beside it


def test_the_upgrade_numbers_the_stored_instances_as_the_harvest_numbers_new_ones(tmp_path):
    """Raw migrations 0006, 0008 and 0009: the instances stored before them get the numbers a build finds them by
    (the UIDs', the file key's, the SOP Instance UID's hint), computed as the harvest computes them for a new record
    (analytics/raw_batches.py)."""
    from analytics.raw_batches import DERIVED

    old = unpack("warehouse.duckdb", tmp_path / "old.duckdb")
    upgrade_warehouse(old)
    con = duckdb.connect(str(old), read_only=True)
    same = " and ".join(f"{column} = {expression}" for column, expression in DERIVED["dicom_instances"].items())
    found = con.execute(f"select {same}, count(*) from raw.dicom_instances group by all").fetchall()
    hints, keys, sop_hints, sops = con.execute(
        """select count(distinct file_key_hint), count(distinct file_key), count(distinct sop_hint),
                  count(distinct sop_instance_uid) from raw.dicom_instances"""
    ).fetchone()
    con.close()
    assert len(found) == 1 and found[0][0] is True and found[0][1] > 2
    assert hints == keys > 1  # a file key's own hint (two of so few keys sharing one: a chance of about 1 in 10^8)
    assert sop_hints == sops > 1  # and an instance's
