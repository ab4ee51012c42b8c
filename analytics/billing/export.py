"""Invoices as data: the JSON shape of `sansfilm bill`, the CSV of lines, and draft previews on disk."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from analytics.billing.model import Invoice, Month


def invoice_dict(invoice: Invoice) -> dict[str, object]:
    data: dict[str, object] = {
        "establishment_id": invoice.establishment_id,
        "offer": invoice.offer,
        "active_days": invoice.active_days,
        "lines": [
            {"code": l.code, "description": l.description, "metric": l.metric, "quantity": str(l.quantity),
             "unit_price": str(l.unit_price), "amount": str(l.amount), "reference": l.reference}
            for l in invoice.lines
        ],
        "net": str(invoice.net),
        "vat": str(invoice.vat),
        "gross": str(invoice.gross),
    }  # fmt: skip
    if invoice.number:
        data["number"] = invoice.number
        data["issue_date"] = invoice.issue_date.isoformat() if invoice.issue_date else None
    return data


def to_csv(rows: list[dict[str, object]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_drafts(out: Path, month: Month, invoices: list[Invoice]) -> Path:
    """Draft invoices of a month as JSON and CSV under <out>/drafts/<month>/ (previews: no number, no ledger)."""
    folder = out / "drafts" / str(month)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "invoices.json").write_text(json.dumps({"month": str(month), "invoices": [invoice_dict(i) for i in invoices]},
                                                     indent=2, ensure_ascii=False), encoding="utf-8")  # fmt: skip
    (folder / "invoice_lines.csv").write_text(to_csv(line_rows(month, invoices), LINE_COLUMNS), encoding="utf-8")
    return folder


LINE_COLUMNS = ["month", "number", "establishment_id", "offer", "active_days", "code", "description", "metric",
                "quantity", "unit_price", "amount", "reference"]  # fmt: skip


def line_rows(month: Month, invoices: list[Invoice]) -> list[dict[str, object]]:
    return [
        {"month": str(month), "number": i.number or "", "establishment_id": i.establishment_id, "offer": i.offer,
         "active_days": i.active_days, "code": l.code, "description": l.description, "metric": l.metric or "",
         "quantity": str(l.quantity), "unit_price": str(l.unit_price), "amount": str(l.amount),
         "reference": l.reference or ""}
        for i in invoices for l in i.lines
    ]  # fmt: skip
