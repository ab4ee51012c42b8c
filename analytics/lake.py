"""The open lake: the raw and staged layers as Hive-partitioned Parquet, readable without sansfilm.

Layout, under `[lake] root`:

    raw/dicom_instances/source=archive-files/month=2012-03/part-0.parquet
    staged/int_studies/month=2012-03/part-0.parquet

`month` is the Paris calendar month of the row's time column (a billing month); `source` is the harvested source,
for the tables that have one. Both are Hive partition columns (directory names), not columns inside the files; a
missing time is `month=__HIVE_DEFAULT_PARTITION__` (read back as NULL by DuckDB, Spark, Trino and pyarrow).

Privacy: only the columns the warehouse itself keeps, and never the harvested file `path` (a folder of an archive
export may be named after the patient); patients appear only as the keyed `patient_key`.

Atomic per table: each table is a symbolic link to a hidden version directory (`.dicom_instances.<version>`); a new
version is written beside it, then the link is replaced in one rename, so a reader sees the old table or the new one,
never a half-written one. The version before is kept (a reader that listed its files may still open them) and older
ones are removed.

Incremental: a version keeps a manifest of its partitions with a fingerprint (row count and sum of row hashes). A
new export computes the fingerprints (one scan of the table), rewrites the partitions that changed and hard-links
the unchanged ones' files from the current version: an unchanged month costs nothing but its share of the scan.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from analytics.errors import SansfilmError

MANIFEST = "_sansfilm_manifest.json"  # '_' and '.' names are skipped by Hive-style readers
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class LakeTable:
    schema: str  # the warehouse schema, and the lake's top folder (raw, staged)
    name: str
    month_of: str  # the timestamp column whose Paris month partitions the table
    by_source: bool  # also partitioned by source (the table has a `source` column)

    @property
    def partition_columns(self) -> tuple[str, ...]:
        return ("source", "month") if self.by_source else ("month",)


TABLES: tuple[LakeTable, ...] = (
    LakeTable("raw", "dicom_instances", "received_at", by_source=True),
    LakeTable("raw", "audit_events", "event_time", by_source=True),
    LakeTable("staged", "stg_dicom_instances", "received_at", by_source=True),
    LakeTable("staged", "stg_audit_events", "event_time", by_source=True),
    LakeTable("staged", "int_studies", "first_received_at", by_source=False),
    LakeTable("staged", "int_study_owners", "first_receipt_at", by_source=False),
)
# build_seq: which build wrote the row, and last_copy_received_date, where a build looks for a row: bookkeeping;
# sop_hash, study_hash, record_hash, file_key_hint, sop_hint: the UIDs (record keys, file keys) as numbers the builds
# find rows by, derived (and Parquet has no 128-bit integer); study_no: a study's number in this warehouse, given in
# the order builds took studies in (stg_study_numbers), another warehouse's differ
EXCLUDED_COLUMNS = frozenset(
    {
        "path",
        "build_seq",
        "last_copy_received_date",
        "sop_hash",
        "study_hash",
        "study_no",
        "record_hash",
        "file_key_hint",
        "sop_hint",
    }
)


@dataclass
class TableExport:
    table: str
    rows: int = 0
    partitions: int = 0
    partitions_written: int = 0
    partitions_kept: int = 0
    partitions_removed: int = 0
    version: str | None = None  # None: nothing changed, the current version stays


@dataclass
class LakeReport:
    root: str
    tables: list[TableExport] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"root": self.root, "tables": [vars(t) for t in self.tables]}


def export_lake(con: duckdb.DuckDBPyConnection, root: Path, *, full: bool = False) -> LakeReport:
    """Write every lake table from the warehouse open on `con` (incrementally unless `full`)."""
    root = Path(root)
    report = LakeReport(root=str(root))
    for table in TABLES:
        report.tables.append(export_table(con, root, table, full=full))
    return report


def table_path(root: Path, table: LakeTable) -> Path:
    return Path(root) / table.schema / table.name


def _select(con: duckdb.DuckDBPyConnection, table: LakeTable) -> str:
    columns = [
        name
        for (name,) in con.execute(
            """select column_name from information_schema.columns
               where table_catalog = current_database() and table_schema = ? and table_name = ?
               order by ordinal_position""",
            [table.schema, table.name],
        ).fetchall()
        if name not in EXCLUDED_COLUMNS
    ]
    if not columns:
        raise LookupError(f"{table.schema}.{table.name} does not exist: build the warehouse first")
    month = f"strftime(timezone('Europe/Paris', {table.month_of}), '%Y-%m')"
    quoted = ", ".join(f'"{c}"' for c in columns)
    return f"select {quoted}, {month} as month from {table.schema}.{table.name}"


def _fingerprints(con: duckdb.DuckDBPyConnection, select: str, table: LakeTable) -> dict[str, list]:
    """Per partition: [rows, sum of row hashes as text]; the key is the partition's relative directory."""
    parts = ", ".join(table.partition_columns)
    rows = con.execute(
        f"select {parts}, count(*), sum(hash(t)::hugeint)::varchar from ({select}) as t group by all"
    ).fetchall()
    width = len(table.partition_columns)
    return {_partition_dir(table, row[:width]): [row[width], row[width + 1]] for row in rows}


def _partition_dir(table: LakeTable, values: tuple) -> str:
    return "/".join(
        f"{col}={NULL_PARTITION if v is None else v}" for col, v in zip(table.partition_columns, values, strict=True)
    )


def _current_manifest(link: Path) -> dict[str, list]:
    try:
        return json.loads((link / MANIFEST).read_text(encoding="utf-8"))["partitions"]
    except (FileNotFoundError, NotADirectoryError, KeyError, json.JSONDecodeError):
        return {}


def export_table(con: duckdb.DuckDBPyConnection, root: Path, table: LakeTable, *, full: bool = False) -> TableExport:
    select = _select(con, table)
    link = table_path(root, table)
    fingerprints = _fingerprints(con, select, table)
    current = {} if full or not link.is_symlink() else _current_manifest(link)
    changed = [p for p, fp in fingerprints.items() if current.get(p) != fp]
    kept = [p for p in fingerprints if p not in changed]
    removed = [p for p in current if p not in fingerprints]
    result = TableExport(
        table=f"{table.schema}.{table.name}",
        rows=sum(fp[0] for fp in fingerprints.values()),
        partitions=len(fingerprints),
        partitions_written=len(changed),
        partitions_kept=len(kept),
        partitions_removed=len(removed),
    )
    if link.is_symlink() and not changed and not removed:
        return result
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
    target = link.with_name(f".{table.name}.{version}")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_partitions(con, select, table, changed, target)
        for part in kept:
            _link_files(link / part, target / part)
        (target / MANIFEST).write_text(json.dumps({"table": result.table, "partitions": fingerprints}, indent=0))
        _swap(link, target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    _remove_old_versions(link)
    result.version = version
    return result


def _write_partitions(con, select: str, table: LakeTable, partitions: list[str], target: Path) -> None:
    target.mkdir()
    if not partitions:
        return
    parts = ", ".join(table.partition_columns)
    keys = pl.DataFrame({"partition": partitions})
    con.register("lake_partitions", keys)
    try:
        directory = " || '/' || ".join(
            f"'{c}=' || coalesce({c}::varchar, '{NULL_PARTITION}')" for c in table.partition_columns
        )
        con.execute(
            f"""copy (select * from ({select}) where {directory} in (select partition from lake_partitions))
                to '{_sql_path(target)}' (format parquet, partition_by ({parts}), filename_pattern 'part-{{i}}',
                overwrite_or_ignore)"""
        )
    finally:
        con.unregister("lake_partitions")


def _sql_path(path: Path) -> str:
    """The path as the text of an SQL string literal: a quote doubled (a folder `Données d'imagerie`)."""
    return str(path).replace("'", "''")


def _link_files(source: Path, target: Path) -> None:
    """Hard links (no bytes copied) to an unchanged partition's files; a copy across file systems."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(source):
        if entry.is_file():
            try:
                os.link(entry.path, target / entry.name)
            except OSError:
                shutil.copy2(entry.path, target / entry.name)


def _swap(link: Path, target: Path) -> None:
    """Point the table's link at the new version in one rename (atomic on POSIX file systems)."""
    if link.exists() and not link.is_symlink():
        raise SansfilmError(f"{link} is a real directory, not a lake table written by sansfilm: move it away")
    staging = link.with_name(f".{link.name}.link-{uuid.uuid4().hex[:6]}")
    os.symlink(target.name, staging)
    os.replace(staging, link)


def _remove_old_versions(link: Path) -> None:
    """Keep the current version and the one before it; remove the rest (and stray temporary links)."""
    current = os.readlink(link)
    versions = sorted(
        (p for p in link.parent.glob(f".{link.name}.*") if p.is_dir() and not p.is_symlink()),
        key=lambda p: p.name,
    )
    keep = {current}
    older = [p for p in versions if p.name < current]
    if older:
        keep.add(older[-1].name)
    for path in versions:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
