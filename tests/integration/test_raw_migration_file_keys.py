"""Migration 0003 (file keys): a v0.1.0 raw warehouse, with paths in its tables and duplicated quarantine rows, becomes
the shape `analytics/sql/raw/schema.sql` creates, keyed as the harvest keys new rows, and harvests on from there."""

from __future__ import annotations

import gzip
import os
import subprocess

import duckdb
import pytest

from analytics import operations, warehouse, warehouse_schema
from analytics.file_keys import file_key
from tests.conftest import REPO
from tests.tiny_corpus import make_tiny_corpus

MIGRATIONS = warehouse.SQL_DIR / "raw" / "migrations"
MIGRATION = MIGRATIONS / "0003_file_keys.sql"
V0_1_0 = "d166035"


def v0_1_0_schema() -> str:
    frozen = warehouse.SQL_DIR / "raw" / "migrations" / "0001_v0_1_0.sql"
    if frozen.exists():
        return frozen.read_text(encoding="utf-8")
    done = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{V0_1_0}:analytics/sql/raw/schema.sql"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("the v0.1.0 raw schema is not at hand (no 0001 migration, no git history)")
    return done.stdout


def shape(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    columns = con.execute("""select table_name, column_name, data_type, is_nullable from information_schema.columns
                             where table_schema = 'raw' order by table_name, ordinal_position""").fetchall()
    keys = con.execute("""select table_name, constraint_type, constraint_column_names from duckdb_constraints()
                          where schema_name = 'raw' order by all""").fetchall()
    return columns + keys


def test_a_v0_1_0_warehouse_migrates_to_file_keys_and_harvests_on(tmp_path):
    settings = make_tiny_corpus(tmp_path)
    dicom, audit = settings.source("archive-files").path, settings.source("audit").path
    db = duckdb.connect(str(tmp_path / "old.duckdb"))
    db.execute(v0_1_0_schema())
    rows = [
        ("archive-files", str(dicom / "DUPONT^JEAN_IPP123" / "IM1")),
        ("archive-files", str(dicom / "x")),
        ("audit", str(audit / "bad.log.gz")),
    ]
    for source, path in rows:
        db.execute(
            """insert into raw.harvest_files (source, path, size_bytes, mtime_ns, status, harvested_at,
                      harvest_id) values (?, ?, 1, 1, 'parsed', now(), 'h1')""",
            [source, path],
        )
    db.execute(
        """insert into raw.dicom_instances (record_key, source, study_instance_uid, series_instance_uid,
                  sop_instance_uid, size_bytes, received_at, path, harvest_id)
                  values ('r1', 'archive-files', '1.2', '1.2.3', '1.2.3.4', 10, now(), ?, 'h1')""",
        [rows[0][1]],
    )
    db.execute(
        "insert into raw.dicom_deletions values ('archive-files', ?, now(), 'reconciliation', 'h1')", [rows[0][1]]
    )
    for key, when, harvest_id in (("q1", "2012-01-01", "h1"), ("q2", "2012-02-01", "h2")):  # touched: two rows
        db.execute(
            "insert into raw.quarantine values (?, 'archive-files', ?, null, 'empty file', ?, ?)",
            [key, rows[1][1], when, harvest_id],
        )
    db.execute(
        "insert into raw.quarantine values ('q3', 'audit', ?, null, ?, now(), 'h1')",
        [rows[2][1], f"{rows[2][1]}: gzip file is truncated (compressed stream ends early)"],
    )
    for harvest_id in ("h1", "h2"):
        db.execute(
            "insert into raw.harvest_runs values (?, 'archive-files', 'dicom_files', now(), now(), 1, 0, 0, 1, 0)",
            [harvest_id],
        )

    db.execute("begin transaction")  # as `sansfilm upgrade` applies them: every pending file, one transaction
    applied = warehouse_schema.migrate(db, warehouse_schema.version(db, "old.duckdb"))
    db.execute("commit")
    assert MIGRATION in [m.path for m in applied]

    fresh = duckdb.connect()
    warehouse_schema.ensure(fresh, "fresh")
    assert shape(db) == shape(fresh)
    (salt,) = db.execute("select salt from raw.file_key_salt").fetchone()
    keys = {path: file_key(salt, source, path) for source, path in rows}
    assert db.execute("select file_key from raw.dicom_instances").fetchall() == [(keys[rows[0][1]],)]
    assert db.execute("select file_key from raw.dicom_deletions").fetchall() == [(keys[rows[0][1]],)]
    quarantine = db.execute("select file_key, reason, quarantined_at from raw.quarantine order by 3").fetchall()
    assert [(k, r, str(t.year)) for k, r, t in quarantine] == [
        (keys[rows[1][1]], "empty file", "2012"),  # the first of the two rows
        (keys[rows[2][1]], "gzip file is truncated (compressed stream ends early)", str(quarantine[1][2].year)),
    ]
    runs = db.execute("select harvest_id, files_quarantined from raw.harvest_runs order by 1").fetchall()
    assert runs == [("h1", 2), ("h2", 1)]  # counted before the duplicate went
    text = "\n".join(
        str(v)
        for table in ("dicom_instances", "audit_events", "quarantine", "dicom_deletions")
        for row in db.execute(f"select * from raw.{table}").fetchall()
        for v in row
    )
    assert "DUPONT" not in text and str(tmp_path) not in text
    db.close()

    # the migrated warehouse is the configuration's: a harvest carries on, with the quarantine keyed alike
    target = settings.warehouse.path
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp_path / "old.duckdb", target)
    (audit / "bad.log.gz").write_bytes(gzip.compress(b"x")[:-3])
    (dicom / "x").write_bytes(b"")
    reports = {r.name: r for r in operations.harvest(settings)}
    assert (reports["archive-files"].files_quarantined, reports["audit"].files_quarantined) == (1, 1)
    con = warehouse.connect(target, read_only=True)
    try:
        assert con.execute("select count(*) from raw.quarantine where line is null").fetchone() == (2,)
    finally:
        con.close()
