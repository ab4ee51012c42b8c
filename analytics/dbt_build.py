"""The warehouse models are a dbt project (analytics/dbt/), built by dbt-duckdb inside this process.

In-process (dbt's `dbtRunner`), not a `dbt` subprocess: the caller's connection and dbt's share one DuckDB instance,
so a build takes the warehouse's write lock once, the way every other writer does (`warehouse.connect` waits for
it), and pays no interpreter start-up. dbt's own files (target/, logs/) go beside the warehouse, never into the
source tree, so that several builds (tests, two configurations) never share them; only the manifest Dagster loads
and the last saved parse per warehouse stem (which spares a fresh warehouse's first build a full parse) are kept
under analytics/dbt/target/, each written whole.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import dbt.mp_context
import duckdb

from analytics.catalog import table_exists, tables
from analytics.errors import SansfilmError

# dbt's parsed project and its adapter hold multiprocessing locks of a "spawn" context: each is a named semaphore that
# multiprocessing's resource-tracker process must be started to watch, by re-running this interpreter by its path.
# dbt runs its nodes in threads of this process, so locks of the "fork" context (unnamed at once: no tracker) serve
# the same; a user who cannot run the interpreter by its path again (a service account, test_every_state's `nobody`)
# would otherwise see the command fail with a broken pipe.
dbt.mp_context._MP_CONTEXT = multiprocessing.get_context("fork")

PROJECT_DIR = Path(__file__).parent / "dbt"
MANIFEST_PATH = PROJECT_DIR / "target" / "manifest.json"
PARSE_CACHE = PROJECT_DIR / "target" / "parse"  # the last build's parse, per warehouse stem (_seed_partial_parse)
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
_UNIQUE_KEY = re.compile(r"materialized='incremental', incremental_strategy='delete\+insert'[^)]*unique_key='(\w+)'")
_PARTITION_KEY = re.compile(r"materialized='incremental'[^)]*replace_where='(\w+) in ")
_STORAGE_DAY = re.compile(r"materialized='incremental'[^)]*storage_day='(\w+)'")
_VANISHING_KEYS = re.compile(r"materialized='incremental'[^)]*vanishing_keys=")
_ENV_VAR = re.compile(r"\{\{\s*env_var\('(\w+)'(?:,\s*'([^']*)')?\)\s*\}\}")
MEMORY_SHARE = 0.5  # of the machine's RAM, when the configuration sets no [warehouse] memory_limit
REFERENCE_TABLES = (
    "establishments",
    "establishment_ae_titles",
    "establishment_aliases",
    "platform_ae_titles",
    "audit_event_types",
    "portal_ae_titles",
)
# the studies' numbers (study_no), given once and never rebuilt: every selection brings them up to date first
STUDY_NUMBERS = "stg_study_numbers"
_LAYER_SCHEMAS = {"staging": "staged", "intermediate": "staged", "marts": "marts"}


class DbtBuildFailed(SansfilmError):
    """A model or a structural test of the dbt project failed."""


def default_memory_limit() -> str:
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{int(total * MEMORY_SHARE) // 2**20}MiB"


def memory_limit(configured: str | None) -> str:
    return configured.replace(" ", "") if configured else default_memory_limit()


LIMIT_VARIABLE = "sansfilm_memory_limit"  # a DuckDB variable: each connection's own


def apply_memory_limit(con: duckdb.DuckDBPyConnection, configured: str | None) -> None:
    """Set DuckDB's memory limit on a new connection ([warehouse] memory_limit, else the share of RAM), and keep the
    setting as written on that connection, where a build reads it (DuckDB shows its limit rounded: '5.5 GiB')."""
    limit = memory_limit(configured)
    con.execute(f"set memory_limit = '{limit}'")  # validated by the configuration's pattern
    con.execute(f"set variable {LIMIT_VARIABLE} = ?", [limit])


def connection_memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    """The memory limit `con` was opened with (apply_memory_limit); the default for a connection opened otherwise."""
    (limit,) = con.execute(f"select getvariable('{LIMIT_VARIABLE}')").fetchone()
    return limit or default_memory_limit()


def models() -> list[tuple[str, str]]:
    """(schema, model) of every model of the project, by layer then name, the studies' numbers first (every staged
    model depends on them): each model after those it reads, as Dagster wants the results of a build."""
    found = []
    for layer, schema in _LAYER_SCHEMAS.items():
        paths = sorted((PROJECT_DIR / "models" / layer).glob("*.sql"), key=lambda p: (p.stem != STUDY_NUMBERS, p.stem))
        found += [(schema, p.stem) for p in paths]
    return found


@dataclass(frozen=True, slots=True)
class Keys:
    """How the publish finds the rows a build rewrote in each incremental model, read from the models' configs
    (macros/delete_insert.sql), by model name:

    * `unique`: the unique key (`unique_key`);
    * `partitions`: the column each mart recounted by day or month rewrites whole (`replace_where='<column> in ...'`):
      a build replaces every row of the days (months) it recounts;
    * `storage_days`: the day column each keyed model stores its rows in order of (`storage_day`);
    * `vanishing`: the keyed models whose builds may remove a key without writing it again (`vanishing_keys`), kept
      in build.removed_keys."""

    unique: dict[str, str]
    partitions: dict[str, str]
    storage_days: dict[str, str]
    vanishing: frozenset[str]


def model_keys() -> Keys:
    """The keys of every incremental model, each model's file read once."""
    found: tuple[dict[str, str], ...] = ({}, {}, {})
    vanishing = set()
    for _, name in models():
        (path,) = PROJECT_DIR.glob(f"models/*/{name}.sql")
        text = path.read_text(encoding="utf-8")
        for pattern, by_model in zip((_UNIQUE_KEY, _PARTITION_KEY, _STORAGE_DAY), found, strict=True):
            if config := pattern.search(text):
                by_model[name] = config[1]
        if _VANISHING_KEYS.search(text):
            vanishing.add(name)
    return Keys(*found, frozenset(vanishing))


def plain_sql(model: str) -> str:
    """A table model's SQL with its ref()/source() resolved by name (to make a small model's table outside dbt, in
    tests). A model using other Jinja (config, macros, is_incremental) is refused: take compiled_sql instead."""
    schemas = {name: schema for schema, name in models()}
    (path,) = PROJECT_DIR.glob(f"models/*/{model}.sql")
    text = re.sub(r"\{\{\s*source\('(\w+)',\s*'(\w+)'\)\s*\}\}", r"\1.\2", path.read_text(encoding="utf-8"))
    text = re.sub(r"\{\{\s*ref\('(\w+)'\)\s*\}\}", lambda m: f"{schemas[m[1]]}.{m[1]}", text)
    if "{{" in text or "{%" in text:
        raise ValueError(f"model {model} needs dbt to compile (Jinja beyond ref and source): take compiled_sql")
    return text


def work_dir(warehouse_path: Path) -> Path:
    """Where a build of this warehouse keeps dbt's target (compiled SQL, run_results.json) and logs."""
    warehouse_path = Path(warehouse_path)
    return warehouse_path.parent / f".dbt-{warehouse_path.stem}"


def compiled_sql(model: str, warehouse_path: Path) -> str:
    """The SQL dbt compiled for `model` in the last build of this warehouse (its select, incremental or not, as that
    build ran it): to profile a model outside dbt (bench/)."""
    found = sorted((work_dir(warehouse_path) / "target" / "compiled").glob(f"*/models/*/{model}.sql"))
    if not found:
        raise SansfilmError(f"no compiled SQL of model {model} for {warehouse_path}: build that warehouse first")
    return found[0].read_text(encoding="utf-8")


def database_path(con: duckdb.DuckDBPyConnection) -> Path:
    (path,) = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchall()[0]
    return Path(path)


def _profile_hash():
    """The hash dbt keeps of the profile's connection (path, database, settings) to decide whether a saved parse
    still holds, computed the way dbt's ManifestLoader does from profiles.yml as the environment renders it now."""
    import pprint

    import yaml
    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from dbt.artifacts.resources.base import FileHash

    def render(value):
        if isinstance(value, dict):
            return {k: render(v) for k, v in value.items()}
        return _ENV_VAR.sub(lambda m: os.environ.get(m[1], m[2] or ""), value) if isinstance(value, str) else value

    profile = yaml.safe_load((PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))["sansfilm"]
    output = render(profile["outputs"][profile["target"]])
    fields = {k: v for k, v in output.items() if k not in ("type", "threads")}
    credentials = DuckDBCredentials.from_dict(DuckDBCredentials.translate_aliases({"schema": "main", **fields}))
    return FileHash.from_contents(pprint.pformat(sorted(credentials.connection_info())))


def _seed_partial_parse(work_dir: Path, warehouse_path: Path) -> None:
    """Give a warehouse's first build the saved parse of an earlier build (`PARSE_CACHE`), so that dbt re-reads only
    the project files that changed instead of parsing all of them (~2-4 s of every first build: each test, each
    fresh configuration). The saved parse names its warehouse's database, the file's stem, so only a warehouse of
    the same stem takes it, with the profile's hash made this warehouse's. dbt checks the rest (its version, every
    file's checksum) and parses in full whatever no longer matches."""
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumaro_encoder, extended_mashumuro_decoder

    saved = PARSE_CACHE / f"{warehouse_path.stem}.msgpack"
    own = work_dir / "target" / PARTIAL_PARSE_FILE
    if own.is_file() or not saved.is_file():
        return
    try:
        manifest = Manifest.from_msgpack(saved.read_bytes(), decoder=extended_mashumuro_decoder)
    except Exception:  # noqa: BLE001  (another dbt's file, or cut short: dbt parses in full)
        return
    manifest.state_check.profile_hash = _profile_hash()
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_bytes(manifest.to_msgpack(extended_mashumaro_encoder))


def _swap_in(source: Path, target: Path) -> Path:
    """Copy `source` to `target` whole (several processes may write it at once: each swaps in a complete file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.stem}.{os.getpid()}{target.suffix}")
    shutil.copyfile(source, staged)
    os.replace(staged, target)
    return target


def _keep_parse(work_dir: Path, warehouse_path: Path) -> None:
    """Save this build's parse for the next warehouse of the same stem. A saving only: a user who may not write
    under the project (a service account) builds without it."""
    own = work_dir / "target" / PARTIAL_PARSE_FILE
    if own.is_file():
        try:
            _swap_in(own, PARSE_CACHE / f"{warehouse_path.stem}.msgpack")
        except OSError:
            pass


def invoke_dbt(args: list[str], *, warehouse_path: Path, work_dir: Path, limit: str) -> None:
    """One dbt command (`build`, `parse`) on the project, in this process; raises DbtBuildFailed naming what failed
    (a test may stand in for it to stop a build midway)."""
    from dbt.cli.main import dbtRunner  # dbt's import costs ~2 s: only when a build runs

    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["SANSFILM_WAREHOUSE_PATH"] = str(warehouse_path)
    os.environ["SANSFILM_DUCKDB_MEMORY_LIMIT"] = limit
    _seed_partial_parse(work_dir, warehouse_path)
    # Ctrl-C as Python's KeyboardInterrupt while dbt runs, even under a host with its own SIGINT handler (a Dagster
    # run's raises its own exception): on a KeyboardInterrupt only, dbt cancels its queries and joins its threads;
    # otherwise a thread still in DuckDB when the process exits aborts it ("terminate called ...", SIGABRT)
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if previous is not None:  # only the main thread sets handlers; None: one set outside Python, left alone
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--target-path",
                str(work_dir / "target"),
                "--log-path",
                str(work_dir / "logs"),
                "--quiet",
            ]
        )
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _release()
    if result.success:
        if args[0] == "build":
            _keep_parse(work_dir, warehouse_path)
        return
    if result.exception is not None and not isinstance(result.exception, Exception):
        raise KeyboardInterrupt  # Ctrl-C (or a host's interrupt): the command line says "interrupted", as elsewhere
    raise DbtBuildFailed(f"the warehouse build (dbt {args[0]}) failed: {failure_reason(result)}")


def failure_reason(result) -> str:
    """What failed, from a dbtRunner result: the nodes in error (or whose test failed) and their messages, else the
    exception dbt stopped on (its type when it says nothing)."""
    failures = [
        f"{r.node.name}: {' '.join(str(r.message).split())}"
        for r in getattr(result.result, "results", None) or []
        if str(r.status) in ("error", "fail")
    ]
    return "; ".join(failures) or " ".join(str(result.exception).split()) or type(result.exception).__name__


def models_fingerprint() -> str:
    """A digest of the models' and macros' SQL: an incremental build adds rows as the code that wrote the others did,
    so a new version whose models changed (a column, a key, a rule) rebuilds everything once, on its first build."""
    digest = hashlib.sha256()
    for path in sorted(p for folder in ("models", "macros") for p in (PROJECT_DIR / folder).rglob("*.sql")):
        digest.update(path.relative_to(PROJECT_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _increment(con: duckdb.DuckDBPyConnection, full_refresh: bool) -> tuple[bool, list[str], str]:
    """Write build.increment (the harvests no build has taken in yet). Returns whether the build must be a full
    refresh (first build, asked for, the reference tables changed: any attribution may change, the models' SQL
    did: a new version, or a model's table is missing: the models downstream of it would not know what it rewrote),
    the harvests it takes in for good (finished ones: one still running is taken in again next
    time) and the fingerprint of the reference tables and the models.
    The `build` schema is bookkeeping: never published, rebuilt by a full refresh."""
    con.execute("create schema if not exists build")
    con.execute("create table if not exists build.state (harvest_id varchar primary key)")
    con.execute("create table if not exists build.reference (fingerprint varchar)")
    fingerprint = (
        con.execute(
            "select md5(string_agg(t, '|' order by t)) from ("
            + " union all ".join(
                f"select '{name}' || (select coalesce(string_agg(r::varchar, ',' order by r::varchar), '') "
                f"from ref.{name} as r) as t"
                for name in REFERENCE_TABLES
            )
            + ")"
        ).fetchall()[0][0]
        + ":"
        + models_fingerprint()
    )
    previous = con.execute("select any_value(fingerprint) from build.reference").fetchall()[0][0]
    if full_refresh or previous != fingerprint or not set(models()) <= tables(con):
        full_refresh = True
        con.execute("delete from build.state")
    con.execute("""create or replace table build.increment as select harvest_id from raw.harvest_runs
                   where harvest_id not in (select harvest_id from build.state)""")
    finished = [
        h
        for (h,) in con.execute(
            "select harvest_id from build.increment join raw.harvest_runs using (harvest_id)"
            " where finished_at is not null"
        ).fetchall()
    ]
    return full_refresh, finished, fingerprint


def create_bookkeeping(con: duckdb.DuckDBPyConnection) -> None:
    """The tables of the `build` schema a build numbers itself in and logs what it replaced, made if missing and
    brought to this version's columns."""
    con.execute("create schema if not exists build")
    con.execute(
        "create table if not exists build.runs (seq bigint primary key, started_at timestamptz, full_refresh boolean)"
    )
    con.execute("alter table build.runs add column if not exists memory_limit varchar")  # what dbt ran under
    # when a build of the whole project succeeded (null: failed, stopped, or a selection): macros/build_seq.sql
    con.execute("alter table build.runs add column if not exists finished_at timestamptz")
    # the days of the rows a build replaced, for the marts recounted by day (macros/delete_insert.sql)
    con.execute("create table if not exists build.replaced (model varchar, day date)")
    # the studies each model rewrote, where the models downstream find those to rebuild (macros/delete_insert.sql), by
    # their number since it was given (stg_study_numbers; emptied after every build that succeeded, so an older
    # warehouse's rows are those of a failed build, rebuilt whole by the full refresh its new models start with)
    con.execute("create table if not exists build.rewritten_studies (model varchar, study_hash uhugeint)")
    con.execute("alter table build.rewritten_studies add column if not exists study_no bigint")
    # the builds whose rows each model's delete+insert replaced and those rows' storage days, for a publish
    # (macros/delete_insert.sql); the days were added later: a warehouse's older log has none (null: any day)
    con.execute("create table if not exists build.replacements (build_seq bigint, model varchar, replaced_seq bigint)")
    con.execute("alter table build.replacements add column if not exists day date")
    # the keys a model's delete+insert replaced and did not write again (config vanishing_keys), for a publish
    con.execute("create table if not exists build.removed_keys (build_seq bigint, model varchar, key uhugeint)")


def _begin_run(con: duckdb.DuckDBPyConnection, *, full_refresh: bool, limit: str) -> int:
    """Number this build in build.runs: the incremental models stamp the rows they write with it (`build_seq`), so
    that the structural tests of an incremental build check only those rows and a publish copies only the rows
    written since the copy it updates (analytics.publish). A full refresh (or a selection, rebuilt whole)
    rewrites every row, so a reader of the stamps knows to take the whole table. `limit`: DuckDB's memory limit dbt
    runs under, kept for an operator reading a slow, spilling or failed build."""
    create_bookkeeping(con)
    (seq,) = con.execute(
        """insert into build.runs by name
           select coalesce(max(seq), 0) + 1 as seq, now() as started_at, ? as full_refresh, ? as memory_limit
           from build.runs returning seq""",
        [full_refresh, limit],
    ).fetchall()[0]
    # a row with no model: the first build logged (replacements_logged_from); none yet (a new table, or a run stopped
    # between these two statements), the log starts again here
    if full_refresh or replacements_logged_from(con) is None:
        con.execute("delete from build.replacements")
        con.execute("insert into build.replacements values (?, null, null, null)", [seq])
    if full_refresh:  # every copy is then written whole; a log restarted otherwise still owes the copies its removals
        con.execute("delete from build.removed_keys")
    return seq


def replacements_logged_from(con: duckdb.DuckDBPyConnection) -> int | None:
    """The first build whose replacements build.replacements holds (those of every later build too), None in a
    warehouse built before they were kept: a copy updated before it needs every key deleted the old way. A full
    rebuild, or the rebuild of a selection of models, empties the log, since every copy is then copied whole."""
    if not table_exists(con, "build.replacements"):
        return None
    return con.execute("select min(build_seq) from build.replacements where model is null").fetchall()[0][0]


def _release() -> None:
    """Close dbt-duckdb's connection, which it keeps for the process: a read-only connection to the same file opened
    later in this process (the data contracts, a report) would otherwise be refused for its different settings."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    try:
        environment = DuckDBConnectionManager.env()
    except Exception:  # dbt opened none (parse)  # noqa: BLE001
        return
    environment.close()
    DuckDBConnectionManager.close_all_connections()


def _drop_stale_snapshots(con: duckdb.DuckDBPyConnection, select: list[str] | None, full_refresh: bool) -> None:
    """Metering carries storage forward from month-end snapshots (analytics.metering): drop those the build made
    wrong, from the month of the earliest day on which it changed what storage is counted from: a study's deletion
    logged (110105; the other events move no stored byte, and a receipt dating instances changes them), an
    instance's deletion reported by the archive, the first day on which an instance the build added or changed, or a
    study whose owner changed, counts otherwise (build.replaced's 'stored_bytes', see macros/delete_insert.sql); all
    of them after a rebuild. A late instance of an old study, a study's instances read again unchanged, or an
    instance's deletion, drops nothing before the month of its day."""
    if not table_exists(con, "marts.fct_storage_month_end"):
        return
    if full_refresh or select:
        if full_refresh or any(name in select for schema, name in models() if schema == "staged"):
            con.execute("delete from marts.fct_storage_month_end")
        return
    (earliest,) = con.execute(
        """with increment as (select harvest_id from build.increment)
           select least(
               (select min(day) from build.replaced where model = 'stored_bytes'),
               (select min(timezone('Europe/Paris', event_time)::date) from raw.audit_events
                where harvest_id in (select harvest_id from increment) and event_id = '110105'),
               (select min(timezone('Europe/Paris', deleted_at)::date) from raw.dicom_deletions
                where harvest_id in (select harvest_id from increment)))"""
    ).fetchall()[0]
    if earliest is not None:
        con.execute("delete from marts.fct_storage_month_end where month >= ?", [f"{earliest:%Y-%m}"])


def build(
    con: duckdb.DuckDBPyConnection,
    select: list[str] | None = None,
    *,
    full_refresh: bool = False,
) -> dict[str, int]:
    """`dbt build` (models and their tests) into the warehouse open on `con`; returns each built model's row count as
    `schema.model`.

    The whole project (no `select`) is built incrementally: the staging and intermediate models take in only what
    the harvests added since the last build (`full_refresh` rebuilds everything from raw). A selection of models
    (a test, a benchmark, one asset re-materialised) rebuilds those models whole.
    dbt works under the memory limit `con` was opened with ([warehouse] memory_limit, analytics.warehouse): dbt's
    connection shares `con`'s database and sets the limit of both, so any other value would also change `con`'s for
    the rest of its work."""
    path = database_path(con)
    args = ["build"]
    finished: list[str] = []
    fingerprint = None
    limit = connection_memory_limit(con)
    if select:  # and only the tests whose every parent is built now (a relationship to an unbuilt mart waits); the
        # studies' numbers first, for the pending harvests' studies (never rebuilt: the other models keep theirs)
        built = tables(con) & set(models())
        if ("staged", STUDY_NUMBERS) not in built and built:  # numbered anew, they would not match the models' rows
            raise DbtBuildFailed(
                f"staged.{STUDY_NUMBERS} is missing from {path} while other models are built: run `sansfilm rebuild`"
            )
        args += ["--select", STUDY_NUMBERS, *select, "--indirect-selection", "cautious", "--full-refresh"]
        seq = _begin_run(con, full_refresh=True, limit=limit)
    else:
        full_refresh, finished, fingerprint = _increment(con, full_refresh)
        seq = _begin_run(con, full_refresh=full_refresh, limit=limit)
        if full_refresh:
            args.append("--full-refresh")
    invoke_dbt(args, warehouse_path=path, work_dir=work_dir(path), limit=limit)
    _drop_stale_snapshots(con, select, full_refresh)
    if fingerprint is not None:  # built: these harvests are in, with this registry, and the marts recounted
        con.execute("insert or ignore into build.state select unnest(?::varchar[])", [finished])
        con.execute("delete from build.replaced")
        con.execute("delete from build.rewritten_studies")
        con.execute("delete from build.reference")
        con.execute("insert into build.reference values (?)", [fingerprint])
        con.execute("update build.runs set finished_at = now() where seq = ?", [seq])  # last: a crash before, not done
    wanted = set(select or [])
    return {
        f"{schema}.{name}": con.execute(f"select count(*) from {schema}.{name}").fetchall()[0][0]
        for schema, name in models()
        if not wanted or name in wanted
    }


def prepare_manifest() -> Path:
    """The project's manifest for Dagster, parsed again when a model or schema file is newer than it."""
    sources = [p for p in PROJECT_DIR.rglob("*") if p.suffix in (".sql", ".yml") and "target" not in p.parts]
    if MANIFEST_PATH.is_file() and MANIFEST_PATH.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return MANIFEST_PATH
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        invoke_dbt(["parse"], warehouse_path=work / "unused.duckdb", work_dir=work, limit="1GB")
        try:
            return _swap_in(work / "target" / "manifest.json", MANIFEST_PATH)
        except OSError:  # a user who may not write under the project: a manifest of its own, in the temporary folder
            own = Path(tempfile.gettempdir()) / f"sansfilm-dbt-{os.getuid()}" / "manifest.json"
            return _swap_in(work / "target" / "manifest.json", own)
