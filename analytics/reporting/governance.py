"""Framework governance for the CLI and the roll-out dashboard: validity, ceiling, commitments, scoped per viewer.

`build_report` gathers the published usage, the ledger's issued nets and drafts of the other months (rules in
`billing.governance`); the table functions apply the viewer's rights: money (amounts, ceiling amount) for `gcs` and
`finance` only, and for an establishment its own commitment row; `operator` sees volumes, never money; `ars` sees
the agreement's validity and the regional volumes against the ceiling, no establishment-level row; an establishment
sees neither the programme's ceiling nor another establishment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import polars as pl
from sqlalchemy import select

from analytics import metering
from analytics.billing import ledger as ledger_tables
from analytics.billing.contracts import Contracts
from analytics.billing.credits import recorded_credit_lines
from analytics.billing.governance import (
    COMMITMENTS_FILE,
    Billed,
    CeilingUse,
    CommitmentUse,
    Validity,
    billed_months,
    ceiling_use,
    commitment_use,
    complete_months,
    load_commitments,
    validity,
)
from analytics.billing.service import month_invoices
from analytics.metrics import decimal_text
from analytics.periods import Month
from analytics.reporting.finance import scoped_usage
from analytics.reporting.scope import Filters, Forbidden, Viewer, as_of

MONEY_ROLES = ("gcs", "finance")
_ALL = Viewer("governance", "gcs")  # the report is computed over everything, then scoped by the table functions


@dataclass(frozen=True)
class GovernanceReport:
    as_of: date
    validity: Validity
    ceiling: list[CeilingUse]
    commitments: list[CommitmentUse]
    months_counted: list[Month]
    drafted_months: list[Month]  # complete months not issued yet: their amounts are drafts
    revision_pending: list[Month]  # drafted months priced provisionally (an index value is missing)
    # complete months between the first and the last counted that are neither issued nor metered (a preview of a
    # later month, no `run` since): left out of the figures, which are then too low, so named
    not_metered: list[Month] = field(default_factory=list)


def issued_nets(ledger_url: str, contract_id: str) -> tuple[list[Month], dict[tuple[Month, str], Decimal]]:
    """Issued months and (month, FINESS) -> net of the agreement's issued invoices, less the credit notes on them
    (counted in the month of the invoice they correct: what that month is billed, once corrected); read only,
    creates no ledger."""
    inv, months, credit = ledger_tables.invoice, ledger_tables.issued_month, ledger_tables.credit_note
    ledger_tables.require_ledger_folder(ledger_url, "governance cannot tell what was issued")
    with ledger_tables.reading(ledger_url) as conn:
        if conn is None:
            return [], {}
        issued = [Month.parse(m) for m in conn.execute(select(months.c.month)).scalars()]
        rows = conn.execute(
            select(inv.c.month, inv.c.establishment_id, inv.c.net).where(inv.c.contract_id == contract_id)
        ).all()
        credits = conn.execute(  # negative nets
            select(inv.c.month, inv.c.establishment_id, credit.c.net)
            .join(inv, inv.c.number == credit.c.invoice_number)
            .where(inv.c.contract_id == contract_id)
        ).all()
    nets: dict[tuple[Month, str], Decimal] = {}
    for r in (*rows, *credits):
        key = (Month.parse(r.month), r.establishment_id)
        nets[key] = nets.get(key, Decimal("0.00")) + r.net
    return sorted(issued), nets


def build_report(
    con: duckdb.DuckDBPyConnection, contracts: Contracts, ledger_url: str, as_of: date
) -> GovernanceReport:
    """The governance figures at `as_of` from the published warehouse, the ledger and the contracts."""
    tariff = contracts.tariff
    known = {e.establishment_id for e in contracts.registry.establishments}
    months = complete_months(tariff, as_of)
    usage = {
        m: {e: u for e, u in by_site.items() if e in known}
        for m, by_site in scoped_usage(con, _ALL, Filters()).items()
        if m in set(months)
    }
    issued_months, nets = issued_nets(ledger_url, tariff.contract_id)
    drafted = [m for m in sorted(usage) if m not in set(issued_months)]
    # as the Finance page drafts them: with the credits of the previous month's missed service levels
    drafts = [
        d
        for m in drafted
        for d in month_invoices(contracts, m, usage, {}, extra=recorded_credit_lines(con, m, tariff.currency))
    ]
    pending = sorted({d.month for d in drafts if d.revision is not None and d.revision.pending})
    billed = billed_months(tariff, as_of, issued_months, nets, drafts, usage)
    folder = contracts.registry.path.parent
    commitments = load_commitments(folder, contracts.registry) if (folder / COMMITMENTS_FILE).exists() else {}
    counted = sorted({b.month for b in billed})
    # issued, or metered (usage above keeps only the registry's establishments: a month may be metered, not counted)
    known_months = set(issued_months) | set(map(Month.parse, metering.metered_months(con)))
    return GovernanceReport(
        as_of,
        validity(tariff, as_of),
        ceiling_use(tariff, as_of, billed),
        commitment_use(tariff, contracts.registry, commitments, as_of, billed),
        counted,
        drafted,
        pending,
        [m for m in months if counted and counted[0] < m < counted[-1] and m not in known_months],
    )


# ---- scoped views --------------------------------------------------------------------------------------------------


def validity_table(report: GovernanceReport, viewer: Viewer) -> pl.DataFrame:
    """Everyone may see the agreement's dates."""
    return pl.DataFrame([{k: v for k, v in asdict(report.validity).items()}])


def ceiling_table(report: GovernanceReport, viewer: Viewer) -> pl.DataFrame:
    """gcs/finance: amount and volumes; ars/operator: volumes only; an establishment: refused (programme-wide)."""
    if viewer.kind == "establishment":
        raise Forbidden(f"{viewer.name} ({viewer.role}) may not see the agreement's ceiling")
    rows = [u for u in report.ceiling if u.measure != "amount" or viewer.kind in MONEY_ROLES]
    schema = {
        "measure": pl.String,
        "ceiling": pl.Float64,
        "consumed": pl.Float64,
        "share": pl.Float64,
        "monthly_rate": pl.Float64,
        "months_remaining": pl.Int64,
        "projected": pl.Float64,
        "projected_share": pl.Float64,
    }
    return pl.DataFrame(
        [{k: (float(v) if isinstance(v, Decimal) else v) for k, v in asdict(u).items() if k in schema} for u in rows],
        schema=schema,
    )


def commitment_table(report: GovernanceReport, viewer: Viewer) -> pl.DataFrame:
    """One row per committed establishment the viewer may see; money columns only for gcs/finance and an
    establishment's own row; refused to ars (establishment-level contract figures)."""
    if viewer.kind == "ars":
        raise Forbidden(f"{viewer.name} ({viewer.role}) may not see the establishments' commitments")
    money = viewer.kind in MONEY_ROLES or viewer.kind == "establishment"
    rows = [c for c in report.commitments if viewer.scope in (None, c.establishment_id)]
    columns = [
        "establishment_id",
        "months_live",
        "committed_studies",
        "expected_studies",
        "actual_studies",
        "studies_share",
        "projected_studies",
        "status",
    ]
    if money:
        columns[7:7] = ["committed_amount", "expected_amount", "actual_amount", "amount_share", "projected_amount"]
    schema = {
        c: pl.String if c in ("establishment_id", "status") else pl.Int64 if c == "months_live" else pl.Float64
        for c in columns
    }
    data = []
    for c in rows:
        row = asdict(c)
        data.append({k: (float(row[k]) if isinstance(row[k], Decimal) else row[k]) for k in columns})
    return pl.DataFrame(data, schema=schema)


def horizon_as_of(con: duckdb.DuckDBPyConnection) -> date:
    """The dashboards' report date: the day after the data horizon, so that its last month counts once complete."""
    return as_of(con) + timedelta(days=1)


def scoped_tables(report: GovernanceReport, viewer: Viewer) -> dict[str, pl.DataFrame | None]:
    """The three tables of the dashboard section for a viewer; None for a table the viewer may not see."""
    tables: dict[str, pl.DataFrame | None] = {"validity": validity_table(report, viewer)}
    for name, table in (("ceiling", ceiling_table), ("commitments", commitment_table)):
        try:
            tables[name] = table(report, viewer)
        except Forbidden:
            tables[name] = None
    return tables


def report_dict(report: GovernanceReport) -> dict[str, object]:
    """The JSON of `sansfilm governance` (unscoped: the CLI is for the GCS and finance); decimals as strings."""

    def plain(value: object) -> object:
        if isinstance(value, Decimal):
            return decimal_text(value)
        if isinstance(value, date | Month):
            return value.isoformat() if isinstance(value, date) else str(value)
        return value

    def record(obj: object) -> dict[str, object]:
        return {k: plain(v) for k, v in asdict(obj).items()}

    return {
        "as_of": report.as_of.isoformat(),
        "validity": record(report.validity),
        "ceiling": [record(u) for u in report.ceiling],
        "commitments": [record(c) for c in report.commitments],
        "months_counted": [str(m) for m in report.months_counted],
        "drafted_months": [str(m) for m in report.drafted_months],
        "revision_pending_months": [str(m) for m in report.revision_pending],
        "commitments_file": COMMITMENTS_FILE,
        "months_not_metered": [str(m) for m in report.not_metered],
    }


__all__ = [
    "Billed",
    "GovernanceReport",
    "build_report",
    "ceiling_table",
    "commitment_table",
    "horizon_as_of",
    "report_dict",
    "scoped_tables",
    "validity_table",
]
