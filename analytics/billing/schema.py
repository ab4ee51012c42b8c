"""Versions of the ledger's schema: Alembic revisions under analytics/billing/migrations/versions/, applied by
`sansfilm upgrade` (analytics.upgrade) in one transaction; every other opener refuses a ledger at another version.

- Revision 0001 is the schema of sansfilm v0.1.0. A new ledger is made by running every revision (no create_all), so
  a fresh ledger and an upgraded one are built by the same code. A ledger made before versioning (v0.1.0: no
  `alembic_version` table) is recognised by its tables (`pre_versioning`, column by column) as 0001, never guessed.
- The tables the code reads and writes stay declared in analytics.billing.ledger and analytics.quality.history;
  tests/integration/test_ledger_migrations.py proves that the revisions build exactly them (Alembic's
  compare_metadata finds no difference) and the same triggers as v0.1.0, on SQLite and PostgreSQL.

Adding revision 0002 (a column, a table, a data migration):
1. Change the Table in ledger.py (or history.py) as the code needs it.
2. Add `migrations/versions/0002_<slug>.py` (copy the header of 0001 or run `alembic revision` with
   migrations/script.py.mako): `revision = "0002"`, `down_revision = "0001"`, an `upgrade()` and a `downgrade()`
   that raises (a ledger is restored from its backup, never downgraded). Ids are 4-digit numbers, one chain.
3. In `upgrade()`: `op.add_column`/`op.create_table` work on both backends; what SQLite cannot ALTER (constraints,
   types, NOT NULL on an existing column) goes in `with op.batch_alter_table("invoice") as batch: ...`, which
   recreates the table on SQLite and so drops its triggers: call
   `guards.install(op.get_bind(), guards.table_guards("invoice"))` after the block. A new immutable table gets its
   guards the same way. Foreign keys are not enforced during an upgrade on SQLite (the table rebuild needs it);
   `PRAGMA foreign_key_check` runs before the commit instead. Triggers of other tables that name the rebuilt one
   survive the rebuild (env.py sets SQLite's legacy_alter_table for the migrations).
4. Data for existing rows is computed from what the rows hold, in the revision, with SQL or Python over
   `op.get_bind()` (a Connection in the upgrade's transaction): select the rows in a stable order (e.g. `invoice`
   by `seq`), compute, and write them inside `with guards.lifted(bind, ["invoice"]):`, which lifts the
   immutability triggers of those tables for the revision only. Never read the code's current Table objects or
   functions that may change later from a revision: declare what it touches (`sa.table("invoice", sa.column(...))`)
   so the revision keeps doing what it did when it was written; Decimal columns are NUMERIC on PostgreSQL and text
   on SQLite (`Decimal(str(value))` reads both). What lies outside the database reaches the revision through
   `op.get_context().config.attributes` (`documents_dir`, `contracts_dir`: see `migrate`).
5. Test: tests/integration/test_ledger_migrations.py upgrades the committed v0.1.0 ledgers (tests/fixtures/v0_1_0/,
   made once by tests/fixtures/make_v0_1_0.py) on both backends and proves a fresh ledger and an upgraded one are
   the declared schema with the same triggers (its COMPUTED revision is a worked example of steps 3-4);
   tests/integration/test_upgrade.py runs `sansfilm upgrade` on a whole v0.1.0 installation: assert what your
   revision computed at its marked places (`# --- issue 12 ...`). Run both with `.venv/bin/python -m pytest
   -p no:xdist tests/integration/test_ledger_migrations.py tests/integration/test_upgrade.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from analytics.errors import SchemaVersionError

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST = "0001"

# The tables of sansfilm v0.1.0 and their columns, to recognise a ledger made before versioning. The check-history
# tables were created on the first `check` only: a v0.1.0 ledger may lack them.
V0_1_0_TABLES = {
    "invoice_sequence": {"name", "last_value"},
    "issued_month": {"month", "inputs_sha256", "issue_date", "invoice_count", "recorded_at"},
    "invoice": {
        "number",
        "seq",
        "month",
        "establishment_id",
        "offer",
        "active_days",
        "days_in_month",
        "contract_id",
        "currency",
        "vat_rate",
        "net",
        "vat",
        "gross",
        "issue_date",
        "inputs_sha256",
    },
    "invoice_line": {
        "invoice_number",
        "position",
        "code",
        "description",
        "metric",
        "quantity",
        "unit_price",
        "amount",
        "reference",
    },
    "invoice_usage": {"invoice_number", "metric", "position", "quantity"},
    "invoice_revision": {
        "invoice_number",
        "index_name",
        "a",
        "b",
        "coefficient",
        "anniversary",
        "current_period",
        "current_value",
        "current_published_on",
        "base_period",
        "base_value",
        "base_published_on",
    },
}
V0_1_0_OPTIONAL = {
    "quality_run": {"run_id", "trigger", "started_at"},
    "quality_result": {"id", "run_id", "checked_at", "name", "table_name", "severity", "passed", "observed", "details"},
}


@dataclass(frozen=True)
class LedgerVersion:
    current: str | None  # the revision the ledger is at; None: an empty database
    versioned: bool  # False: made before versioning (v0.1.0), recognised by its tables
    head: str  # the revision this code needs

    @property
    def up_to_date(self) -> bool:
        return self.versioned and self.current == self.head

    @property
    def too_new(self) -> bool:
        """At a revision this code does not know: made by a newer sansfilm."""
        return self.versioned and self.current is not None and self.current not in revisions()

    @property
    def pending(self) -> list[tuple[str, str]]:
        """(revision, what it does) still to apply, oldest first."""
        script = _script()
        if self.current is None or not self.versioned:
            base = "base"
        elif self.too_new:
            return []
        else:
            base = self.current
        return [
            (r.revision, ((r.doc or "").strip().splitlines() or [""])[0])
            for r in reversed(list(script.iterate_revisions(self.head, base)))
        ]

    def describe(self) -> str:
        if self.current is None:
            return "empty"
        return self.current if self.versioned else f"{self.current} (sansfilm v0.1.0, before versioning)"


def _config(conn: Connection | None = None, directory: Path | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(directory or MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def _script() -> ScriptDirectory:
    return _script_in(MIGRATIONS)  # read at call time: a test may point MIGRATIONS at a copy with a failing revision


@lru_cache(maxsize=4)
def _script_in(directory: Path) -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(directory=directory))


def revisions() -> set[str]:
    """Every revision this code knows."""
    return {r.revision for r in _script().walk_revisions()}


def head() -> str:
    """The revision this code needs."""
    heads = _script().get_heads()
    if len(heads) != 1:
        raise SchemaVersionError(f"the ledger's migrations have {len(heads)} heads ({', '.join(heads)}): one chain")
    return heads[0]


def version(conn: Connection, where: str) -> LedgerVersion:
    """Where the ledger behind `conn` stands (`where` names it in messages)."""
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables:
        return LedgerVersion(MigrationContext.configure(conn).get_current_revision(), True, head())
    known = tables & (V0_1_0_TABLES.keys() | V0_1_0_OPTIONAL.keys())
    if not known:
        return LedgerVersion(None, True, head())
    pre_versioning(conn, where, tables)
    return LedgerVersion(FIRST, False, head())


def pre_versioning(conn: Connection, where: str, tables: set[str]) -> None:
    """Make sure a ledger without a version is one sansfilm v0.1.0 made: its tables, column for column."""
    wanted = {**V0_1_0_TABLES, **{t: c for t, c in V0_1_0_OPTIONAL.items() if t in tables}}
    problems = [f"no table {t}" for t in sorted(wanted.keys() - tables)]
    for table in sorted(wanted.keys() & tables):
        columns = {c["name"] for c in inspect(conn).get_columns(table)}
        if columns != wanted[table]:
            odd = sorted(columns ^ wanted[table])
            problems.append(f"table {table} differs in column(s) {', '.join(odd)}")
    if problems:
        raise SchemaVersionError(
            f"the ledger at {where} has no schema version and is not a sansfilm v0.1.0 ledger ({'; '.join(problems)}): "
            "it was changed by hand or belongs to something else; restore it from a backup"
        )


def refusal(found: LedgerVersion, what: str, where: str) -> SchemaVersionError:
    """The one-line refusal for a store at another version than this code's."""
    if found.too_new:
        return SchemaVersionError(
            f"the {what} at {where} has schema version {found.current}, newer than this sansfilm, which needs "
            f"{found.head}: run the sansfilm version that upgraded it"
        )
    return SchemaVersionError(
        f"the {what} at {where} has schema version {found.describe()}; this sansfilm needs {found.head}: "
        "run `sansfilm upgrade` (see docs/deploy.md)"
    )


def check(conn: Connection, where: str) -> None:
    """Refuse (SchemaVersionError, one line) a ledger at another version than this code's; an empty one passes."""
    found = version(conn, where)
    if found.current is not None and not found.up_to_date:
        raise refusal(found, "ledger", where)


def ensure(conn: Connection, where: str) -> None:
    """A writer's check: create an empty ledger at the current version (in the caller's transaction), refuse one
    at another version."""
    found = version(conn, where)
    if found.current is None:
        migrate(conn)
    elif not found.up_to_date:
        raise refusal(found, "ledger", where)


def migrate(conn: Connection, target: str = "head", **attributes: object) -> None:
    """Apply the revisions up to `target` on `conn`, inside the transaction the caller opened and commits.
    `attributes` reach the revisions as `context.config.attributes` (op.get_context().config.attributes):
    `sansfilm upgrade` passes `documents_dir` ([billing] out_dir) and `contracts_dir`, for revisions that read the
    issued documents or the contracts; a new ledger is made without them (it has no issued rows to compute)."""
    if not conn.in_transaction():
        raise RuntimeError("migrate() runs inside the caller's transaction")
    config = _config(conn)
    config.attributes.update(attributes)
    command.upgrade(config, target)
