"""The open lake read back without sansfilm: plain DuckDB and pyarrow, against the warehouse it was written from."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.dataset as ds
import pytest

from analytics import lake, operations
from analytics.config import load_settings
from analytics.errors import ConfigError
from tests.dicom_factory import make_dicom
from tests.integration.test_sample import patient_identity
from tests.privacy import leaked, parquet_text
from tests.tiny_corpus import make_tiny_corpus

# the column that identifies a row of each table (unique in the warehouse)
KEYS = {
    "dicom_instances": "record_key",
    "audit_events": "record_key",
    "stg_dicom_instances": "sop_instance_uid",
    "stg_audit_events": "record_key",
    "int_studies": "study_instance_uid",
    "int_study_owners": "study_instance_uid",
}
MONTH = re.compile(r"^month=(\d{4}-(0[1-9]|1[0-2])|__HIVE_DEFAULT_PARTITION__)$")


def read_duckdb(root: Path, table: lake.LakeTable) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()  # no sansfilm code: what any DuckDB user would type
    con.execute(
        f"create view t as select * from read_parquet('{lake.table_path(root, table)}/**/*.parquet', "
        "hive_partitioning = true)"
    )
    return con


def warehouse_keys(settings, table: lake.LakeTable) -> list[str]:
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        rows = con.execute(f"select {KEYS[table.name]} from {table.schema}.{table.name}").fetchall()
    return sorted(k for (k,) in rows)


@pytest.mark.parametrize("table", lake.TABLES, ids=lambda t: f"{t.schema}.{t.name}")
def test_lake_tables_read_back_like_the_warehouse(harvested, table):
    settings, _ = harvested
    root = settings.lake.root
    expected = warehouse_keys(settings, table)
    assert expected, "the sample fills every lake table"

    con = read_duckdb(root, table)
    assert sorted(k for (k,) in con.execute(f"select {KEYS[table.name]} from t").fetchall()) == expected
    # every row sits in the partition of its Paris month (and of its source)
    month_of = f"strftime(timezone('Europe/Paris', {table.month_of}), '%Y-%m')"
    assert con.execute(f"select count(*) from t where month is distinct from {month_of}").fetchone()[0] == 0
    columns = {name for (name, *_) in con.execute("describe t").fetchall()}
    assert "path" not in columns  # an archive folder may be named after the patient
    assert {c for c in columns if "patient" in c} <= {"patient_key"}  # a keyed hash, never a name or an ID

    dataset = ds.dataset(lake.table_path(root, table), format="parquet", partitioning="hive")
    arrow = dataset.to_table()
    assert arrow.num_rows == len(expected)
    assert sorted(arrow.column(KEYS[table.name]).to_pylist()) == expected
    assert set(dataset.partitioning.schema.names) == set(table.partition_columns)

    link = lake.table_path(root, table)
    relative = {p.relative_to(link.resolve()).parts for p in link.resolve().rglob("*.parquet")}
    sources = {s.name for s in settings.sources}
    for parts in relative:
        assert parts[-1] == "part-0.parquet"
        *dirs, _ = parts
        if table.by_source:
            assert len(dirs) == 2 and dirs[0].removeprefix("source=") in sources, parts
        assert MONTH.match(dirs[-1]), parts
    months = {parts[-2] for parts in relative}
    assert len(months) >= 12  # the sample spans a year


def test_lake_holds_no_patient_name_or_id(harvested):
    settings, _ = harvested
    names, ids = patient_identity()  # every patient of the sample, from its DICOM headers and audit messages
    assert len(names) > 50 and len(ids) > 100
    text = parquet_text(settings.lake.root)  # every text value of every Parquet file
    assert "1.2.250.1.999" in text  # the scan does see the stored values
    assert leaked(text, names | ids) == []


def tiny_with_lake(tmp_path: Path):
    settings = make_tiny_corpus(tmp_path)
    with settings.config_path.open("a", encoding="utf-8") as fp:
        fp.write('[lake]\nroot = "lake"\n')
    return load_settings(settings.config_path)


def export_counts(report: dict) -> dict[str, tuple[int, int, int]]:
    return {t["table"]: (t["rows"], t["partitions_written"], t["partitions_kept"]) for t in report["tables"]}


def lake_files(root: Path) -> dict[str, int]:
    """Parquet files as a reader finds them (through the tables' links), with their inodes."""
    files = {}
    for table in lake.TABLES:
        link = lake.table_path(root, table)
        for path in link.resolve().rglob("*.parquet"):
            files[f"{table.schema}/{table.name}/{path.relative_to(link.resolve())}"] = path.stat().st_ino
    return files


def test_rerun_changes_nothing_and_a_new_month_rewrites_only_that_month(tmp_path):
    settings = tiny_with_lake(tmp_path)
    assert settings.lake.root == tmp_path / "lake"
    operations.harvest(settings)
    first = operations.build_warehouse(settings).lake
    assert all(t["partitions_written"] == t["partitions"] > 0 for t in first["tables"])
    before = lake_files(settings.lake.root)

    again = operations.build_warehouse(settings).lake  # nothing new: nothing rewritten, nothing duplicated
    assert all(t["partitions_written"] == 0 and t["version"] is None for t in again["tables"])
    assert lake_files(settings.lake.root) == before
    rows = {t["table"]: t["rows"] for t in first["tables"]}

    # one new instance received in November 2012, Paris time (the tiny corpus has none that month)
    new = make_dicom(tmp_path / "dicom" / "d" / "IM5", sop_uid="1.2.250.1.999.2.5", study_uid="1.2.250.1.999.9")
    received = datetime(2012, 11, 30, 23, 30, tzinfo=ZoneInfo("Europe/Paris")).timestamp()  # 22:30 UTC
    os.utime(new, (received, received))
    operations.harvest(settings)
    third = export_counts(operations.build_warehouse(settings).lake)
    for name in ("raw.dicom_instances", "staged.stg_dicom_instances", "staged.int_studies", "staged.int_study_owners"):
        assert third[name][0] == rows[name] + 1
        assert third[name][1] == 1, name  # only the new month's partition was written
    assert third["raw.audit_events"][1] == 0
    after = lake_files(settings.lake.root)
    assert {p for p in after if "month=2012-11" in p} == {
        "raw/dicom_instances/source=archive-files/month=2012-11/part-0.parquet",
        "staged/stg_dicom_instances/source=archive-files/month=2012-11/part-0.parquet",
        "staged/int_studies/month=2012-11/part-0.parquet",
        "staged/int_study_owners/month=2012-11/part-0.parquet",
    }
    unchanged = {p for p in before if "audit" in p}
    assert {p: after[p] for p in unchanged} == {p: before[p] for p in unchanged}  # hard links: the same files

    con = read_duckdb(settings.lake.root, lake.TABLES[0])
    total = rows["raw.dicom_instances"] + 1
    assert con.execute("select count(*), count(distinct record_key) from t").fetchone() == (total, total)

    with duckdb.connect(str(settings.warehouse.path), read_only=True) as wh:
        full = export_counts(lake.export_lake(wh, settings.lake.root, full=True).to_dict())
    assert {k: v[0] for k, v in full.items()} == {k: v[0] for k, v in third.items()}
    versions = [p for p in (settings.lake.root / "raw").iterdir() if p.name.startswith(".dicom_instances.")]
    assert len(versions) == 2  # the current version and the one before it


def test_no_lake_section_writes_no_lake(tmp_path):
    settings = make_tiny_corpus(tmp_path)
    assert settings.lake is None
    operations.harvest(settings)
    assert operations.build_warehouse(settings).lake is None
    assert not (tmp_path / "lake").exists()


def test_unknown_lake_key_is_named(tmp_path):
    settings = make_tiny_corpus(tmp_path)
    with settings.config_path.open("a", encoding="utf-8") as fp:
        fp.write('[lake]\nroot = "lake"\nformat = "delta"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'lake\.format'"):
        load_settings(settings.config_path)


def test_a_folder_with_a_quote_in_its_name_holds_the_whole_platform(tmp_path):
    """French folder names carry apostrophes (`Données d'imagerie`): harvest, build and lake all work there."""
    root = tmp_path / "Données d'imagerie"
    root.mkdir()
    settings = tiny_with_lake(root)
    operations.harvest(settings)
    report = operations.build_warehouse(settings).lake
    assert all(t["partitions_written"] == t["partitions"] > 0 for t in report["tables"])
    parquet = f"{lake.table_path(settings.lake.root, lake.TABLES[0])}/**/*.parquet"
    read = duckdb.connect().execute("select count(*) from read_parquet(?, hive_partitioning = true)", [parquet])
    assert read.fetchone()[0] == len(warehouse_keys(settings, lake.TABLES[0])) > 0
