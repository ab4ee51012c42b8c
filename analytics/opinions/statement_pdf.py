"""The settlement statement files: CSV, and a PDF (French labels) showing the month per pair, then who owes whom.
Not an invoice: no number, no VAT, no seller; reproducible byte for byte (reportlab's invariant mode)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from analytics.billing.documents import french_number
from analytics.opinions.settlement import SettlementLine, to_csv
from analytics.periods import Month

if TYPE_CHECKING:
    from analytics.opinions.facts import PairMonth

_BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=9, leading=11.5)
_TITLE = ParagraphStyle("title", parent=_BASE, fontName="Helvetica-Bold", fontSize=15, leading=19)
_HEADING = ParagraphStyle("heading", parent=_BASE, fontName="Helvetica-Bold", fontSize=10.5, spaceBefore=8)
_GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
    ]
)


def _minutes(value: int | None) -> str:
    return "-" if value is None else f"{value} min"


def render_pdf(month: Month, pairs: list[PairMonth], lines: list[SettlementLine], names: dict[str, str]) -> bytes:
    def who(finess: str) -> str:
        return f"{names.get(finess, finess)} ({finess})"

    story = [
        Paragraph(escape(f"Relevé de compensation des télé-avis - {month}"), _TITLE),
        Paragraph(
            "Avis entre établissements du pilote, réglés directement entre eux : ce relevé n'est pas une facture du"
            " GCS et ne figure pas dans sa numérotation.",
            _BASE,
        ),
        Paragraph("Demandes par couple", _HEADING),
    ]
    rows = [["Demandeur", "Répondant", "Demandes", "Répondues", "Sans réponse", "Astreinte", "Délai médian"]]
    rows += [
        [who(p.requester), who(p.responder), p.requests, p.answered, p.unanswered, p.on_call,
         _minutes(p.turnaround_p50_minutes)]
        for p in pairs
    ]  # fmt: skip
    story += [Table(rows, repeatRows=1, style=_GRID), Spacer(1, 4 * mm), Paragraph("Soldes nets", _HEADING)]
    if lines:
        balance = [["Débiteur", "Créancier", "Montant (EUR)"]]
        balance += [[who(x.debtor), who(x.creditor), french_number(x.amount)] for x in lines]
        story.append(Table(balance, repeatRows=1, style=_GRID))
    else:
        story.append(Paragraph("Aucun solde à régler ce mois-ci.", _BASE))
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, title=f"Télé-avis {month}", invariant=True
    ).build(story)
    return buffer.getvalue()


def write_statement(
    out_dir: Path, month: Month, pairs: list[PairMonth], lines: list[SettlementLine], names: dict[str, str]
) -> tuple[Path, Path]:
    """`settlements/opinions-YYYY-MM.csv` and `.pdf` under `out_dir`; rewritten on each run (a statement, not an
    invoice: it has no number and never enters the ledger)."""
    folder = Path(out_dir) / "settlements"
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"opinions-{month}.csv"
    pdf_path = folder / f"opinions-{month}.pdf"
    _atomic_write(csv_path, to_csv(month, lines).encode("utf-8"))
    _atomic_write(pdf_path, render_pdf(month, pairs, lines, names))
    return csv_path, pdf_path


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
