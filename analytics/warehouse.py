"""The DuckDB warehouse: schema, reference tables, SQL models, and the published copy readers use.

Layers: `raw` (what the harvest stored) -> `staged` (`stg_` cleaned and attributed, `int_` assembled) -> `marts`
(`dim_`, `fct_`, `mart_`). The models are a dbt project (analytics/dbt/, run by analytics.dbt_build); this module
holds the raw schema, the reference tables, the connections and the published copy.

DuckDB lets one process write a database file at a time, and a reader in another process would block the writer.
So readers (dashboards, notebooks) never open the working file: after each build the `ref`, `staged` and `marts`
schemas are published to `<warehouse>.published.duckdb`, swapped in atomically and updated with what changed only
(analytics.publish). Analysts open it with `warehouse.connect()` (no path): read-only, located from the configuration.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from analytics import dbt_build, warehouse_schema
from analytics.audit_codes import AUDIT_EVENT_TYPES
from analytics.catalog import table_exists as table_exists  # callers take it from here
from analytics.config import load_settings
from analytics.dbt_build import REFERENCE_TABLES
from analytics.errors import SansfilmError
from analytics.pseudonym import Pseudonymiser, participant_key
from analytics.publish import publish as publish  # the readers' copy (analytics.publish), published from here
from analytics.registry import Registry, ae_title_key

SQL_DIR = Path(__file__).parent / "sql"


class WarehouseBusy(SansfilmError):
    """Another process kept the warehouse locked for longer than we wait."""


class WarehouseNotPublished(SansfilmError):
    """Readers asked for the published copy before any build wrote it."""


class WarehouseUnusable(SansfilmError):
    """The warehouse file cannot be opened: read-only, not a DuckDB database, or its folder cannot be made."""


LOCK_WAIT_ENV = "SANSFILM_LOCK_WAIT"  # seconds a writer waits for another process's lock (default 300)


def lock_wait_seconds() -> float:
    text = os.environ.get(LOCK_WAIT_ENV)
    try:
        return float(text) if text else 300.0
    except ValueError:
        raise WarehouseUnusable(f"${LOCK_WAIT_ENV} is '{text}', not a number of seconds") from None


def connect(
    path: str | os.PathLike[str] | None = None,
    *,
    read_only: bool | None = None,
    wait_seconds: float | None = None,
    config: str | os.PathLike[str] | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open a warehouse database.

    With no `path` (analysts, notebooks): a read-only connection to the published copy of the configuration
    (`config`, else $SANSFILM_CONFIG, else ./sansfilm.toml). It never takes the write lock, so it works while a
    pipeline runs, and it sees the marts as of the last build.

    With a `path` (the pipeline's own opener): that file, read-write unless `read_only`. A writer that finds another
    process writing waits for it (bounded: `wait_seconds`, else $SANSFILM_LOCK_WAIT, else 300 s), rather than
    failing: two commands run at once (say, two `bill --issue`) then simply take turns.
    """
    if path is None:
        if read_only is False:
            raise ValueError("the published warehouse is read-only: pass the working warehouse's path to write")
        return connect_published(load_settings(config).published_path, wait_seconds=wait_seconds)
    if config is not None:
        raise ValueError("pass either a database path or a configuration, not both")
    if Path(path).suffix == ".toml":
        raise ValueError(f"{path} is a configuration, not a database: warehouse.connect(config={str(path)!r})")
    con = _open(Path(path), read_only=bool(read_only), wait_seconds=wait_seconds, memory_limit=memory_limit)
    if read_only:
        try:  # a reader of the working file (writers check in open_warehouse)
            warehouse_schema.check(con, str(path))
        except BaseException:
            con.close()
            raise
    return con


def _open(
    path: Path, *, read_only: bool, wait_seconds: float | None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    if not read_only:
        _require_writable(path)
    wait_seconds = lock_wait_seconds() if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            text = " ".join(str(exc).split())
            if "lock" not in text.lower():
                raise WarehouseUnusable(_unusable(path, text, read_only)) from None
            if time.monotonic() + delay > deadline:
                raise WarehouseBusy(
                    f"the warehouse {path} is locked by another process (a run or a harvest writing "
                    f"it?); waited {wait_seconds:g} s: retry when it has finished ({text})"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    con.execute("set TimeZone = 'Europe/Paris'")  # how timestamps with time zone are shown; storage is UTC
    # never DuckDB's default (80 % of RAM): the dashboards and the OS need the rest (docs/configuration.md)
    dbt_build.apply_memory_limit(con, memory_limit)
    return con


def _require_writable(path: Path) -> None:
    """A writer needs the file and its folder (DuckDB writes a journal beside the file): say so before DuckDB fails
    halfway through a write."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarehouseUnusable(f"cannot create the warehouse folder {path.parent}: {exc.strerror or exc}") from None
    for target in (path, path.parent):
        if target.exists() and not os.access(target, os.W_OK):
            raise WarehouseUnusable(
                f"the warehouse {target} is read-only: sansfilm writes the warehouse at every "
                "harvest and metering; make it writable, or point [warehouse] path at a writable "
                "place (readers use the published copy)"
            )


def _unusable(path: Path, text: str, read_only: bool) -> str:
    if "not a valid DuckDB database" in text:
        return (
            f"{path} is not a DuckDB database (an empty or damaged file): move it aside, then `sansfilm harvest` "
            "rebuilds the warehouse from the sources"
        )
    if "Read-only file system" in text or ("Permission denied" in text and not read_only):
        return f"the warehouse {path} is read-only ({text}): make it writable, or point [warehouse] path elsewhere"
    if "Permission denied" in text:
        return f"cannot read the warehouse {path}: permission denied"
    return f"cannot open the warehouse {path}: {text}"


@contextmanager
def open_warehouse(path: Path, memory_limit: str | None = None):
    con = connect(path, memory_limit=memory_limit)
    try:
        ensure_schema(con)
        yield con
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema of a new warehouse; refuse one at another schema version (`sansfilm upgrade`)."""
    warehouse_schema.ensure(con, _where(con))


def _where(con: duckdb.DuckDBPyConnection) -> str:
    query = "select path from duckdb_databases() where database_name = current_database()"
    return str(con.execute(query).fetchall()[0][0])


def load_reference(
    con: duckdb.DuckDBPyConnection,
    registry: Registry,
    platform_ae_titles: Iterable[str],
    portal_ae_titles: Iterable[str] = (),
    pseudonymise: Pseudonymiser | None = None,
) -> None:
    """Replace the `ref` tables with the registry, the platform's and the community portal's AE titles (contracts and
    configuration are the source of truth). The portal's titles get their participant keys (`pseudonymise`: the
    harvest's key; None: the portal is recognised as a Destination only)."""
    establishments = pl.DataFrame(
        [
            {
                "establishment_id": e.establishment_id,
                "name": e.name,
                "siret": e.siret,
                "departement": e.departement,
                "category": e.category,
                "sector": e.sector,
                "offer": e.offer,
                "adhesion_date": e.adhesion_date,
                "planned_go_live": e.planned_go_live,
                "actual_go_live": e.actual_go_live,
                "end_date": e.end_date,
                "ae_titles": list(e.ae_titles),
                "institution_names": list(e.institution_names),
            }
            for e in registry.establishments
        ],
        schema={
            "establishment_id": pl.String,
            "name": pl.String,
            "siret": pl.String,
            "departement": pl.String,
            "category": pl.String,
            "sector": pl.String,
            "offer": pl.String,
            "adhesion_date": pl.Date,
            "planned_go_live": pl.Date,
            "actual_go_live": pl.Date,
            "end_date": pl.Date,
            "ae_titles": pl.List(pl.String),
            "institution_names": pl.List(pl.String),
        },
    )
    ae_titles = pl.DataFrame(
        [{"ae_title_key": k, "establishment_id": v} for k, v in registry.ae_title_map().items()],
        schema={"ae_title_key": pl.String, "establishment_id": pl.String},
    )
    aliases = pl.DataFrame(
        [{"institution_key": k, "establishment_id": v} for k, v in registry.alias_map().items()],
        schema={"institution_key": pl.String, "establishment_id": pl.String},
    )
    platform = pl.DataFrame(
        {"ae_title_key": sorted({ae_title_key(t) for t in platform_ae_titles})}, schema={"ae_title_key": pl.String}
    )
    portal_keys = sorted({ae_title_key(t) for t in portal_ae_titles})
    portal = pl.DataFrame(
        {
            "ae_title_key": portal_keys,
            "participant_key": [participant_key(pseudonymise, k) if pseudonymise else None for k in portal_keys],
        },
        schema={"ae_title_key": pl.String, "participant_key": pl.String},
    )
    event_types = pl.DataFrame({"event_id": list(AUDIT_EVENT_TYPES), "event_name": list(AUDIT_EVENT_TYPES.values())})
    con.execute("begin transaction")
    try:
        for name, frame in zip(
            REFERENCE_TABLES, (establishments, ae_titles, aliases, platform, event_types, portal), strict=True
        ):
            con.register("ref_frame", frame)
            con.execute(f"create or replace table ref.{name} as select * from ref_frame")
            con.unregister("ref_frame")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def build_models(
    con: duckdb.DuckDBPyConnection,
    models: Iterable[tuple[str, str]] | None = None,
    *,
    full_refresh: bool = False,
) -> dict[str, int]:
    """Build the dbt models into the open warehouse (all, incrementally; or the given (schema, model) pairs, whole),
    under the memory limit it was opened with; row counts."""
    return dbt_build.build(con, [name for _, name in models] if models is not None else None, full_refresh=full_refresh)


class WarehouseNotBuilt(SansfilmError):
    """A step needs tables that no harvest has built yet."""


def require_exists(path: Path) -> None:
    """Commands that read the working warehouse never create it: say which command makes it."""
    if not Path(path).exists():
        raise WarehouseNotBuilt(f"no warehouse at {path} yet: run `sansfilm harvest` (or `sansfilm run`) first")


BLOCKED = "build.blocked_checks"  # the blocking data checks the tables of the last build failed (none: it passed)


def record_blocking_checks(con: duckdb.DuckDBPyConnection, tables: Iterable[str], failed: Iterable) -> None:
    """Remember the blocking (`error`) checks that failed on `tables` just now, forgetting those tables' earlier
    failures: the models are built before their contracts run, so a build that fails one stays in the file, and
    metering and billing must refuse it (require_built) until a build passes."""
    con.execute("create schema if not exists build")
    con.execute(f"create table if not exists {BLOCKED} (table_name varchar not null, check_name varchar not null)")
    con.execute(f"delete from {BLOCKED} where list_contains(?, table_name)", [list(tables)])
    rows = [(r.table, r.name) for r in failed]
    if rows:
        con.executemany(f"insert into {BLOCKED} values (?, ?)", rows)


def require_built(
    con: duckdb.DuckDBPyConnection, path: Path | str = "the warehouse", *, rewritten: Iterable[str] = ()
) -> None:
    """The staged tables metering reads exist (a harvest that finished building the models wrote them), and the
    last build passed its blocking data checks. `rewritten`: tables the caller writes again and checks after (metering
    its facts): their checks' failures do not stop it, or it could never mend them."""
    missing = [t for t in ("staged.int_study_owners", "staged.stg_audit_events") if not table_exists(con, t)]
    if missing:
        raise WarehouseNotBuilt(
            f"{path} has not been built yet ({', '.join(missing)} missing: never harvested, a harvest stopped "
            "halfway, or an upgrade dropped them to be rebuilt): run `sansfilm harvest` (or `sansfilm run`)"
        )
    blocked = (
        con.execute(
            f"select check_name, table_name from {BLOCKED}"
            " where not list_contains(?::varchar[], table_name) order by all",
            [list(rewritten)],
        ).fetchall()
        if table_exists(con, BLOCKED)
        else []
    )
    if blocked:
        listed = "; ".join(f"{name} ({table})" for name, table in blocked)
        raise WarehouseNotBuilt(
            f"the last build of {path} failed {len(blocked)} blocking data check(s): {listed}; nothing is metered or "
            "billed from it: correct the data, then run `sansfilm harvest` (details: `sansfilm check`)"
        )


def connect_published(published_path: Path, *, wait_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published copy: never blocks, never blocked by, a running pipeline."""
    published_path = Path(published_path)
    if not published_path.is_file():
        raise WarehouseNotPublished(
            f"no published warehouse at {published_path}: nothing has been built for this configuration yet. "
            "Run `make demo` (the sample) or `sansfilm run` (your sources), then connect again."
        )
    return _open(published_path, read_only=True, wait_seconds=wait_seconds)
