"""Scanning what sansfilm wrote for patient identity: every text value of every table of a DuckDB file, every Parquet
file of the lake, and any other file as bytes. One mechanism for every "patient data never written" test."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from analytics import warehouse

# The one place a file path may be kept: the harvest's own file-state table (paths may name patients).
FILE_STATE_PATH = ("raw", "harvest_files", "path")


def name_variants(pn: str) -> set[str]:
    """The ways a DICOM person name (FAMILY^GIVEN) may be written out."""
    family, _, rest = pn.partition("^")
    given = rest.split("^")[0]
    variants = {pn, family} if given else {family}
    if given:
        variants |= {f"{family} {given}", f"{given} {family}", f"{family}^{given}"}
    return {v for v in variants if len(v) >= 4}


def database_text(path: Path, *, allowed: Iterable[tuple[str, str, str]] = (FILE_STATE_PATH,)) -> str:
    """Every text value of every table of a DuckDB file, opened as a database (compression hides raw bytes)."""
    con = warehouse.connect(path, read_only=True)
    try:
        chunks = []
        columns = con.execute(
            """select table_schema, table_name, column_name from information_schema.columns
               where data_type in ('VARCHAR', 'VARCHAR[]')"""
        ).fetchall()
        for schema, table, column in columns:
            if (schema, table, column) in set(allowed):
                continue
            rows = con.execute(f'select distinct "{column}"::varchar from "{schema}"."{table}"').fetchall()
            chunks.extend(v for (v,) in rows if v)
        return "\n".join(chunks)
    finally:
        con.close()


def parquet_text(root: Path) -> str:
    """Every text value of every Parquet file below root (the lake), file by file."""
    chunks = []
    con = duckdb.connect()
    try:
        for path in sorted(Path(root).rglob("*.parquet")):
            relation = con.read_parquet(str(path))
            for name, kind in zip(relation.columns, relation.types, strict=True):
                if str(kind).startswith("VARCHAR"):
                    rows = con.execute(
                        f'select distinct "{name}"::varchar from read_parquet(?)', [str(path)]
                    ).fetchall()
                    chunks.extend(v for (v,) in rows if v)
        return "\n".join(chunks)
    finally:
        con.close()


def leaked(text: str, secrets: Iterable[str]) -> list[str]:
    return sorted(s for s in secrets if s in text)
