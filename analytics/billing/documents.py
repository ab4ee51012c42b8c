"""The documents of an issued invoice: a readable Factur-X PDF (PDF/A-3 with its CII XML), a CSV of lines, the XML.

The XML is checked (XSD, then the EN 16931 Schematron, offline: see `cii_check`) before anything is written, and
every file is written atomically, so a folder never holds a half-written or an invalid e-invoice.
Figures are the ledger's Decimals, printed exactly (French notation in the PDF, plain notation in the CSV).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import facturx
import facturx.facturx as facturx_module
import reportlab
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject, TextStringObject
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from analytics.billing.cii import (
    CREDIT_PREFIX,
    LEGAL_NOTES,
    EInvoiceError,
    due_date,
    invoice_cii_xml,
    is_credit_note,
    payment_terms,
)
from analytics.billing.cii_check import check_einvoice
from analytics.billing.export import describe
from analytics.billing.model import Invoice, Party
from analytics.metrics import METRICS, decimal_text
from analytics.periods import PARIS

__all__ = [
    "CSV_COLUMNS",
    "EInvoiceError",
    "check_einvoice",
    "facturx_pdf",
    "invoice_cii_xml",
    "invoice_csv",
    "invoice_pdf",
    "render_documents",
    "sha256_of",
    "write_documents",
]

CSV_COLUMNS = (
    "invoice_number",
    "establishment_id",
    "month",
    "code",
    "description",
    "metric",
    "quantity",
    "unit_price",
    "amount",
    "reference",
    "revision_coefficient",
    "revision_index",
    "index_period",
    "index_value",
    "index_published_on",
    "base_index_period",
    "base_index_value",
    "base_index_published_on",
)

METRIC_LABELS = {
    "studies_archived": "Examens archivés",
    "instances_archived": "Instances archivées",
    "bytes_archived": "Volume archivé",
    "storage_gb_month": "Stockage moyen (Go·mois)",
    "retrievals": "Récupérations",
    "shares": "Partages",
    "views": "Consultations",
    "opinions": "Télé-avis rendus",
    "opinions_on_call": "Télé-avis en astreinte",
    "portal_views": "Consultations portail ville",
    "portal_practitioners": "Médecins du portail",
}


def invoice_csv(invoice: Invoice) -> str:
    """One row per line, decimals in plain notation so that Decimal(text) gives back the ledger's value."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    revision = _revision_cells(invoice)
    for line in invoice.lines:
        writer.writerow(
            [
                invoice.number or "",
                invoice.establishment_id,
                str(invoice.month),
                line.code,
                line.description,
                line.metric or "",
                decimal_text(line.quantity),
                decimal_text(line.unit_price),
                decimal_text(line.amount),
                line.reference or "",
                *revision,
            ]
        )
    return buffer.getvalue()


def _revision_cells(invoice: Invoice) -> list[str]:
    """The price revision's columns, the same on every row (empty before the first anniversary)."""
    r = invoice.revision
    if r is None or r.current is None or r.base is None:
        return [""] * 8
    return [
        decimal_text(r.coefficient),
        r.index,
        str(r.current.period),
        decimal_text(r.current.value),
        r.current.published_on.isoformat(),
        str(r.base.period),
        decimal_text(r.base.value),
        r.base.published_on.isoformat(),
    ]


# --- the readable PDF --------------------------------------------------------------------------------------------

FONT, FONT_BOLD = "SansfilmVera", "SansfilmVera-Bold"
NBSP = "\u00a0"


def _register_fonts() -> None:
    """Embedded TrueType fonts (Bitstream Vera, shipped with reportlab): PDF/A forbids non-embedded fonts."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(folder / "VeraBd.ttf")))


def french_number(value: Decimal) -> str:
    """Exact French notation: every digit kept, thousands grouped by a no-break space, decimal comma."""
    text = format(abs(value), "f")
    whole, _, fraction = text.partition(".")
    groups = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    grouped = NBSP.join([whole, *groups])
    return ("-" if value < 0 else "") + grouped + ("," + fraction if fraction else "")


def _percent(rate: Decimal) -> str:
    return french_number((rate * 100).normalize()) + NBSP + "%"


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=11.5)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=16, leading=20),
        "heading": ParagraphStyle(
            "heading", parent=base, fontName=FONT_BOLD, fontSize=10.5, leading=14, spaceBefore=8, spaceAfter=3
        ),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=10.5),
        "number": ParagraphStyle("number", parent=base, fontSize=8.5, leading=10.5, alignment=TA_RIGHT, wordWrap="CJK"),
    }


def _party_block(title: str, party: Party, extra: list[str], styles: dict[str, ParagraphStyle]) -> Paragraph:
    lines = [f"<font name='{FONT_BOLD}'>{escape(text)}</font>" for text in (title, party.name)]
    lines += [escape(line) for line in party.address if line.strip()]
    if party.postcode or party.city:
        lines.append(escape(" ".join(p for p in (party.postcode, party.city) if p) + f" ({party.country})"))
    if party.siret:
        lines.append(f"SIRET : {escape(party.siret)}")
    lines += [escape(text) for text in extra]
    if party.vat_id:
        lines.append(f"N° TVA intracommunautaire : {escape(party.vat_id)}")
    return Paragraph("<br/>".join(lines), styles["base"])


def _grid(data: list, widths: list[float], *, header: bool = True) -> Table:
    """A ruled table. With a header: the header repeats on every page the table spans, columns after the first
    (figures) align right."""
    table = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#BBBBBB")),
    ]
    if header:
        style += [
            ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
        ]
    table.setStyle(TableStyle(style))
    return table


def _usage_rows(invoice: Invoice, styles: dict[str, ParagraphStyle]) -> list[list]:
    rows: list[list] = [["Mesure", "Quantité"]]
    ordered = [m for m in METRICS if m in invoice.usage] + sorted(m for m in invoice.usage if m not in METRICS)
    for metric in ordered:
        value = invoice.usage[metric]
        text = french_number(value)
        if metric == "bytes_archived":
            text = f"{text} octets ({french_number(value.scaleb(-9))} Go)"
        elif metric == "storage_gb_month":
            text = f"{text} Go"
        rows.append(
            [
                Paragraph(escape(METRIC_LABELS.get(metric, metric)), styles["cell"]),
                Paragraph(escape(text), styles["number"]),
            ]
        )
    return rows


def _story(invoice: Invoice, seller: Party, buyer: Party, establishment_name: str) -> list:
    styles = _styles()
    currency = invoice.currency
    kind = "Avoir" if is_credit_note(invoice) else "Facture"
    heading = f"{kind} N° {escape(invoice.number or '(brouillon)')}"
    story: list = [Paragraph(heading, styles["title"]), Spacer(0, 4 * mm)]
    buyer_extra = [f"FINESS : {buyer.finess}"] if buyer.finess else []
    parties = Table(
        [[_party_block("Vendeur", seller, [], styles), _party_block("Acheteur", buyer, buyer_extra, styles)]],
        colWidths=[88 * mm, 88 * mm],
    )
    parties.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    story += [parties, Spacer(0, 4 * mm)]

    facts = [
        ["Numéro", invoice.number or "(brouillon)"],
        ["Date d'émission", _day(invoice.issue_date) if invoice.issue_date else "(non émise)"],
        ["Période", f"du {_day(invoice.month.first_day)} au {_day(invoice.month.last_day)}"],
        ["Établissement", f"{establishment_name} (FINESS {invoice.establishment_id})"],
        ["Contrat", f"{invoice.contract_id or '-'}, offre {invoice.offer}"],
        ["Jours actifs", f"{invoice.active_days} / {invoice.days_in_month}"],
    ]
    if invoice.issue_date:
        facts.append(["Échéance", _day(due_date(invoice))])
    story.append(
        _grid([[k, Paragraph(escape(v), styles["cell"])] for k, v in facts], [40 * mm, 136 * mm], header=False)
    )
    if invoice.note:
        story.append(Paragraph(escape(invoice.note), styles["base"]))

    if invoice.revision is not None:
        story.append(Paragraph("Révision des prix", styles["heading"]))
        story.append(Paragraph(escape(describe(invoice.revision)), styles["base"]))
    story.append(Paragraph(f"Détail (montants hors taxes en {escape(currency)})", styles["heading"]))
    rows: list[list] = [["Désignation", "Quantité", "Prix unitaire", "Montant HT"]]
    for line in invoice.lines:
        text = escape(line.description)
        if line.reference and line.reference not in line.description:
            what = "Avoir sur" if line.code.startswith(CREDIT_PREFIX) else "Régularisation de"
            text += f"<br/><font size='7.5'>{what} la facture {escape(line.reference)}</font>"
        rows.append(
            [
                Paragraph(text, styles["cell"]),
                Paragraph(french_number(line.quantity), styles["number"]),
                Paragraph(french_number(line.unit_price), styles["number"]),
                Paragraph(french_number(line.amount), styles["number"]),
            ]
        )
    story.append(_grid(rows, [86 * mm, 36 * mm, 27 * mm, 27 * mm]))

    totals = [
        ["Total HT", f"{french_number(invoice.net)} {currency}"],
        [f"TVA {_percent(invoice.vat_rate)}", f"{french_number(invoice.vat)} {currency}"],
        ["Total TTC", f"{french_number(invoice.gross)} {currency}"],
    ]
    total_table = Table(totals, colWidths=[40 * mm, 40 * mm], hAlign="RIGHT")
    total_table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("FONT", (0, -1), (-1, -1), FONT_BOLD, 10),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
            ]
        )
    )
    story += [Spacer(0, 2 * mm), KeepTogether(total_table)]
    if is_credit_note(invoice):
        story.append(
            Paragraph(
                f"Avoir en faveur de l'acheteur : {french_number(-invoice.gross)} {currency} TTC.", styles["base"]
            )
        )

    payment = [f"Conditions de paiement : {payment_terms(invoice)}"] if invoice.issue_date else []
    story.append(Paragraph("Paiement", styles["heading"]))
    story += [Paragraph(escape(text), styles["small"]) for text in [*payment, *(t for _, t in LEGAL_NOTES)]]

    story.append(Paragraph(f"Relevé d'usage du mois {invoice.month}", styles["heading"]))
    story.append(
        _grid(_usage_rows(invoice, styles), [86 * mm, 90 * mm])
        if invoice.usage
        else Paragraph("Aucun usage relevé.", styles["base"])
    )
    return story


def _srgb_profile() -> bytes:
    """littleCMS's sRGB profile with a fixed creation date (its header carries the time it was made), so that the
    same invoice always gives the same PDF bytes. A v4 profile ID is the MD5 of the profile with the flags, the
    rendering intent and the ID zeroed: recomputed when littleCMS set one."""
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = b"".join(n.to_bytes(2, "big") for n in (2010, 4, 1, 0, 0, 0))
    if any(profile[84:100]):
        zeroed = bytearray(profile)
        zeroed[44:48], zeroed[64:68], zeroed[84:100] = bytes(4), bytes(4), bytes(16)
        profile[84:100] = hashlib.md5(zeroed, usedforsecurity=False).digest()
    return bytes(profile)


def _add_output_intent(pdf: bytes) -> bytes:
    """An sRGB output intent, which PDF/A requires of a document drawn in device RGB."""
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    profile = DecodedStreamObject()
    profile.set_data(_srgb_profile())
    profile = profile.flate_encode()
    profile[NameObject("/N")] = NumberObject(3)
    intent = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/OutputIntent"),
            NameObject("/S"): NameObject("/GTS_PDFA1"),
            NameObject("/OutputConditionIdentifier"): TextStringObject("sRGB"),
            NameObject("/Info"): TextStringObject("sRGB IEC61966-2.1"),
            NameObject("/DestOutputProfile"): writer._add_object(profile),
        }
    )
    writer._root_object[NameObject("/OutputIntents")] = ArrayObject([writer._add_object(intent)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def invoice_pdf(invoice: Invoice, seller: Party, buyer: Party, *, establishment_name: str) -> bytes:
    """The readable invoice (fonts embedded, sRGB output intent), before the XML is attached."""
    _register_fonts()
    title = f"{'Avoir' if is_credit_note(invoice) else 'Facture'} {invoice.number or '(brouillon)'}"

    def decorate(canvas, document) -> None:  # noqa: ANN001 - reportlab callback
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(18 * mm, 10 * mm, f"{seller.name} - SIRET {seller.siret}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"{title} - page {document.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=17 * mm,
        rightMargin=17 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=seller.name,
        invariant=True,
        lang="fr-FR",
        initialFontName=FONT,
    )
    document.build(_story(invoice, seller, buyer, establishment_name), onFirstPage=decorate, onLaterPages=decorate)
    return _add_output_intent(buffer.getvalue())


def facturx_pdf(pdf: bytes, xml: bytes, invoice: Invoice, seller: Party) -> bytes:
    """Attach the (already checked) XML as factur-x.xml; the library writes the PDF/A-3 and Factur-X metadata."""
    kind = "Avoir" if is_credit_note(invoice) else "Facture"
    metadata = {
        "author": seller.name,
        "keywords": "Factur-X, EN 16931, facture",
        "title": f"{seller.name} : {kind} {invoice.number}",
        "subject": f"{kind} Factur-X {invoice.number} du {invoice.issue_date} émise par {seller.name}",
    }
    assert invoice.issue_date is not None
    with _facturx_clock(datetime.combine(invoice.issue_date, time(0), tzinfo=PARIS)):
        return facturx.generate_from_binary(
            pdf, xml, flavor="factur-x", level="en16931", check_xsd=False, pdf_metadata=metadata, lang="fr-FR"
        )


_FACTURX_CLOCK = threading.Lock()


@contextmanager
def _facturx_clock(when: datetime) -> Iterator[None]:
    """The factur-x library stamps the PDF, its XMP metadata and the attachment with the current time: for the same
    bytes every time, they carry `when` (the issue date, midnight in Paris) instead. The library reads the time
    through these two module functions only; the lock keeps two threads from swapping them at once."""
    utc = when.astimezone(UTC)
    with _FACTURX_CLOCK:
        pdf_timestamp, metadata_timestamp = facturx_module._get_pdf_timestamp, facturx_module._get_metadata_timestamp
        facturx_module._get_pdf_timestamp = lambda date=None: pdf_timestamp(date or utc)
        facturx_module._get_metadata_timestamp = lambda: utc.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        try:
            yield
        finally:
            facturx_module._get_pdf_timestamp, facturx_module._get_metadata_timestamp = (
                pdf_timestamp,
                metadata_timestamp,
            )


# --- writing -------------------------------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a sibling temporary file (usual permissions), then rename it over the target in one step."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def render_documents(invoice: Invoice) -> dict[str, bytes]:
    """The documents of an issued invoice, by kind (pdf, xml, csv), from its own data only (its frozen parties
    included): the same invoice gives the same bytes on any day. Raise EInvoiceError if the e-invoice fails its
    checks."""
    if invoice.number is None or invoice.issue_date is None:
        raise EInvoiceError(invoice.number, ["only issued invoices (with a number and an issue date) have documents"])
    if invoice.seller is None or invoice.buyer is None:
        raise EInvoiceError(
            invoice.number,
            ["the ledger holds no seller or buyer for it: its documents cannot be rendered from the ledger"],
        )
    seller, buyer = invoice.seller, invoice.buyer
    xml = invoice_cii_xml(invoice, seller, buyer)
    failures = check_einvoice(xml)
    if failures:
        raise EInvoiceError(invoice.number, failures)
    pdf = facturx_pdf(invoice_pdf(invoice, seller, buyer, establishment_name=buyer.name), xml, invoice, seller)
    return {"pdf": pdf, "xml": xml, "csv": invoice_csv(invoice).encode("utf-8")}


def write_documents(documents: dict[str, bytes], names: dict[str, str], out_dir: Path) -> list[Path]:
    """Write each document atomically under `out_dir` by its recorded file name (kind -> name); the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in ("xml", "csv", "pdf"):  # the PDF last: a folder with a PDF holds the XML it embeds
        if kind in documents:
            _write_atomic(out_dir / names[kind], documents[kind])
            written.append(out_dir / names[kind])
    return written


def sha256_of(path: Path) -> str | None:
    """The file's SHA-256, None when there is no such file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
