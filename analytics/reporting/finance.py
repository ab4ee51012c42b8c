"""Invoices for the dashboards: drafts computed from the published usage, issued ones read from the ledger.

Money is for `finance`, `gcs` and an establishment's own invoices only: `ars` and `operator` get Forbidden. Drafts
are computed by the function behind `sansfilm bill --month M` (`service.month_invoices`) from the published usage
and the issued invoices of the ledger, so the month to issue next carries the same regularisation lines as the CLI
preview. Later draft months carry none: issuing months in order puts them on the next one only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
from sqlalchemy import select

from analytics.billing import ledger as ledger_tables
from analytics.billing.contracts import Contracts
from analytics.billing.credits import recorded_credit_lines
from analytics.billing.export import line_rows
from analytics.billing.ledger import Ledger, not_created_yet, reading, require_ledger_folder
from analytics.billing.model import Invoice
from analytics.billing.regularisation import Credited, line_credits
from analytics.billing.service import agreement_months, month_invoices
from analytics.metering import storage_gb_month
from analytics.metrics import METRICS, decimal_text
from analytics.periods import Month
from analytics.reporting.programme import usage_monthly
from analytics.reporting.scope import Filters, Forbidden, Viewer, query

INVOICE_SCHEMA = {
    "status": pl.String,
    "month": pl.String,
    "number": pl.String,
    "establishment_id": pl.String,
    "offer": pl.String,
    "active_days": pl.Int64,
    "net": pl.Decimal(18, 2),
    "vat": pl.Decimal(18, 2),
    "gross": pl.Decimal(18, 2),
    "issue_date": pl.Date,
}


def _require_money(viewer: Viewer) -> None:
    if not viewer.sees_money:
        raise Forbidden(f"{viewer.name} ({viewer.role}) may not see invoice amounts")


def scoped_usage(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters
) -> dict[Month, dict[str, dict[str, Decimal]]]:
    """Month -> establishment -> metric, exact, as `metering.monthly_usage` gives it, limited to the viewer's scope."""
    usage: dict[Month, dict[str, dict[str, Decimal]]] = {}
    for row in usage_monthly(con, viewer, filters).iter_rows(named=True):
        month = Month.parse(row["month"])
        metrics = {m: Decimal(row[m]) for m in METRICS if m != "storage_gb_month"}
        metrics["storage_gb_month"] = storage_gb_month(Decimal(row["stored_byte_days"]), month.days)
        usage.setdefault(month, {})[row["establishment_id"]] = {m: metrics[m] for m in METRICS}
    return usage


# what a reader cannot do without the ledger a [ledger] url names in a folder that does not exist
UNREACHABLE = "cannot tell which months were issued"


@contextmanager
def _issued(ledger_url: str) -> Iterator[Ledger | None]:
    """The ledger, read-only; None when none was created yet (nothing issued). One whose folder does not exist is no
    empty ledger: refused (LedgerUnreachable), or the pages and `simulate` would take issued months for drafts."""
    if not_created_yet(ledger_url, UNREACHABLE):
        yield None
        return
    ledger = Ledger(ledger_url, read_only=True)
    try:
        yield ledger
    finally:
        ledger.dispose()


def _ledger_rows(ledger_url: str, stmt) -> list:  # noqa: ANN001 - a SQLAlchemy select
    """The rows `stmt` selects from the ledger; none from a ledger not created yet (refused when out of reach)."""
    require_ledger_folder(ledger_url, UNREACHABLE)
    with reading(ledger_url) as conn:
        return [] if conn is None else conn.execute(stmt).all()


def issued_month_list(ledger_url: str) -> list[str]:
    """The issued months (no amounts, no establishment): what the drafts' regularisations depend on."""
    with _issued(ledger_url) as ledger:
        return [] if ledger is None else [str(m) for m in ledger.issued_months()]


def issued_for_regularisation(ledger_url: str, establishments: set[str]) -> dict[Month, list[Invoice]]:
    """Every issued month with its invoices to these establishments (what regularisations are computed against)."""
    with _issued(ledger_url) as ledger:
        if ledger is None:
            return {}
        return {
            m: [i for i in ledger.invoices_for_month(m) if i.establishment_id in establishments]
            for m in ledger.issued_months()
        }


def credited_for_regularisation(ledger_url: str) -> Credited:
    """What credit notes took off the issued invoices' lines (netted out of the regularisations)."""
    with _issued(ledger_url) as ledger:
        return {} if ledger is None else line_credits(ledger)


def draft_invoices(
    con: duckdb.DuckDBPyConnection, contracts: Contracts, viewer: Viewer, filters: Filters, ledger_url: str
) -> list[Invoice]:
    """Draft invoices of the months in the filter (inside the framework agreement), for the establishments in the
    viewer's scope; the month after the last issued one includes the pending regularisation lines, and each month the
    credits of the previous month's service-level breaches (as last assessed, from the published mart)."""
    _require_money(viewer)
    establishments = set(query(con, "scoped_establishments", viewer, filters)["establishment_id"])
    issued = issued_for_regularisation(ledger_url, establishments)
    credited = credited_for_regularisation(ledger_url) if issued else {}
    next_month = max(issued).next() if issued else None
    usage = scoped_usage(con, viewer, filters)
    months = agreement_months(contracts, sorted(usage))
    if issued and next_month in usage:  # its regularisations need the usage of every issued month, as metered now
        usage |= scoped_usage(con, viewer, replace(filters, first_month=str(min(issued)), last_month=str(max(issued))))
        for month in issued:
            usage.setdefault(month, {})
    drafts: list[Invoice] = []
    one = viewer.scope or filters.establishment
    for month in months:
        credits = recorded_credit_lines(con, month, contracts.tariff.currency, one)  # service-level breaches of M-1
        earlier = issued if month == next_month else {}
        drafts += month_invoices(contracts, month, usage, earlier, establishments, extra=credits, credited=credited)
    return drafts


def issued_invoices(ledger_url: str, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    _require_money(viewer)
    inv = ledger_tables.invoice
    stmt = (
        select(inv)
        .where(inv.c.month >= (filters.first_month or "0000-00"), inv.c.month <= (filters.last_month or "9999-99"))
        .order_by(inv.c.seq)
    )
    if viewer.scope is not None:
        stmt = stmt.where(inv.c.establishment_id == viewer.scope)
    if filters.establishment:
        stmt = stmt.where(inv.c.establishment_id == filters.establishment)
    rows = _ledger_rows(ledger_url, stmt)
    return pl.DataFrame(
        [
            {
                "status": "émise",
                "month": r.month,
                "number": r.number,
                "establishment_id": r.establishment_id,
                "offer": r.offer,
                "active_days": r.active_days,
                "net": r.net,
                "vat": r.vat,
                "gross": r.gross,
                "issue_date": r.issue_date,
            }
            for r in rows
        ],
        schema=INVOICE_SCHEMA,
    )


def issued_lines(ledger_url: str, viewer: Viewer, number: str) -> pl.DataFrame:
    """The lines of one issued invoice, if the viewer may see that invoice (else no rows)."""
    _require_money(viewer)
    schema = {
        "position": pl.Int64,
        "code": pl.String,
        "description": pl.String,
        "metric": pl.String,
        "quantity": pl.String,
        "unit_price": pl.String,
        "amount": pl.String,
        "reference": pl.String,
    }
    inv, line = ledger_tables.invoice, ledger_tables.invoice_line
    stmt = (
        select(line)
        .join(inv, inv.c.number == line.c.invoice_number)
        .where(line.c.invoice_number == number)
        .order_by(line.c.position)
    )
    if viewer.scope is not None:
        stmt = stmt.where(inv.c.establishment_id == viewer.scope)
    rows = _ledger_rows(ledger_url, stmt)
    return pl.DataFrame(
        [
            {
                k: decimal_text(getattr(r, k)) if k in ("quantity", "unit_price", "amount") else getattr(r, k)
                for k in schema
            }
            for r in rows
        ],
        schema=schema,
    )


def draft_table(drafts: list[Invoice]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "status": "brouillon",
                "month": str(d.month),
                "number": None,
                "establishment_id": d.establishment_id,
                "offer": d.offer,
                "active_days": d.active_days,
                "net": d.net,
                "vat": d.vat,
                "gross": d.gross,
                "issue_date": None,
            }
            for d in drafts
        ],
        schema=INVOICE_SCHEMA,
    )


LINE_SCHEMA = {
    "month": pl.String,
    "number": pl.String,
    "establishment_id": pl.String,
    "offer": pl.String,
    "active_days": pl.Int64,
    "code": pl.String,
    "description": pl.String,
    "metric": pl.String,
    "quantity": pl.String,
    "unit_price": pl.String,
    "amount": pl.String,
    "reference": pl.String,
}


def draft_lines(drafts: list[Invoice]) -> pl.DataFrame:
    """Every line of these drafts as the CSV export writes it (exact amounts as text), numbered per invoice. A frame,
    not the invoices, is what the dashboards cache: a year of a 500-site region unpickles 10 x faster."""
    rows = [row for d in drafts for row in line_rows(d.month, [d])]
    return pl.DataFrame(rows, schema=LINE_SCHEMA).with_columns(
        position=pl.int_range(1, pl.len() + 1).over("month", "establishment_id")
    )


def monthly_totals(invoices: pl.DataFrame) -> pl.DataFrame:
    """Net per month and status, with the month-over-month change of the net."""
    if invoices.is_empty():
        return pl.DataFrame(
            schema={
                "month": pl.String,
                "status": pl.String,
                "invoices": pl.UInt32,
                "net": pl.Float64,
                "mom": pl.Float64,
            }
        )
    return (
        invoices.group_by("month", "status")
        .agg(invoices=pl.len(), net=pl.col("net").sum().cast(pl.Float64))
        .sort("status", "month")
        .with_columns(mom=pl.col("net").pct_change().over("status"))
        .sort("month", "status")
    )  # fmt: skip  chronological, whatever order drafts and issued months came in


def invoice_documents(out_dir: Path, viewer: Viewer, ledger_url: str, number: str) -> dict[str, Path]:
    """PDF (Factur-X), XML (CII) and CSV of an issued invoice the viewer may see, as written under out_dir."""
    found = issued_invoices(ledger_url, viewer, Filters()).filter(pl.col("number") == number)
    if found.is_empty():
        return {}
    folder = out_dir / found["month"][0]
    return {
        kind: folder / f"{number}.{kind}" for kind in ("pdf", "xml", "csv") if (folder / f"{number}.{kind}").exists()
    }
