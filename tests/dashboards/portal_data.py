"""A small warehouse with the community portal's metering fact, as the pipeline leaves it: the `ref` tables written
by `warehouse.load_reference`, `marts.dim_establishments` built from the dbt model's own SQL, the metering tables
from `analytics/sql/metering/schema.sql`, and `marts.fct_portal_access` filled with the worked example of
docs/dashboards.md ("Portail ville"): three establishments, two months."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import yaml

from analytics import dbt_build, warehouse
from analytics.registry import Establishment, Registry

A, B, C = "940100013", "940100021", "750100018"  # the example's establishments A, B and C
METERING_SCHEMA = Path(dbt_build.__file__).resolve().parent / "sql" / "metering" / "schema.sql"
# the fact's columns as issue 18's metering writes them (analytics/metering.py); `if not exists`: the metering
# schema's own definition wins once it has one
INSERT = "insert into marts.fct_portal_access (month, establishment_id, practitioner_key, views) values (?, ?, ?, ?)"
DOC = Path(__file__).resolve().parents[2] / "docs" / "dashboards.md"
LETTERS = {"A": A, "B": B, "C": C}


def example() -> dict:
    """The `portal_example` yaml block of docs/dashboards.md."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    (found,) = [b for b in blocks if b.startswith("portal_example:")]
    return yaml.safe_load(found)["portal_example"]


def rows() -> list[tuple[str, str, str | None, int]]:
    """(month, establishment, practitioner key or None, views): one row per month x establishment x doctor, as the
    fact has them; the keys stand for the HMAC of an RPPS number."""
    out = []
    for group, (month, doctors, views) in enumerate(example()["accesses"]):
        keys = [f"k{group}-{i}" for i in range(doctors)] or [None]
        out += [(month, LETTERS[site], key, count) for key in keys for site, count in views.items()]
    return out


def registry() -> Registry:
    return Registry(
        path=Path("establishments.csv"),
        establishments=tuple(
            Establishment(
                establishment_id=LETTERS[letter],
                name=f"Établissement {letter}",
                siret=f"{LETTERS[letter]}00011",
                departement=departement,
                category="CH",
                sector="public",
                offer=offer,
                adhesion_date=date(2010, 1, 1),
                planned_go_live=date(2011, 1, 1),
                actual_go_live=date(2011, 1, 1),
                end_date=None,
                ae_titles=(f"{letter}_CT1",),
                institution_names=(f"Établissement {letter}",),
            )
            for letter, (departement, offer) in example()["establishments"].items()
        ),
    )


def build(path: Path, metered: bool = True) -> Path:
    """The warehouse file at `path`; `metered=False`: a warehouse of an older version, without the portal's fact."""
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists ref")
        con.execute("create schema if not exists marts")
        warehouse.load_reference(con, registry(), [])
        con.execute(f"create table marts.dim_establishments as {dbt_build.plain_sql('dim_establishments')}")
        con.execute(METERING_SCHEMA.read_text(encoding="utf-8"))
        con.executemany(
            "insert into marts.fct_metered_months values (?, false, last_day(strptime(? || '-01', '%Y-%m-%d')), now())",
            [(m, m) for m in sorted({month for month, *_ in rows()})],
        )
        con.executemany(INSERT, rows())  # the table as metering makes it (METERING_SCHEMA)
        if not metered:
            con.execute("drop table marts.fct_portal_access")
    finally:
        con.close()
    return path
