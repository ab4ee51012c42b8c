"""The readers' copy of the warehouse, kept up to date at a cost that follows what changed, not the archive's age.

Readers (dashboards, notebooks, the CLI's reports) never open the working file: DuckDB lets one process write a file,
and a reader would block the writer. They open `<warehouse>.published.duckdb`, which is a symbolic link to one of
two files that take turns, `<warehouse>.published.a.duckdb` and `<warehouse>.published.b.duckdb`. A publish brings the
other one (the copy of two publishes ago, which no reader opens any more) up to date in place, then points the link
at it: one rename, so a reader sees the old copy or the new one, never half of one.

Bringing it up to date: the incremental models (`stg_`, `int_`, the marts recounted by day or month) stamp each row
with the build that wrote it (`build_seq`, analytics.dbt_build), so the copy takes only the rows written since its last
update (delete + insert), by their unique key (and the keys a build removed without writing them again,
build.removed_keys), or by the day (month) a mart rewrites whole, a day it emptied included. A key is deleted only
among the rows of the builds that had written the rows replaced since, on those rows' storage days (build.replacements;
the keyed models store their rows in day order, so DuckDB skips the row groups of other days), and not looked for where
no row was replaced: a night's new studies are not looked up in the whole history (among every row when the log does
not reach back to the copy's last update); the facts metering rewrites by month, the months metered since
(build.meterings, numbered by analytics.metering); every other table (the reference tables, the storage snapshots:
small) is copied whole. A table is copied whole too when its columns changed, when a full rebuild ran since, or when
the copy's bookkeeping does not match this warehouse (`publication.tables`, kept in the copy). When the file to update
is still open (a reader of two publishes ago still reading) or unreadable, or when every table is copied whole (a full
rebuild since), a fresh file is written and renamed over it instead: the reader keeps what it opened, and the copy
keeps nothing of the rows a rebuild dropped, even in its unused pages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from analytics import dbt_build
from analytics.catalog import column_exists, table_exists
from analytics.metrics import MONTHLY_FACTS

PUBLISHED_SCHEMAS = ("ref", "staged", "marts")
BOOKKEEPING = "publication"  # schema of the copy: what each table holds (build_seq, the build's start, its columns)
TURNS = ("a", "b")
# at most this many keys written since the copy's last update are named in the delete (the harvests of a night for
# stg_audit_events, the days a mart recounted): keys in the order rows are appended then find their rows without
# reading every key of the history
FEW_KEYS = 100
# at most this many storage days of the rows replaced since are named in a keyed delete: DuckDB skips the row groups
# holding none of them (a rebuild's history in day order: the rows of a night's few dozen days, not all of them)
FEW_DAYS = 1000
DBT_LEFTOVER = "__dbt_(backup|tmp)$"  # the names of the tables dbt makes beside a model's while it builds it


def turn_path(published_path: Path, turn: str) -> Path:
    """`<stem>.a<suffix>` beside the link: the file of one turn."""
    return published_path.with_name(f"{published_path.stem}.{turn}{published_path.suffix or '.duckdb'}")


def reader_path(opened: Path) -> Path:
    """The path readers name for a file DuckDB says it opened (it follows links): the link, for one of its turns."""
    for turn in TURNS:
        ending = f".{turn}{opened.suffix}"
        if opened.name.endswith(ending):
            link = opened.with_name(opened.name[: -len(ending)] + opened.suffix)
            if link.is_symlink():
                return link
    return opened


def publish(con: duckdb.DuckDBPyConnection, published_path: Path) -> Path:
    """Update the turn readers do not hold from the warehouse open on `con`, then point `published_path` at it."""
    published_path = Path(published_path)
    published_path.parent.mkdir(parents=True, exist_ok=True)
    current = published_path.resolve() if published_path.is_symlink() else None
    first, second = (turn_path(published_path, t) for t in TURNS)
    target = second if current == first.resolve() else first
    runs = _build_runs(con)
    try:
        con.execute("attach ? as publish_target", [str(target)])
    except duckdb.Error:  # still open by a reader of two publishes ago, or unreadable: a fresh file in its place
        held, afresh = {}, True
    else:
        held = _held(con)
        afresh = _copied_whole(held, runs)
        if afresh:  # every table anew: into a new file too, not over the old one's pages (rows a rebuild dropped)
            con.execute("detach publish_target")
    if afresh:
        fresh = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fresh.unlink(missing_ok=True)
        con.execute("attach ? as publish_target", [str(fresh)])
        try:
            _update(con, {}, runs)
        except BaseException:
            fresh.unlink(missing_ok=True)  # half a copy is no use to anyone
            raise
        os.replace(fresh, target)
    else:
        _update(con, held, runs)
    link = published_path.with_name(f".{published_path.name}.{os.getpid()}.link")
    link.unlink(missing_ok=True)
    os.symlink(target.name, link)  # relative: the folder may move (a backup restored elsewhere)
    os.replace(link, published_path)
    return published_path


def _update(con: duckdb.DuckDBPyConnection, held: dict[tuple[str, str], tuple], runs: dict[int, tuple]) -> None:
    """Bring the copy attached as `publish_target` up to date, in one transaction; detach it (checkpointed) after.
    `held`: what the copy holds (_held); `runs`: the warehouse's builds (_build_runs)."""
    try:
        con.execute("begin transaction")
        metered = _meterings(con)
        meterings = {seq: (metered_at, False) for seq, metered_at in metered}
        wanted = _tables(con, current_database=True, last_metering=max(metered, default=None))
        model_keys = dbt_build.model_keys()
        keys, partitions = model_keys.unique, model_keys.partitions
        oldest = min(
            (seq for (_, table), (_, seq, _) in held.items() if table in keys and seq is not None), default=None
        )
        replacements = Replacements.read(con, oldest)
        for schema in (*PUBLISHED_SCHEMAS, BOOKKEEPING):
            con.execute(f"create schema if not exists publish_target.{schema}")
        for (schema, table), (columns, stamp) in wanted.items():
            target = f"publish_target.{schema}.{table}"
            by_metering = schema == "marts" and table in MONTHLY_FACTS
            keyed = table in keys or table in partitions or by_metering
            since = _delta_base(held.get((schema, table)), columns, stamp, keyed, meterings if by_metering else runs)
            if since is None:
                con.execute(f"create or replace table {target} as select * from {schema}.{table}")
                continue
            if by_metering:  # the months metered since, each rewritten whole (a month may have lost rows)
                months = "month in (select month from build.meterings where seq > ?)"
                con.execute(f"delete from {target} where {months}", [since])
                con.execute(f"insert into {target} select * from {schema}.{table} where {months}", [since])
                continue
            key = keys.get(table) or partitions[table]
            among, days = replacements.of(table, since) if table in keys else (None, None)
            if among != []:  # [] a build since replaced no row of this table: every row written since is new here
                day_column = model_keys.storage_days.get(table)
                on_days = (day_column, days) if day_column and days is not None else None
                removed = table in model_keys.vanishing
                _delete_written_since(
                    con, schema, table, key, since, among, on_days, whole=table in partitions, removed=removed
                )
            con.execute(f"insert into {target} select * from {schema}.{table} where build_seq > ?", [since])
        for schema, table in set(_tables(con, current_database=False)) - set(wanted):
            con.execute(f"drop table publish_target.{schema}.{table}")
        _remember(con, wanted)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("detach publish_target")


def _copied_whole(held: dict[tuple[str, str], tuple], runs: dict[int, tuple]) -> bool:
    """Whether the update of a copy holding `held` (_held) would copy every table whole: it holds no build of this
    warehouse (a new file, one written before the bookkeeping), or a full rebuild ran since the newest build it
    holds. Written into a new file then, the copy keeps nothing of the rows the rebuild dropped, even in unused pages
    (a value a migration removed, docs/deploy.md)."""
    seqs = [seq for (_, table), (_, seq, _) in held.items() if seq is not None and table not in MONTHLY_FACTS]
    return not seqs or _rebuilt_since(runs, max(seqs))


def _build_runs(con: duckdb.DuckDBPyConnection) -> dict[int, tuple]:
    """build.runs: seq -> (started_at, full_refresh)."""
    rows = con.execute("select seq, started_at, full_refresh from build.runs").fetchall()
    return {seq: (started, full) for seq, started, full in rows}


def _rebuilt_since(runs: dict[int, tuple], seq: int) -> bool:
    """Whether a full rebuild ran after build `seq` (`runs`: _build_runs)."""
    return any(full for later, (_, full) in runs.items() if later > seq)


def _delete_written_since(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    key: str,
    since: int,
    among: list | None,
    on_days: tuple[str, list[date]] | None = None,
    *,
    whole: bool,
    removed: bool = False,
) -> None:
    """Delete from the copy's `table` the rows holding a `key` (unique key, or the day/month a mart rewrites whole)
    that the builds after `since` wrote, and those they removed when `removed` (build.removed_keys: config
    vanishing_keys): only among the rows of the builds `among` when it names them (every row when None), and of the
    days `on_days` names (its storage day column and the days; any day when None). `whole`: `key` is a day (month) a
    mart rewrites whole, so one it recounted to nothing goes too."""
    keys, values = f"select {key} from {schema}.{table} where build_seq > ?", [since]
    if removed and table_exists(con, "build.removed_keys"):  # a warehouse built before they were kept has none
        keys += " union select key from build.removed_keys where model = ? and build_seq > ?"
        values += [table, since]
    written = con.execute(f"select distinct * from ({keys}) limit {FEW_KEYS + 1}", values).fetchall()
    if len(written) <= FEW_KEYS:  # named one by one, DuckDB skips the row groups holding none of them
        replaced, values = f"{key} in ({', '.join('?' * len(written)) or 'null'})", [k for (k,) in written]
    else:
        replaced = f"{key} in ({keys})"
    if on_days:  # literals: DuckDB checks each against a row group's smallest and largest day
        column, days = on_days
        replaced = f"{column} in ({', '.join(f'date {day.isoformat()!r}' for day in days) or 'null'}) and {replaced}"
    if among:  # only in the rows of the builds that wrote the rows replaced since
        replaced = f"build_seq in ({', '.join(map(str, among))}) and {replaced}"
    # a day (month) a mart recounted to nothing has no row left to name it: gone from the warehouse, too
    emptied = f" or {key} not in (select {key} from {schema}.{table})" if whole else ""
    con.execute(f"delete from publish_target.{schema}.{table} where {replaced}{emptied}", values)


@dataclass(frozen=True, slots=True)
class Replacements:
    """build.replacements, read once a publish: the first build it logs (None: the warehouse keeps no log, built before
    it was kept) and, per model, each (build, build whose row that build replaced, that row's storage day) triple."""

    logged_from: int | None
    by_model: dict[str, list[tuple[int, int | None, date | None]]]

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, after: int | None) -> Replacements:
        """Read the triples of the builds after `after`, the oldest build a keyed table of the copy is up to (None:
        the copy holds none, so none is asked for): the log grows every night between full rebuilds."""
        logged_from = dbt_build.replacements_logged_from(con)
        by_model: dict[str, list[tuple[int, int | None, date | None]]] = {}
        if logged_from is not None and after is not None:
            # a log kept before the days were (no build since the upgrade): any day
            days = "day" if column_exists(con, "build.replacements", "day") else "null"
            triples = f"select model, build_seq, replaced_seq, {days} from build.replacements where model is not null"
            triples += " and build_seq > ? order by all"
            for model, build_seq, replaced_seq, day in con.execute(triples, [after]).fetchall():
                by_model.setdefault(model, []).append((build_seq, replaced_seq, day))
        return cls(logged_from, by_model)

    def of(self, table: str, since: int) -> tuple[list[int] | None, list[date] | None]:
        """Where the copy, up to date with build `since`, holds the rows of `table` the builds after it replaced: the
        builds that had written them (stamped as in the warehouse) and their storage days (config storage_day).

        The builds: empty when no row was replaced; None (any build) when the log does not reach back to `since`, or a
        row replaced had no stamp. The days: None (any day) when the builds are not named, when a row replaced had no
        day (a model without a storage day, a log older than the days), or when there are too many to name."""
        if self.logged_from is None or self.logged_from > since + 1:
            return None, None
        replaced = [(seq, day) for build_seq, seq, day in self.by_model.get(table, ()) if build_seq > since]
        seqs = {seq for seq, _ in replaced}
        if None in seqs:  # a row replaced had no stamp: it could be anywhere
            return None, None
        days = {day for _, day in replaced}
        named = None if None in days or len(days) > FEW_DAYS else sorted(days)
        return sorted(seqs), named


def _tables(
    con: duckdb.DuckDBPyConnection, *, current_database: bool, last_metering: tuple | None = None
) -> dict[tuple[str, str], tuple[str, tuple | None]]:
    """The tables of the published schemas, in the warehouse (`current_database`) or in the copy: their columns (names
    and types, in order) and, for a warehouse table stamped with build_seq, the last build that wrote it and when that
    build started (None without a stamp or a row); for a metering fact, the last metering (`last_metering`: seq and
    when). A table dbt left behind in the warehouse (`<model>__dbt_backup`, `__dbt_tmp`: a build stopped between its
    statements) is no model: never published, and dropped from a copy that holds one."""
    catalog = "current_database()" if current_database else "'publish_target'"
    leftovers = f"and not regexp_matches(t.table_name, '{DBT_LEFTOVER}')" if current_database else ""
    rows = con.execute(
        f"""select c.table_schema, c.table_name,
                   list(c.column_name order by c.ordinal_position),
                   string_agg(c.column_name || ' ' || c.data_type, ', ' order by c.ordinal_position)
            from information_schema.columns as c
            join information_schema.tables as t using (table_catalog, table_schema, table_name)
            where c.table_catalog = {catalog} and c.table_schema in ? and t.table_type = 'BASE TABLE' {leftovers}
            group by all order by 1, 2""",
        [list(PUBLISHED_SCHEMAS)],
    ).fetchall()
    tables = {}
    for schema, table, names, columns in rows:
        stamp = None
        if current_database and "build_seq" in names:
            found = con.execute(
                f"select seq, started_at from build.runs where seq = (select max(build_seq) from {schema}.{table})"
            ).fetchall()
            stamp = found[0] if found else None
        elif current_database and schema == "marts" and table in MONTHLY_FACTS and last_metering:
            stamp = last_metering  # the copy holds the months metered up to this one
        tables[(schema, table)] = (columns, stamp)
    return tables


def _meterings(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """build.meterings (analytics.metering): (seq, metered_at) of each metering of a month; none in a warehouse never
    metered since they were numbered."""
    if not table_exists(con, "build.meterings"):
        return []
    return con.execute("select seq, metered_at from build.meterings").fetchall()


def _held(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple]:
    """What the copy holds, from its bookkeeping: (columns, build_seq, that build's start) by table; empty for a new
    file or one written before this bookkeeping."""
    exists = con.execute(
        """select count(*) from information_schema.tables
           where table_catalog = 'publish_target' and table_schema = ? and table_name = 'tables'""",
        [BOOKKEEPING],
    ).fetchall()[0][0]
    if not exists:
        return {}
    rows = con.execute(
        "select table_schema, table_name, columns, build_seq, build_started_at "
        f"from publish_target.{BOOKKEEPING}.tables"
    ).fetchall()
    return {(schema, table): (columns, seq, started) for schema, table, columns, seq, started in rows}


def _delta_base(held: tuple | None, columns: str, stamp: tuple | None, keyed: bool, runs: dict) -> int | None:
    """The build_seq the copy of this table is up to, when only the rows written after it need copying; None when
    the table must be copied whole. `runs`: build.runs, seq -> (started_at, full_refresh)."""
    if held is None or stamp is None or not keyed:
        return None
    held_columns, held_seq, held_started = held
    if held_columns != columns or held_seq is None or runs.get(held_seq, (None,))[0] != held_started:
        return None  # another table shape, or a copy of another warehouse's builds
    return None if _rebuilt_since(runs, held_seq) else held_seq


def _remember(con: duckdb.DuckDBPyConnection, tables: dict[tuple[str, str], tuple[str, tuple | None]]) -> None:
    con.execute(
        f"""create or replace table publish_target.{BOOKKEEPING}.tables (
                table_schema varchar, table_name varchar, columns varchar, build_seq bigint,
                build_started_at timestamptz)"""
    )
    for (schema, table), (columns, stamp) in tables.items():
        seq, started = stamp if stamp else (None, None)
        con.execute(
            f"insert into publish_target.{BOOKKEEPING}.tables values (?, ?, ?, ?, ?)",
            [schema, table, columns, seq, started],
        )
