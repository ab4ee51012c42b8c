"""Community-portal adoption: distinct practitioners and views per Paris month, by département and for the region (or
what the filters keep), from `marts.fct_portal_access` (written by metering). For the ARS, under the statistical
disclosure control of the regional page (disclosure.py, regional.py; docs/dashboards.md, "Portail ville").

Views are additive: a cell is a sum of atoms (views per establishment and month), protected as studies are, under
every filter of the page at once. Distinct practitioners are not: a doctor viewing studies of two hospitals of a
département counts once in it, so the département's figure is not the sum of its establishments', nor the region's the
sum of its départements'. Subtraction does not give a hidden one back (region minus the others is only a lower bound),
but primary suppression alone is still not safe: distinct counts obey other identities. With establishments a, b, c,
the count of {a} equals count({a, b}) + count({a, c}) - count({a, b, c}) minus the doctors seen at b and c only, and it
is at least count({a, b, c}) - count({b}) - count({c}); when nobody crosses, both bounds meet and a secret count of a is
recovered from five published figures (a département, an offer, the region and two sites: filters the page offers).
So each practitioner is filed under their *signature* in the month, the set of establishments whose studies they
viewed; an atom is the number of practitioners with one signature, and any distinct count is the sum of the atoms whose
signature meets its establishments. The counts become sums, and the same integer-programming protection applies,
against an attacker who also knows which signatures occur (more than a reader of the page can know: it may hide more
than needed, never less). Each measure is protected on its own, as studies and shares are.
"""

from __future__ import annotations

import duckdb
import polars as pl

from analytics import warehouse
from analytics.reporting import regional
from analytics.reporting.scope import Filters, Viewer, query

TABLE = "marts.fct_portal_access"
SECONDARY = True  # the tests switch it off to show that primary suppression alone gets a distinct count pinned
BY_MONTH = ("portal", True)  # the region (or what the filters keep) per month
BY_DEPARTEMENT = ("portal_departement", True)  # per month and département
VIEW_TABLES = {BY_MONTH: ("month",), BY_DEPARTEMENT: ("month", "departement")}
NOT_METERED = (
    "Le portail ville n'est pas encore mesuré dans cet entrepôt (il date d'une version antérieure) : "
    "lancez `sansfilm run` pour mesurer ses accès."
)


def metered(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse has the portal's metering fact (an older one does not, until its next run)."""
    return warehouse.table_exists(con, TABLE)


def adoption(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters, per_departement: bool = False
) -> pl.DataFrame | None:
    """Practitioners (distinct) and views per month, for the region or (`per_departement`) per département; None
    when the warehouse has no portal metering yet. The ARS gets hidden cells as null, flagged `suppressed`."""
    viewer.require("ars", "gcs", "establishment")
    if not metered(con):
        return None
    exact = query(con, "portal_departements" if per_departement else "portal_months", viewer, filters)
    if not viewer.suppresses_small_cells:
        return exact
    views, practitioners = protection(con, viewer, filters)
    table = BY_DEPARTEMENT if per_departement else BY_MONTH
    keys = (
        list(zip(exact["month"], exact["departement"], strict=True))
        if per_departement
        else exact.select("month").rows()
    )
    hidden = regional.hide(exact, practitioners, filters, table, keys, ("practitioners",))
    hidden = regional.hide(
        hidden.rename({"suppressed": "practitioners_hidden"}), views, filters, table, keys, ("views",)
    )
    return hidden.with_columns(suppressed=pl.col("suppressed") | pl.col("practitioners_hidden")).drop(
        "practitioners_hidden"
    )


def protection(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters
) -> tuple[regional.Protection, regional.Protection]:
    """The period's patterns (views, practitioners), for every filter combination at once, cached like the regional
    page's (regional.remembered)."""
    period = Filters(filters.first_month, filters.last_month)
    ars = Viewer(viewer.name, "ars")
    sites = query(con, "portal_atoms", ars, period)
    signatures = query(con, "portal_practitioner_atoms", ars, period)
    views = regional.remembered(
        con,
        f"portal views {SECONDARY} {regional.METHOD} {sites.rows()}",
        lambda known: regional.build(sites, "views", VIEW_TABLES, SECONDARY, known),
    )
    practitioners = regional.remembered(
        con,
        f"portal practitioners {SECONDARY} {regional.METHOD} {sites.rows()} {signatures.rows()}",
        lambda known: regional.pattern_of(
            sites,
            practitioner_cells(sites, signatures),
            signatures["practitioners"].to_list(),
            SECONDARY,
            known,
        ),
    )
    return views, practitioners


def practitioner_cells(sites: pl.DataFrame, signatures: pl.DataFrame) -> dict[tuple, int]:
    """Every distinct-practitioner cell of the portal section under every filter (key -> mask over the signature
    atoms): a cell holds the atoms of its month whose signature meets its establishments."""
    departement = dict(zip(sites["establishment_id"], sites["departement"], strict=False))
    months, members = signatures["month"].to_list(), signatures["signature"].to_list()
    holding: dict[str, list[int]] = {}  # establishment -> the atoms whose signature holds it
    for position, signature in enumerate(members):
        for establishment in signature:
            holding.setdefault(establishment, []).append(position)
    cells: dict[tuple, int] = {}
    for kept in regional.establishment_sets(sites):
        for position in sorted({p for e in kept for p in holding.get(e, ())}):
            bit, month = 1 << position, months[position]
            met = {departement[e] for e in members[position] if e in kept}
            for key in [(kept, BY_MONTH, (month,)), *((kept, BY_DEPARTEMENT, (month, d)) for d in met)]:
                cells[key] = cells.get(key, 0) | bit
    return cells
