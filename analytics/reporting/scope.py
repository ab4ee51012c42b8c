"""Who is looking (`Viewer`) and what they asked for (`Filters`), turned into the parameters every query binds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from analytics.errors import SansfilmError
from analytics.periods import Month

SQL_DIR = Path(__file__).resolve().parents[1] / "sql" / "reporting"
SMALL_CELL = 10  # ARS publications withhold any cell under 10 studies
REGIONAL = ("ars", "gcs", "finance", "operator")


class Forbidden(SansfilmError):
    """The viewer's role may not see this."""


@dataclass(frozen=True)
class Viewer:
    name: str
    role: str  # ars | gcs | finance | operator | establishment:<FINESS>

    def __post_init__(self) -> None:
        if self.role not in REGIONAL and not (
            self.role.startswith("establishment:")
            and self.establishment_id.isdigit()
            and len(self.establishment_id) == 9
        ):
            raise Forbidden(f"unknown role '{self.role}'")

    @property
    def kind(self) -> str:
        return "establishment" if self.role.startswith("establishment:") else self.role

    @property
    def establishment_id(self) -> str | None:
        return self.role.partition(":")[2] or None

    @property
    def scope(self) -> str | None:
        """The one establishment an establishment viewer is limited to; None for regional roles."""
        return self.establishment_id

    @property
    def sees_money(self) -> bool:
        return self.kind in ("finance", "gcs", "establishment")

    @property
    def suppresses_small_cells(self) -> bool:
        return self.kind == "ars"

    def require(self, *kinds: str) -> None:
        if self.kind not in kinds:
            raise Forbidden(f"{self.name} ({self.role}) may not see this (for: {', '.join(kinds)})")


@dataclass(frozen=True)
class Filters:
    """The filters shared across pages; None means everything. Months are inclusive, YYYY-MM."""

    first_month: str | None = None
    last_month: str | None = None
    departement: str | None = None
    offer: str | None = None
    establishment: str | None = None

    @property
    def first_day(self) -> date:
        return Month.parse(self.first_month).first_day if self.first_month else date(1900, 1, 1)

    @property
    def end_day(self) -> date:
        """Exclusive bound: the first day after the last month."""
        return Month.parse(self.last_month).next().first_day if self.last_month else date(9999, 1, 1)

    def months(self) -> list[Month]:
        if not (self.first_month and self.last_month):
            return []
        month, last, out = Month.parse(self.first_month), Month.parse(self.last_month), []
        while month <= last:
            out.append(month)
            month = month.next()
        return out


def sql_text(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def query(con: duckdb.DuckDBPyConnection, name: str, viewer: Viewer, filters: Filters, **extra: object) -> pl.DataFrame:
    """Run one reporting query through the viewer's `scoped` establishments, binding only the parameters it uses."""
    sql = f"with scoped as ({sql_text('_scoped')})\nselect * from ({sql_text(name)})"
    params: dict[str, object] = {
        "scope": viewer.scope,
        "departement": filters.departement,
        "offer": filters.offer,
        "establishment": filters.establishment,
        "first_day": filters.first_day,
        "end_day": filters.end_day,
        "suppress": viewer.suppresses_small_cells,
        **extra,
    }
    return pl.from_arrow(con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).to_arrow_table())


def as_of(con: duckdb.DuckDBPyConnection) -> date:
    return con.execute(sql_text("as_of")).fetchall()[0][0]
