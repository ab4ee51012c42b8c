"""Invoices for the dashboards: drafts computed from the published usage, issued ones read from the ledger.

Money is for `finance`, `gcs` and an establishment's own invoices only: `ars` and `operator` get Forbidden. Drafts
are computed with the billing rules (`service.draft_month`) from the published usage marts; they carry no
regularisation lines (those need the ledger and a fresh metering: `sansfilm bill --month M` shows them).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
from sqlalchemy import create_engine, select

from analytics.billing import ledger as ledger_tables
from analytics.billing.model import METRICS, Invoice, Month
from analytics.billing.service import Contracts, draft_month
from analytics.metering import storage_gb_month
from analytics.reporting.programme import usage_monthly
from analytics.reporting.scope import Filters, Forbidden, Viewer

INVOICE_SCHEMA = {
    "status": pl.String, "month": pl.String, "number": pl.String, "establishment_id": pl.String, "offer": pl.String,
    "active_days": pl.Int64, "net": pl.Decimal(18, 2), "vat": pl.Decimal(18, 2), "gross": pl.Decimal(18, 2),
    "issue_date": pl.Date,
}  # fmt: skip


def _require_money(viewer: Viewer) -> None:
    if not viewer.sees_money:
        raise Forbidden(f"{viewer.name} ({viewer.role}) may not see invoice amounts")


def scoped_usage(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters) -> dict[Month, dict[str, dict[str, Decimal]]]:
    """Month -> establishment -> metric, exact, as `metering.monthly_usage` gives it, limited to the viewer's scope."""
    usage: dict[Month, dict[str, dict[str, Decimal]]] = {}
    for row in usage_monthly(con, viewer, filters).iter_rows(named=True):
        month = Month.parse(row["month"])
        metrics = {m: Decimal(row[m]) for m in METRICS if m != "storage_gb_month"}
        metrics["storage_gb_month"] = storage_gb_month(Decimal(row["stored_byte_days"]), month.days)
        usage.setdefault(month, {})[row["establishment_id"]] = {m: metrics[m] for m in METRICS}
    return usage


def draft_invoices(con: duckdb.DuckDBPyConnection, contracts: Contracts, viewer: Viewer, filters: Filters) -> list[Invoice]:
    """Draft invoices of the months in the filter (inside the framework agreement), for the viewer's scope."""
    _require_money(viewer)
    usage = scoped_usage(con, viewer, filters)
    tariff = contracts.tariff
    only = viewer.scope or filters.establishment
    drafts: list[Invoice] = []
    for month in sorted(usage):
        if not (tariff.valid_from <= month.first_day and month.last_day <= tariff.valid_to):
            continue
        drafts += [d for d in draft_month(contracts, month, usage[month], establishment_id=only)
                   if d.establishment_id in usage[month] or viewer.scope is None]  # fmt: skip
    return [d for d in drafts if viewer.scope in (None, d.establishment_id)]


def _ledger_engine(url: str):
    """None when the ledger does not exist yet (nothing issued): reading must not create it."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    return create_engine(url)


def issued_invoices(ledger_url: str, viewer: Viewer, filters: Filters) -> pl.DataFrame:
    _require_money(viewer)
    engine = _ledger_engine(ledger_url)
    if engine is None:
        return pl.DataFrame(schema=INVOICE_SCHEMA)
    inv = ledger_tables.invoice
    stmt = select(inv).where(inv.c.month >= (filters.first_month or "0000-00"),
                             inv.c.month <= (filters.last_month or "9999-99")).order_by(inv.c.seq)  # fmt: skip
    if viewer.scope is not None:
        stmt = stmt.where(inv.c.establishment_id == viewer.scope)
    if filters.establishment:
        stmt = stmt.where(inv.c.establishment_id == filters.establishment)
    try:
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    finally:
        engine.dispose()
    return pl.DataFrame(
        [{"status": "émise", "month": r.month, "number": r.number, "establishment_id": r.establishment_id,
          "offer": r.offer, "active_days": r.active_days, "net": r.net, "vat": r.vat, "gross": r.gross,
          "issue_date": r.issue_date} for r in rows],
        schema=INVOICE_SCHEMA,
    )  # fmt: skip


def issued_lines(ledger_url: str, viewer: Viewer, number: str) -> pl.DataFrame:
    """The lines of one issued invoice, if the viewer may see that invoice (else no rows)."""
    _require_money(viewer)
    schema = {"position": pl.Int64, "code": pl.String, "description": pl.String, "metric": pl.String,
              "quantity": pl.String, "unit_price": pl.String, "amount": pl.String, "reference": pl.String}  # fmt: skip
    engine = _ledger_engine(ledger_url)
    if engine is None:
        return pl.DataFrame(schema=schema)
    inv, line = ledger_tables.invoice, ledger_tables.invoice_line
    stmt = (select(line).join(inv, inv.c.number == line.c.invoice_number)
            .where(line.c.invoice_number == number).order_by(line.c.position))  # fmt: skip
    if viewer.scope is not None:
        stmt = stmt.where(inv.c.establishment_id == viewer.scope)
    try:
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    finally:
        engine.dispose()
    return pl.DataFrame([{k: (str(getattr(r, k)) if k in ("quantity", "unit_price", "amount") else getattr(r, k))
                          for k in schema} for r in rows], schema=schema)  # fmt: skip


def draft_table(drafts: list[Invoice]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"status": "brouillon", "month": str(d.month), "number": None, "establishment_id": d.establishment_id,
          "offer": d.offer, "active_days": d.active_days, "net": d.net, "vat": d.vat, "gross": d.gross,
          "issue_date": None} for d in drafts],
        schema=INVOICE_SCHEMA,
    )  # fmt: skip


def line_table(invoice: Invoice) -> pl.DataFrame:
    return pl.DataFrame(
        [{"position": i, "code": l.code, "description": l.description, "metric": l.metric, "quantity": str(l.quantity),
          "unit_price": str(l.unit_price), "amount": str(l.amount), "reference": l.reference}
         for i, l in enumerate(invoice.lines, start=1)],
        schema={"position": pl.Int64, "code": pl.String, "description": pl.String, "metric": pl.String,
                "quantity": pl.String, "unit_price": pl.String, "amount": pl.String, "reference": pl.String},
    )  # fmt: skip


def monthly_totals(invoices: pl.DataFrame) -> pl.DataFrame:
    """Net per month and status, with the month-over-month change of the net."""
    if invoices.is_empty():
        return pl.DataFrame(schema={"month": pl.String, "status": pl.String, "invoices": pl.UInt32,
                                    "net": pl.Float64, "mom": pl.Float64})  # fmt: skip
    return (invoices.group_by("month", "status").agg(invoices=pl.len(), net=pl.col("net").sum().cast(pl.Float64))
            .sort("status", "month")
            .with_columns(mom=pl.col("net").pct_change().over("status")))  # fmt: skip


def invoice_documents(out_dir: Path, viewer: Viewer, ledger_url: str, number: str) -> dict[str, Path]:
    """PDF (Factur-X), XML (CII) and CSV of an issued invoice the viewer may see, as written under out_dir."""
    found = issued_invoices(ledger_url, viewer, Filters()).filter(pl.col("number") == number)
    if found.is_empty():
        return {}
    folder = out_dir / found["month"][0]
    return {kind: folder / f"{number}.{kind}" for kind in ("pdf", "xml", "csv") if (folder / f"{number}.{kind}").exists()}
