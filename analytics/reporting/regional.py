"""What the ARS may see on the regional page: one suppression pattern per period for every table, chart, total and
filter of the page at once (disclosure.py has the method; docs/dashboards.md explains it).

The page, for each combination of its filters (département, offer, establishment), shows studies per month (the
trend), per month and département, per département over the period, per month and modality, category or sector, and
shares per sender département and destination over the period. All of these, under every filter, are cells over the
same atoms (`regional_atoms.sql`, `regional_share_atoms.sql`); the cells hidden are chosen together, so that neither
one table, nor a table beside its totals, nor a filter beside another, pins a hidden cell.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from analytics import publish
from analytics.reporting import disclosure
from analytics.reporting.scope import Filters, Viewer, query

SECONDARY = True  # the attacker test switches it off to show that primary suppression alone gets pinned
# the page's groupings of studies: its `volumes` dimension, per month or over the period -> the atoms' columns
STUDY_TABLES = {
    ("region", True): ("month",),
    ("departement", True): ("month", "departement"),
    ("departement", False): ("departement",),
    ("modality", True): ("month", "modality"),
    ("category", True): ("month", "category"),
    ("sector", True): ("month", "sector"),
}
SHARE_TABLES = {("sharing", False): ("departement", "destination")}
PROTECTION_CACHE: dict[str, Protection] = {}
PROTECTION_CACHE_SIZE = 32


@dataclass(frozen=True)
class Protection:
    """The cells of every table under every filter (key: establishments, table, group values -> atom mask), and
    which of them are hidden."""

    atoms: pl.DataFrame
    cells: dict[tuple, int]
    hidden: frozenset[int]

    def is_hidden(self, key: tuple) -> bool:
        return self.cells.get(key, 0) in self.hidden


def establishment_sets(atoms: pl.DataFrame) -> Iterator[frozenset[str]]:
    """The establishments each combination of the page's filters keeps (each distinct non-empty set once)."""
    sites = atoms.select("establishment_id", "departement_filter", "offer_filter").unique()
    seen: set[frozenset[str]] = set()
    for departement in [None, *sorted(sites["departement_filter"].drop_nulls().unique())]:
        for offer in [None, *sorted(sites["offer_filter"].drop_nulls().unique())]:
            for establishment in [None, *sorted(sites["establishment_id"].unique())]:
                kept = frozenset(
                    _select(sites, Filters(departement=departement, offer=offer, establishment=establishment))[
                        "establishment_id"
                    ]
                )
                if kept and kept not in seen:
                    seen.add(kept)
                    yield kept


def _select(frame: pl.DataFrame, filters: Filters) -> pl.DataFrame:
    """The rows the page's filters keep (as `_scoped.sql` does)."""
    for column, wanted in (
        ("departement_filter", filters.departement),
        ("offer_filter", filters.offer),
        ("establishment_id", filters.establishment),
    ):
        if wanted is not None:
            frame = frame.filter(pl.col(column) == wanted)
    return frame


def cells_of(atoms: pl.DataFrame, tables: dict[tuple, tuple[str, ...]]) -> tuple[pl.DataFrame, dict[tuple, int]]:
    """The atoms numbered, and every cell of the page's `tables` under every filter (key -> atom mask)."""
    atoms = atoms.with_row_index("position")
    cells: dict[tuple, int] = {}
    for kept in establishment_sets(atoms):
        rows = atoms.filter(pl.col("establishment_id").is_in(list(kept)))
        for table, columns in tables.items():
            for group in rows.group_by(columns, maintain_order=True).agg("position").iter_rows():
                cells[(kept, table, group[:-1])] = disclosure.mask(group[-1])
    return atoms, cells


def build(
    atoms: pl.DataFrame,
    measure: str,
    tables: dict[tuple, tuple[str, ...]],
    secondary: bool,
    hidden: frozenset[int] | None = None,
) -> Protection:
    """Every cell of the page under every filter, and the cells to hide (`hidden` when already known)."""
    atoms, cells = cells_of(atoms, tables)
    return pattern_of(atoms, cells, atoms[measure].to_list(), secondary, hidden)


def pattern_of(
    atoms: pl.DataFrame, cells: dict[tuple, int], values: list[int], secondary: bool, hidden: frozenset[int] | None
) -> Protection:
    """The cells to hide among `cells` (masks over `values`), or `hidden` when already known and plausible."""
    every = set(cells.values())
    if hidden is None or not disclosure.primary(every, values) <= hidden <= every:  # a stale or foreign file
        hidden = frozenset(disclosure.protect(every, values, secondary))
    return Protection(atoms, cells, hidden)


def protection(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters, kind: str) -> Protection:
    """The period's pattern for `kind` (studies or shares), cached on the atoms themselves (a new publish is new
    atoms; the solves take seconds on a region's year): in this process, and on disk beside the published file."""
    period = Filters(filters.first_month, filters.last_month)
    sql, measure, tables = (
        ("regional_atoms", "studies", STUDY_TABLES)
        if kind == "studies"
        else ("regional_share_atoms", "shares", SHARE_TABLES)
    )
    atoms = query(con, sql, Viewer(viewer.name, "ars"), period)
    key = f"{kind} {SECONDARY} {METHOD} {atoms.rows()}"
    return remembered(con, key, lambda known: build(atoms, measure, tables, SECONDARY, known))


def remembered(
    con: duckdb.DuckDBPyConnection, key: str, solve: Callable[[frozenset[int] | None], Protection]
) -> Protection:
    """The pattern named by `key` (what is protected, how, and the atoms themselves): from this process, else solved
    by `solve(known)`, which gets the hidden cells stored beside the published file for that key (None if none) and
    checks them; a solved pattern is stored there."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    if digest not in PROTECTION_CACHE:
        if len(PROTECTION_CACHE) >= PROTECTION_CACHE_SIZE:
            PROTECTION_CACHE.pop(next(iter(PROTECTION_CACHE)))
        store = _store(con)
        known = _read(store, digest)
        pattern = solve(known)
        if pattern.hidden != known:  # solved: never stored, or a stored one not trusted
            _write(store, digest, pattern.hidden)
        PROTECTION_CACHE[digest] = pattern
    return PROTECTION_CACHE[digest]


METHOD = 3  # bump when disclosure.protect would choose other cells: patterns stored by an older method are ignored
_STORED = 64  # patterns kept beside the published file (the oldest go first)


def _store(con: duckdb.DuckDBPyConnection) -> Path | None:
    """Where the patterns are kept: a folder beside the published file (`<file>.secret/`), so that a server restart
    or another server process reuses them; None for an in-memory database."""
    rows = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchall()
    return Path(f"{publish.reader_path(Path(rows[0][0]))}.secret") if rows and rows[0][0] else None  # both turns


def _read(store: Path | None, digest: str) -> frozenset[int] | None:
    """The hidden cells stored for these atoms (hex masks), or None (never stored, or unreadable: recomputed)."""
    try:
        return frozenset(int(h, 16) for h in json.loads((store / f"{digest}.json").read_text())) if store else None
    except (OSError, ValueError, TypeError):
        return None


def _write(store: Path | None, digest: str, hidden: frozenset[int]) -> None:
    """Keep the pattern (atomic: written aside, then renamed); a read-only place only costs the next start a solve."""
    if store is None:
        return
    try:
        store.mkdir(exist_ok=True)
        scratch = store / f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp"
        scratch.write_text(json.dumps(sorted(f"{h:x}" for h in hidden)))
        os.replace(scratch, store / f"{digest}.json")
        for old in sorted(store.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-_STORED]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def hide(
    frame: pl.DataFrame,
    pattern: Protection,
    filters: Filters,
    table: tuple,
    keys: list[tuple],
    columns: tuple[str, ...],
) -> pl.DataFrame:
    """`frame` (one row per key, unsuppressed) with the pattern's hidden cells nulled in `columns` and flagged."""
    kept = frozenset(_select(pattern.atoms, filters)["establishment_id"])
    hidden = [pattern.is_hidden((kept, table, key)) for key in keys]
    return frame.with_columns(pl.Series("suppressed", hidden, dtype=pl.Boolean)).with_columns(
        [pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(c)).alias(c) for c in columns]
    )


def suppress_volumes(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    filters: Filters,
    frame: pl.DataFrame,
    dimension: str,
    per_month: bool,
) -> pl.DataFrame:
    """`volumes` as the ARS sees it. Dimensions the regional page does not show get the primary rule only."""
    columns = ("studies", "instances", "bytes")
    table = (dimension, per_month)
    if table not in STUDY_TABLES:
        small = pl.col("studies").is_between(1, disclosure.SMALL_CELL - 1)
        return frame.with_columns(suppressed=small).with_columns(
            [pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(c)).alias(c) for c in columns]
        )
    pattern = protection(con, viewer, filters, "studies")
    keys = [
        ((m,) if per_month else ()) + (() if dimension == "region" else (d,))
        for m, d in zip(frame["month"], frame["dimension"], strict=True)
    ]
    return hide(frame, pattern, filters, table, keys, columns)


def suppress_shares(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters, frame: pl.DataFrame
) -> pl.DataFrame:
    """`sharing_departements` as the ARS sees it."""
    pattern = protection(con, viewer, filters, "shares")
    keys = list(zip(frame["sender"], frame["destination"], strict=True))
    return hide(frame, pattern, filters, ("sharing", False), keys, ("shares",))
