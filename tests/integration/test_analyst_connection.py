"""`warehouse.connect()`: the analysts' read-only connection to the published marts, found from the configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest

from analytics import warehouse

# what an analyst types, run in another process (DuckDB's lock is per process)
ANALYST = """
import json
from analytics import warehouse
con = warehouse.connect()
marts = [t for (t,) in con.execute(
    "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
studies = con.execute("select sum(studies_received) from marts.mart_archive_daily").fetchone()[0]
try:
    con.execute("create table marts.scratch (x integer)")
    write = "allowed"
except Exception as exc:
    write = type(exc).__name__ + ": " + str(exc)
print(json.dumps({"marts": marts, "studies": int(studies), "write": write}))
"""


def analyst_process(config, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SANSFILM_CONFIG"}
    if config is not None:
        env["SANSFILM_CONFIG"] = str(config)
    return subprocess.run([sys.executable, "-c", ANALYST], capture_output=True, text=True, env=env, cwd=cwd)


def test_connect_reads_the_published_marts_while_a_pipeline_holds_the_write_lock(tiny_built, tmp_path):
    tiny = tiny_built
    writer = warehouse.connect(tiny.warehouse.path)  # holds DuckDB's write lock, as a running pipeline does
    try:
        done = analyst_process(tiny.config_path, cwd=tmp_path)  # found through $SANSFILM_CONFIG
        in_folder = analyst_process(None, cwd=tiny.root)  # else ./sansfilm.toml
        studies = writer.execute("select count(*) from staged.int_studies where first_received_date is not null")
        expected = studies.fetchone()[0]
    finally:
        writer.close()
    for run in (done, in_folder):
        assert run.returncode == 0, run.stderr
        seen = json.loads(run.stdout)
        assert "mart_archive_daily" in seen["marts"] and "dim_establishments" in seen["marts"]
        assert seen["studies"] == expected > 0
        assert seen["write"].startswith("InvalidInputException") and "read-only" in seen["write"]


def test_connect_before_any_build_says_what_to_run(tiny):
    with pytest.raises(warehouse.WarehouseNotPublished) as caught:
        warehouse.connect(config=tiny.config_path)
    message = str(caught.value)
    assert str(tiny.published_path) in message and "make demo" in message and "sansfilm run" in message


def test_the_published_connection_cannot_be_opened_for_writing(tiny):
    with pytest.raises(ValueError, match="read-only"):
        warehouse.connect(read_only=False, config=tiny.config_path)
    with pytest.raises(ValueError, match="not both"):
        warehouse.connect(tiny.warehouse.path, config=tiny.config_path)
    with pytest.raises(ValueError, match="a configuration, not a database"):
        warehouse.connect(tiny.config_path)


def test_the_pipeline_opener_still_writes_the_file_it_is_given(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    con.execute("create table t as select 1 as x")
    con.close()
    reader = warehouse.connect(tmp_path / "w.duckdb", read_only=True)
    try:
        assert reader.execute("select x from t").fetchall() == [(1,)]
        with pytest.raises(duckdb.InvalidInputException):
            reader.execute("insert into t values (2)")
    finally:
        reader.close()
