"""Proposed tariffs for the next agreement (`contracts/proposals/*.yaml`), simulated on the published usage.

For `gcs` and `finance` only (money across establishments). Read-only: the published warehouse and the ledger opened
read-only; `billing.simulation` does the rating with the invoices' own rules.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from analytics import metering
from analytics.billing.service import Contracts, agreement_months
from analytics.billing.simulation import PROPOSALS_DIR, Simulation, by_establishment, simulate
from analytics.billing.tariff import Tariff, load_tariff_file
from analytics.errors import SansfilmError
from analytics.periods import Month
from analytics.reporting.finance import issued_for_regularisation, scoped_usage
from analytics.reporting.scope import Filters, Viewer

ROLES = ("gcs", "finance")
CATEGORY_LABELS = {
    "establishment_id": "établissement",
    "category": "catégorie",
    "offer": "offre",
    "departement": "département",
    "sector": "secteur",
}


def proposal_files(contracts_dir: Path) -> list[Path]:
    """The proposed tariffs, by file name (none when the folder does not exist)."""
    folder = Path(contracts_dir) / PROPOSALS_DIR
    return sorted(p for p in folder.glob("*.yaml") if p.is_file()) if folder.is_dir() else []


def load_proposal(contracts: Contracts, path: Path) -> Tariff:
    """A proposal validated by the tariff's own loader (errors name the file, the field and the line); it must price
    every offer of the registry, and reads the agreement's price index when it has a revision clause."""
    offers = {e.offer for e in contracts.registry.establishments}
    return load_tariff_file(
        Path(path), offers, index_dir=contracts.tariff.path.parent, missing="the proposed tariff file does not exist"
    )


def simulate_published(
    con: duckdb.DuckDBPyConnection,
    contracts: Contracts,
    proposal: Tariff,
    ledger_url: str,
    viewer: Viewer,
    first: Month | None = None,
    last: Month | None = None,
) -> Simulation:
    """Every metered month of the current agreement between `first` and `last` (inclusive; default: all), rated
    under both tariffs: the issued months from the ledger, the others drafted from the published usage."""
    viewer.require(*ROLES)
    if first and last and last < first:
        raise SansfilmError(f"--to {last} is before --from {first}")
    filters = Filters(str(first) if first else None, str(last) if last else None)
    usage = scoped_usage(con, viewer, filters)
    months = agreement_months(contracts, sorted(usage))
    if not months:
        period = f" between {first or 'the start'} and {last or 'the end'}" if first or last else ""
        raise SansfilmError(
            f"no metered month of agreement {contracts.tariff.contract_id}{period} in the published "
            "warehouse: run `sansfilm run` first, or widen --from/--to"
        )
    establishments = {e.establishment_id for e in contracts.registry.establishments}
    issued = {
        m: invoices for m, invoices in issued_for_regularisation(ledger_url, establishments).items() if m in months
    }
    simulation = simulate(contracts.registry, contracts.tariff, proposal, months, usage, issued)
    partial = {str(m): str(day) for m in months if (day := metering.month_to_date(con, m)) is not None}
    return replace(simulation, month_to_date=partial)


CHANGES_SCHEMA = {
    "establishment_id": pl.String,
    "name": pl.String,
    "category": pl.String,
    "sector": pl.String,
    "departement": pl.String,
    "offer": pl.String,
    "months": pl.Int64,
    "current_net": pl.Decimal(18, 2),
    "simulated_net": pl.Decimal(18, 2),
    "delta": pl.Decimal(18, 2),
    "change_pct": pl.Float64,
}


def bill_changes(simulation: Simulation, contracts: Contracts) -> pl.DataFrame:
    """One row per establishment: who it is, both nets, the delta and the change in % of the current net."""
    registry = contracts.registry.by_id()
    rows = []
    for row in by_establishment(simulation):
        e = registry[row["establishment_id"]]  # type: ignore[index]
        current, delta = row["current_net"], row["delta"]
        rows.append(
            {
                "establishment_id": e.establishment_id,
                "name": e.name,
                "category": e.category,
                "sector": e.sector,
                "departement": e.departement,
                "offer": row["offer"],
                "months": row["months"],
                "current_net": current,
                "simulated_net": row["simulated_net"],
                "delta": delta,
                "change_pct": float(delta / current * 100) if current else None,  # type: ignore[operator]
            }
        )
    return pl.DataFrame(rows, schema=CHANGES_SCHEMA)


def changes_by(changes: pl.DataFrame, column: str) -> pl.DataFrame:
    """The changes summed by category, offer, département or sector, with how many establishments win or lose."""
    return (
        changes.group_by(column)
        .agg(
            establishments=pl.len(),
            current_net=pl.col("current_net").sum(),
            simulated_net=pl.col("simulated_net").sum(),
            delta=pl.col("delta").sum(),
            winners=(pl.col("delta") < 0).sum(),
            losers=(pl.col("delta") > 0).sum(),
        )
        .with_columns(change_pct=(pl.col("delta").cast(pl.Float64) / pl.col("current_net").cast(pl.Float64) * 100))
        .sort(column)
    )


def winners_and_losers(changes: pl.DataFrame, count: int = 5) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The `count` establishments whose bill falls most (winners) and rises most (losers), in euros."""
    winners = changes.filter(pl.col("delta") < 0).sort("delta", "establishment_id").head(count)
    losers = changes.filter(pl.col("delta") > 0).sort("delta", "establishment_id", descending=[True, False]).head(count)
    return winners, losers


def totals(simulation: Simulation) -> dict[str, Decimal]:
    current, simulated = simulation.current_net, simulation.simulated_net
    return {"current_net": current, "simulated_net": simulated, "delta": simulated - current}
