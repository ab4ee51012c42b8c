"""Invoices as data: the JSON shape of `sansfilm bill`, the CSV of lines, and draft previews on disk."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from analytics.billing.french import french_month, french_number
from analytics.billing.model import IndexPoint, Invoice, PriceRevision
from analytics.metrics import decimal_text
from analytics.periods import Month


def invoice_dict(invoice: Invoice) -> dict[str, object]:
    data: dict[str, object] = {
        "establishment_id": invoice.establishment_id,
        "offer": invoice.offer,
        "active_days": invoice.active_days,
        "lines": [
            {
                "code": l.code,
                "description": l.description,
                "metric": l.metric,
                "quantity": decimal_text(l.quantity),
                "unit_price": decimal_text(l.unit_price),
                "amount": decimal_text(l.amount),
                "reference": l.reference,
            }
            for l in invoice.lines
        ],
        "net": decimal_text(invoice.net),
        "vat": decimal_text(invoice.vat),
        "gross": decimal_text(invoice.gross),
        "revision": revision_dict(invoice.revision),  # added key: the price revision (null before the first one)
    }
    if invoice.number:
        data["number"] = invoice.number
        data["issue_date"] = invoice.issue_date.isoformat() if invoice.issue_date else None
    return data


def describe(revision: PriceRevision) -> str:
    """The revision in one French sentence, as printed on the invoice (PDF, XML note)."""
    c = french_number(revision.coefficient)
    formula = f"{french_number(revision.a)} + {french_number(revision.b)} × I / I0"
    since = revision.anniversary.strftime("%d/%m/%Y")
    if revision.pending or revision.current is None or revision.base is None:
        return (
            f"Révision annuelle des prix au {since} en attente de l'indice {revision.index} : prix provisoires au "
            f"coefficient {c}."
        )
    return (
        f"Prix révisés au {since} (révision annuelle, P = P0 × ({formula})) : coefficient {c}, avec I = indice "
        f"{revision.index} {_of(revision.current.period)} = {french_number(revision.current.value)} (publié le "
        f"{revision.current.published_on:%d/%m/%Y}) et I0 = indice {revision.index} {_of(revision.base.period)} "
        f"= {french_number(revision.base.value)} (publié le {revision.base.published_on:%d/%m/%Y})."
    )


def revision_dict(revision: PriceRevision | None) -> dict[str, object] | None:
    """The revision as JSON-ready data (decimals as strings), for `sansfilm bill --format json` and the drafts."""
    if revision is None:
        return None

    def point(p: IndexPoint | None) -> dict[str, str] | None:
        return (
            None
            if p is None
            else {"period": str(p.period), "value": decimal_text(p.value), "published_on": p.published_on.isoformat()}
        )

    return {
        "status": "pending" if revision.pending else "applied",
        "index": revision.index,
        "coefficient": decimal_text(revision.coefficient),
        "a": decimal_text(revision.a),
        "b": decimal_text(revision.b),
        "anniversary": revision.anniversary.isoformat(),
        "current": point(revision.current),
        "base": point(revision.base),
        "pending": revision.pending,
    }


def _of(month: Month) -> str:
    """'de janvier 2012', 'd'octobre 2009': French elides 'de' before a vowel."""
    name = french_month(month)
    return f"d'{name}" if name[0] in "aeiouy" else f"de {name}"


def to_csv(rows: list[dict[str, object]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: decimal_text(v) if isinstance(v, Decimal) else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def write_drafts(out: Path, month: Month, invoices: list[Invoice]) -> Path:
    """Draft invoices of a month as JSON and CSV under <out>/drafts/<month>/ (previews: no number, no ledger)."""
    folder = out / "drafts" / str(month)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "invoices.json").write_text(
        json.dumps(
            {"month": str(month), "invoices": [invoice_dict(i) for i in invoices]}, indent=2, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    (folder / "invoice_lines.csv").write_text(to_csv(line_rows(month, invoices), LINE_COLUMNS), encoding="utf-8")
    return folder


LINE_COLUMNS = [
    "month",
    "number",
    "establishment_id",
    "offer",
    "active_days",
    "code",
    "description",
    "metric",
    "quantity",
    "unit_price",
    "amount",
    "reference",
    "revision_coefficient",
]


def line_rows(month: Month, invoices: list[Invoice]) -> list[dict[str, object]]:
    return [
        {
            "month": str(month),
            "number": i.number or "",
            "establishment_id": i.establishment_id,
            "offer": i.offer,
            "active_days": i.active_days,
            "code": l.code,
            "description": l.description,
            "metric": l.metric or "",
            "quantity": decimal_text(l.quantity),
            "unit_price": decimal_text(l.unit_price),
            "amount": decimal_text(l.amount),
            "reference": l.reference or "",
            "revision_coefficient": decimal_text(i.revision.coefficient) if i.revision else "",
        }
        for i in invoices
        for l in i.lines
    ]
