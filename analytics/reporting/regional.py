"""What the ARS may see on the regional page: one suppression pattern per period for every table, chart, total and
filter of the page at once (disclosure.py has the method; docs/dashboards.md explains it).

The page, for each combination of its filters (département, offer, establishment), shows studies per month (the
trend), per month and département, per département over the period, per month and modality, category or sector, and
shares per sender département and destination over the period. All of these, under every filter, are cells over the
same atoms (`regional_atoms.sql`, `regional_share_atoms.sql`); the cells hidden are chosen together, so that neither
one table, nor a table beside its totals, nor a filter beside another, pins a hidden cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import polars as pl

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
_CACHE: dict[tuple, Protection] = {}
_CACHE_SIZE = 32


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


def build(atoms: pl.DataFrame, measure: str, tables: dict[tuple, tuple[str, ...]], secondary: bool) -> Protection:
    atoms = atoms.with_row_index("position")
    values = atoms[measure].to_list()
    cells: dict[tuple, int] = {}
    for kept in establishment_sets(atoms):
        rows = atoms.filter(pl.col("establishment_id").is_in(list(kept)))
        for table, columns in tables.items():
            for group in rows.group_by(columns, maintain_order=True).agg("position").iter_rows():
                cells[(kept, table, group[:-1])] = disclosure.mask(group[-1])
    return Protection(atoms, cells, frozenset(disclosure.protect(set(cells.values()), values, secondary)))


def protection(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters, kind: str) -> Protection:
    """The period's pattern for `kind` (studies or shares), cached on the atoms themselves (a new publish is new
    atoms; the integer programs take seconds on a region's year)."""
    period = Filters(filters.first_month, filters.last_month)
    sql, measure, tables = (
        ("regional_atoms", "studies", STUDY_TABLES)
        if kind == "studies"
        else ("regional_share_atoms", "shares", SHARE_TABLES)
    )
    atoms = query(con, sql, Viewer(viewer.name, "ars"), period)
    key = (kind, SECONDARY, hash(tuple(atoms.rows())))
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = build(atoms, measure, tables, SECONDARY)
    return _CACHE[key]


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
