"""Versions of the warehouse's raw schema: ordered SQL files analytics/sql/raw/migrations/NNNN_slug.sql, the version
reached kept in the table `raw.schema_version` of the DuckDB file.

- 0001 is the raw schema of sansfilm v0.1.0. A new warehouse is made from analytics/sql/raw/schema.sql (the current
  schema, in one file) and stamped at the latest version; an older one is brought forward by `sansfilm upgrade`
  (analytics.upgrade), every pending file in one transaction (DuckDB's DDL is transactional: a failure rolls all of
  it back). Every other opener refuses a warehouse at another version (`check`).
- A warehouse made before versioning (v0.1.0: raw tables, no `raw.schema_version`) is recognised as 0001 when its raw
  tables and columns are exactly those 0001 creates (compared through information_schema), never guessed.
- Only `raw` (and the version table) is migrated: `ref`, `staged` and `marts` are rebuilt from raw and the contracts
  by the next `sansfilm run` / `sansfilm harvest` (a migration that removes values the models copied has their
  tables dropped first: PURGES_MODELS).

Adding a raw schema change:
1. Change analytics/sql/raw/schema.sql as a new warehouse should be. A new column goes last in its table (ALTER
   TABLE ADD COLUMN appends it there, and the test compares column order too).
2. Add analytics/sql/raw/migrations/NNNN_slug.sql (the next number, no gap; on a branch `9NNN_<branch>_<slug>.sql`
   that the coordinator renumbers) holding the DDL and DML that bring a warehouse at NNNN-1 to the new schema.
   Values for existing rows are computed in SQL from what the rows hold (`update raw.x set c = ... from ...`). No
   BEGIN/COMMIT in the file: the runner holds the transaction and records the version.
3. tests/integration/test_warehouse_migrations.py proves that a fresh schema.sql and the v0.1.0 fixture warehouse
   upgraded through every file have the same information_schema, and that the fixture's records survive; run
   `.venv/bin/python -m pytest tests/integration/test_warehouse_migrations.py -q -p no:xdist`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb

from analytics.catalog import table_exists
from analytics.errors import SchemaVersionError

RAW_DIR = Path(__file__).parent / "sql" / "raw"
MIGRATIONS_DIR = RAW_DIR / "migrations"
VERSION_TABLE = "raw.schema_version"
_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
_COLUMNS = """select table_name, column_name, data_type, is_nullable from information_schema.columns
              where table_catalog = current_database() and table_schema = 'raw' and table_name <> 'schema_version'
              order by 1, 2"""


@dataclass(frozen=True)
class Migration:
    version: int
    slug: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.stem


def migrations() -> tuple[Migration, ...]:
    """The migration files, in order; numbered 1, 2, ... without gap or repeat."""
    return _migrations_in(MIGRATIONS_DIR)  # read at call time: a test may point it at a copy with a failing file


@lru_cache(maxsize=4)
def _migrations_in(directory: Path) -> tuple[Migration, ...]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        if not (match := _FILE.fullmatch(path.name)):
            raise SchemaVersionError(f"{path}: a raw migration is named NNNN_slug.sql (lowercase slug)")
        found.append(Migration(int(match[1]), match[2], path))
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise SchemaVersionError(
            f"{directory}: migrations must be numbered 0001, 0002, ... without gap or repeat (a branch's 9NNN_ file "
            "takes the next free number when it is merged)"
        )
    return tuple(found)


def latest() -> int:
    return migrations()[-1].version


# Migrations that remove values the models' tables copied from raw (0007: the text senders put in audit event codes,
# copied into stg_audit_events and the marts): the upgrade drops those tables with them, before it writes the
# warehouse afresh, so that no page of the upgraded file holds the values. The next build finds them missing and
# rebuilds every model from raw (analytics.dbt_build).
PURGES_MODELS = frozenset({7})


@dataclass(frozen=True)
class RawVersion:
    current: int | None  # None: no raw schema yet
    versioned: bool  # False: made before versioning (v0.1.0), recognised by its tables
    latest: int

    @property
    def up_to_date(self) -> bool:
        return self.versioned and self.current == self.latest

    @property
    def pending(self) -> list[Migration]:
        if self.current is None:
            return []
        return [m for m in migrations() if m.version > self.current]

    @property
    def purges_models(self) -> bool:
        """Whether a pending migration removes values the models' tables copied (PURGES_MODELS)."""
        return any(m.version in PURGES_MODELS for m in self.pending)

    def describe(self, version: int | None = None) -> str:
        if (version := self.current if version is None else version) is None:
            return "empty"
        return f"{version:04d}" + ("" if self.versioned else " (sansfilm v0.1.0, before versioning)")


def version(con: duckdb.DuckDBPyConnection, where: str) -> RawVersion:
    """Where the warehouse behind `con` stands (`where` names it in messages)."""
    if table_exists(con, VERSION_TABLE):
        return RawVersion(con.execute(f"select max(version) from {VERSION_TABLE}").fetchall()[0][0], True, latest())
    if not con.execute(_COLUMNS).fetchall():
        return RawVersion(None, True, latest())
    if (found := con.execute(_COLUMNS).fetchall()) != _first_shape():
        odd = sorted({f"{t}.{c}" for t, c, *_ in set(found) ^ set(_first_shape())})
        raise SchemaVersionError(
            f"the warehouse {where} has no schema version and its raw tables are not those of sansfilm v0.1.0 "
            f"(differs in {', '.join(odd[:5])}{' ...' if len(odd) > 5 else ''}): restore it from a backup"
        )
    return RawVersion(1, False, latest())


@lru_cache(maxsize=1)
def _first_shape() -> list[tuple]:
    con = duckdb.connect()
    try:
        con.execute(migrations()[0].path.read_text(encoding="utf-8"))
        return con.execute(_COLUMNS).fetchall()
    finally:
        con.close()


def refusal(found: RawVersion, where: str) -> SchemaVersionError:
    if found.current is not None and found.current > found.latest:
        return SchemaVersionError(
            f"the warehouse {where} has schema version {found.describe()}, newer than this sansfilm, which needs "
            f"{found.latest:04d}: run the sansfilm version that upgraded it"
        )
    return SchemaVersionError(
        f"the warehouse {where} has schema version {found.describe()}; this sansfilm needs {found.latest:04d}: "
        "run `sansfilm upgrade` (see docs/deploy.md)"
    )


def check(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """Refuse (SchemaVersionError, one line) a warehouse at another version; one without a raw schema passes."""
    found = version(con, where)
    if found.current is not None and not found.up_to_date:
        raise refusal(found, where)


def ensure(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """A writer's check: create the raw schema of an empty warehouse at the latest version, refuse another version."""
    found = version(con, where)
    if found.current is None:
        con.execute("begin transaction")
        try:
            con.execute((RAW_DIR / "schema.sql").read_text(encoding="utf-8"))
            _record(con, migrations())
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    elif not found.up_to_date:
        raise refusal(found, where)


def migrate(con: duckdb.DuckDBPyConnection, found: RawVersion) -> list[Migration]:
    """Apply the pending files (and stamp a v0.1.0 warehouse) inside the transaction the caller opened; returns
    the files applied."""
    if not found.versioned:
        _record(con, migrations()[: found.current])
    pending = found.pending
    for migration in pending:
        con.execute(migration.path.read_text(encoding="utf-8"))
        _record(con, [migration])
    return pending


def _record(con: duckdb.DuckDBPyConnection, done: tuple[Migration, ...] | list[Migration]) -> None:
    con.execute(f"""create table if not exists {VERSION_TABLE} (
                        version integer primary key, name varchar not null, applied_at timestamptz not null)""")
    for migration in done:
        con.execute(f"insert into {VERSION_TABLE} values (?, ?, now())", [migration.version, migration.name])
