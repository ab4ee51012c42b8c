"""`sansfilm upgrade`: bring the ledger and the warehouse of a configuration to the schema versions of this code.

Each store is upgraded in one transaction of its own (the ledger first, then the warehouse): a failure rolls that
store back to where it was and is reported in one line; a store already upgraded stays so, and running the command
again continues where it stopped. Before changing anything a copy is made beside the file, named
`<file>.v<version>-<UTC time>.bak`: the SQLite ledger (SQLite's online backup, taken under the write lock the upgrade
holds) and the DuckDB warehouse (after a checkpoint, under DuckDB's file lock). A PostgreSQL ledger is not copied:
its operator backs it up with pg_dump first (docs/deploy.md). `dry_run` opens both, says what would be done and
changes nothing (no copy either).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exc, text
from sqlalchemy.engine import make_url

from analytics import dbt_build, warehouse, warehouse_schema
from analytics.billing import schema
from analytics.billing.ledger import SCHEMA_LOCK_KEY, display, engine, not_created_yet, reading, require_ledger_folder
from analytics.config import Settings
from analytics.errors import SansfilmError, SchemaVersionError


class UpgradeFailed(SansfilmError):
    """A migration failed: the store it was upgrading is as it was before."""


@dataclass
class StoreUpgrade:
    store: str  # ledger | warehouse
    location: str
    before: str  # the version found ("empty", "0001", "0001 (sansfilm v0.1.0, before versioning)")
    after: str  # the version it is (or would be) at
    steps: list[str] = field(default_factory=list)  # "NNNN what it does", oldest first
    backup: Path | None = None
    note: str = ""

    @property
    def needed(self) -> bool:
        return bool(self.steps) or self.before != self.after


def upgrade(settings: Settings, *, dry_run: bool = False) -> list[StoreUpgrade]:
    """Upgrade (or, dry_run, plan) the ledger then the warehouse; raises UpgradeFailed / SchemaVersionError."""
    stamp = _stamp()
    documents = {"documents_dir": str(settings.billing.out_dir), "contracts_dir": str(settings.contracts.dir)}
    return [
        upgrade_ledger(settings.ledger.url, dry_run=dry_run, stamp=stamp, attributes=documents),
        upgrade_warehouse(settings.warehouse.path, dry_run=dry_run, stamp=stamp),
    ]


def require_current(settings: Settings) -> None:
    """Refuse (SchemaVersionError, one line) a ledger or warehouse at another schema version, before a run whose
    steps would each fail on it; neither is created or changed."""
    if settings.warehouse.path.exists():
        warehouse.connect(settings.warehouse.path, read_only=True).close()  # a reader of the working file checks it
    require_ledger_folder(settings.ledger.url, "the run could not record its checks or drafts")
    with reading(settings.ledger.url):
        pass  # so does a reader of the ledger


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _backup_path(path: Path, version: str, stamp: str | None) -> Path:
    return path.with_name(f"{path.name}.v{version.split()[0]}-{stamp or _stamp()}.bak")


def upgrade_ledger(
    url: str, *, dry_run: bool = False, stamp: str | None = None, attributes: dict[str, str] | None = None
) -> StoreUpgrade:
    """Upgrade (or plan) the ledger at `url` in one transaction; a SQLite file is copied first. `attributes` reach
    the revisions (schema.migrate): where the issued documents and the contracts are."""
    where = display(url)
    if not_created_yet(url, "it cannot be upgraded"):
        return StoreUpgrade("ledger", where, "empty", "empty", note="none yet: made at the current version when used")
    db = engine(url)
    sqlite_file = Path(make_url(url).database or "") if db.dialect.name == "sqlite" else None
    try:
        with db.connect() as conn:
            if sqlite_file is not None:  # SQLite's table rebuilds (batch mode) need it; checked before commit instead
                conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
            conn.execution_options(ledger_write=True)  # SQLite: BEGIN IMMEDIATE, no other writer until commit
            with conn.begin():
                if sqlite_file is None:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
                found = schema.version(conn, where)
                plan = StoreUpgrade("ledger", where, found.describe(), found.describe())
                if found.current is None:
                    plan.note = "empty: made at the current version when first used"
                    return plan
                if found.too_new:
                    raise schema.refusal(found, "ledger", where)
                plan.steps = [f"{revision} {doc}" for revision, doc in found.pending]
                plan.after = found.head
                if not plan.needed:
                    plan.note = "up to date"
                    return plan
                if sqlite_file is not None:
                    plan.backup = _backup_path(sqlite_file, found.describe(), stamp)
                else:
                    plan.note = "PostgreSQL: no copy made here, back it up with pg_dump first (docs/deploy.md)"
                if dry_run:
                    return plan
                if plan.backup is not None:
                    _sqlite_copy(sqlite_file, plan.backup)
                try:
                    schema.migrate(conn, **(attributes or {}))
                    if sqlite_file is not None and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
                        raise UpgradeFailed(f"foreign keys broken after the migrations: {broken[:3]}")
                except Exception as error:
                    raise _failed("ledger", where, plan, error) from error
                return plan
    except exc.DBAPIError as error:
        detail = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
        raise UpgradeFailed(f"cannot upgrade the ledger at {where}: {detail}; nothing was changed") from error
    finally:
        db.dispose()


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy even while the file is open (SQLite's online backup)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def upgrade_warehouse(path: Path, *, dry_run: bool = False, stamp: str | None = None) -> StoreUpgrade:
    """Upgrade (or plan) the warehouse file at `path` in one transaction; it is copied first."""
    where = str(path)
    if not path.exists():
        note = "none yet: made at the current version when used"
        return StoreUpgrade("warehouse", where, "empty", "empty", note=note)
    con = warehouse.connect(path)  # read-write: DuckDB's file lock keeps every other process out until we close
    try:
        found = warehouse_schema.version(con, where)
        plan = StoreUpgrade("warehouse", where, found.describe(), found.describe())
        if found.current is None:
            plan.note = "no raw schema yet: made at the current version by the first harvest"
            return plan
        if found.current > found.latest:
            raise warehouse_schema.refusal(found, where)
        plan.steps = [m.name.replace("_", " ", 1) for m in found.pending]
        plan.after = f"{found.latest:04d}"
        if not plan.needed:
            plan.note = "up to date"
            return plan
        plan.backup = _backup_path(path, found.describe(), stamp)
        if found.purges_models:
            plan.note = "the models' tables go with the values they copied: the next run rebuilds them from raw"
        if dry_run:
            return plan
        con.execute("checkpoint")  # the whole database in the one file, so that the copy is complete
        shutil.copy2(path, plan.backup)
        con.execute("begin transaction")
        try:
            warehouse_schema.migrate(con, found)
            if found.purges_models:
                for schema_name, model in dbt_build.models():
                    con.execute(f'drop table if exists "{schema_name}"."{model}"')
            con.execute("commit")
        except BaseException as error:
            con.execute("rollback")
            raise _failed("warehouse", where, plan, error) from error
        fresh = _written_afresh(con, path)
    finally:
        con.close()
    os.replace(fresh, path)
    return plan


def _written_afresh(con, path: Path) -> Path:  # noqa: ANN001 - a DuckDB connection
    """The upgraded warehouse copied into a new file beside it (DuckDB's COPY FROM DATABASE), to take its place: the
    values a migration replaced (raw migration 0007: the free text senders put in audit event codes) stay in the old
    file's unused pages until overwritten, never in the new one."""
    fresh = path.with_name(f".{path.name}.{os.getpid()}.upgraded")
    fresh.unlink(missing_ok=True)
    (database,) = con.execute("select current_database()").fetchone()
    try:
        con.execute("attach ? as sansfilm_upgraded", [str(fresh)])
        con.execute(f'copy from database "{database}" to sansfilm_upgraded')
        con.execute("detach sansfilm_upgraded")
    except BaseException as error:
        fresh.unlink(missing_ok=True)
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UpgradeFailed(
            f"the warehouse at {path} is upgraded and works, but writing it afresh into a new file failed ({detail}): "
            "values the migrations replaced may remain in its unused pages; docs/deploy.md (Upgrading) says how to "
            "write it afresh"
        ) from error
    return fresh


def _failed(store: str, where: str, plan: StoreUpgrade, error: BaseException) -> SansfilmError:
    if isinstance(error, SchemaVersionError):
        return error
    detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
    copy = f"; its copy from before: {plan.backup}" if plan.backup else ""
    return UpgradeFailed(
        f"upgrading the {store} at {where} from {plan.before} to {plan.after} failed ({detail}): it was rolled back "
        f"and is as it was{copy}"
    )
