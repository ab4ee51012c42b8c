"""An installation left by sansfilm v0.1.0, from the committed fixtures (tests/fixtures/v0_1_0/, made once from the tag
by tests/fixtures/make_v0_1_0.py): the upgrade tests start from it, never from the tag (CI clones may lack tags)."""

from __future__ import annotations

import hashlib
import json
import lzma
import shutil
import subprocess
import tarfile
from pathlib import Path

import duckdb
import sqlalchemy as sa
from typer.testing import CliRunner

from analytics.billing.schema import V0_1_0_OPTIONAL, V0_1_0_TABLES
from pipelines.cli import app
from tests.postgres import find_bindir

FIXTURES = Path(__file__).parent / "fixtures" / "v0_1_0"
CORPUS = json.loads((FIXTURES / "corpus.json").read_text())
RAW_TABLES = (
    "dicom_instances",
    "audit_events",
    "quarantine",
    "harvest_files",
    "harvest_runs",
    "harvest_cursors",
    "dicom_deletions",
)
runner = CliRunner()


def sansfilm(config: Path, *args: str):
    return runner.invoke(app, ["--config", str(config), *args])


def unpack(name: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(lzma.decompress((FIXTURES / f"{name}.xz").read_bytes()))
    return target


def installation(root: Path, ledger_url: str | None = None) -> Path:
    """The v0.1.0 configuration, contracts, warehouse, issued documents and ledger (SQLite, or `ledger_url` loaded by
    load_postgres) over a sample corpus made now with the same arguments (its files only feed later harvests);
    returns the config."""
    sample = CORPUS["sample"]
    made = sansfilm(root / "unused.toml", "samples", "--out", str(root), *[f"--{k}={v}" for k, v in sample.items()])
    assert made.exit_code == 0, made.output
    shutil.rmtree(root / "contracts")
    shutil.copytree(FIXTURES / "contracts", root / "contracts")
    config = (FIXTURES / "sansfilm.toml").read_text()
    if ledger_url is not None:
        config = config.replace('url = "sqlite:///ledger.sqlite"', f'url = "{ledger_url}"')
    (root / "sansfilm.toml").write_text(config)
    unpack("warehouse.duckdb", root / "warehouse" / "sansfilm.duckdb")
    with tarfile.open(FIXTURES / "documents.tar.xz") as archive:  # the issued documents, under [billing] out_dir
        archive.extractall(root / "invoices", filter="data")
    if ledger_url is None:
        unpack("ledger.sqlite", root / "ledger.sqlite")
    return root / "sansfilm.toml"


def load_postgres(database_url: str) -> None:
    """Restore the v0.1.0 PostgreSQL ledger (pg_dump of a ledger v0.1.0 made and issued into) into an empty database."""
    url = sa.make_url(database_url)
    dump = lzma.decompress((FIXTURES / "ledger.postgres.sql.xz").read_bytes())
    subprocess.run(
        [
            str(find_bindir() / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            url.host,
            "-p",
            str(url.port),
            "-U",
            url.username,
            "-d",
            url.database,
        ],
        input=dump,
        check=True,
        capture_output=True,
    )


def ledger_rows(url: str) -> dict[str, list[dict[str, str]]]:
    """Every row of the v0.1.0 ledger tables (their v0.1.0 columns), in key order, read with plain SQL."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
            tables = {**V0_1_0_TABLES, **{t: c for t, c in V0_1_0_OPTIONAL.items() if t in present}}
            rows = {}
            for table, columns in tables.items():
                listed = ", ".join(f'"{c}"' for c in sorted(columns))
                found = conn.exec_driver_sql(f"SELECT {listed} FROM {table}").mappings()
                rows[table] = sorted(({k: str(v) for k, v in r.items()} for r in found), key=repr)
            return rows
    finally:
        engine.dispose()


def raw_rows(path: Path, columns: dict[str, list[str]] | None = None) -> dict[str, tuple[list[str], list[str]]]:
    """Every raw record and file state, in a stable order: table -> (columns, rows); `columns` (those of an earlier
    call) reads the same columns again, whatever a migration added since."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = {}
        for table in RAW_TABLES:
            names = (columns or {}).get(table) or [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ? "
                    "order by ordinal_position",
                    [table],
                ).fetchall()
            ]
            found = con.execute(f"select {', '.join(names)} from raw.{table}").fetchall()
            rows[table] = (names, sorted(map(repr, found)))
        return rows
    finally:
        con.close()


def issued_documents(folder: Path) -> dict[str, str]:
    """SHA-256 of every document under `folder`, by path relative to it (as documents.sha256 lists them)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.*"))
        if p.relative_to(folder).parts[0] != "drafts"
    }  # previews `run` and `harvest` write, not issued documents


def documents_as_issued() -> dict[str, str]:
    return dict(line.split("  ")[::-1] for line in (FIXTURES / "documents.sha256").read_text().splitlines())
