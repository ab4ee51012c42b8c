"""The documents of an issued invoice: EN 16931 CII XML, Factur-X PDF, CSV of lines.

Invoices are written by hand with hand-computed amounts, one per kind of line the billing rules produce.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from analytics.billing.cii import NS, xml_line
from analytics.billing.cii_check import check_einvoice, schematron_rules
from analytics.billing.documents import (
    CSV_COLUMNS,
    EInvoiceError,
    french_number,
    invoice_cii_xml,
    invoice_csv,
    invoice_pdf,
    render_documents,
    write_documents,
)
from analytics.billing.model import Invoice, InvoiceLine, Party, round_money
from analytics.errors import SansfilmError
from analytics.periods import Month

SELLER = Party(
    name="Consortium Région sans film",
    siret="73282932000074",
    vat_id="FR44732829320",
    address=("10 rue de la Paix",),
    postcode="75002",
    city="Paris",
)
BUYER = Party(
    name="Centre hospitalier de Test",
    siret="26750045200011",
    finess="750000001",
    address=("1 avenue de l'Hôpital", "Bâtiment B"),
    postcode="75013",
    city="Paris",
)
USAGE = {
    "studies_archived": D(1234),
    "instances_archived": D(98765),
    "bytes_archived": D(123456789012),
    "storage_gb_month": D("123.456789012"),
    "retrievals": D(17),
    "shares": D(3),
    "views": D(250),
}


def line(
    code: str,
    description: str,
    metric: str | None,
    quantity: str | D,
    unit_price: str,
    amount: str,
    reference: str | None = None,
) -> InvoiceLine:
    return InvoiceLine(code, description, metric, D(quantity), D(unit_price), D(amount), reference)


def invoice(lines: list[InvoiceLine], number: str = "F2024-000042", active_days: int = 17) -> Invoice:
    return Invoice(
        establishment_id="750000001",
        month=Month(2024, 3),
        offer="PACS_RIS",
        active_days=active_days,
        days_in_month=31,
        lines=tuple(lines),
        vat_rate=D("0.20"),
        contract_id="RSF-AC-2010",
        number=number,
        issue_date=date(2024, 4, 2),
        usage=dict(USAGE),
    )


# 1800 x 17/31 = 987.0967... -> 987.10 ; 1000 x 2.40 ; 234 x 1.90 ; 123.456789012 x 0.06 = 7.4074... -> 7.41
SUBSCRIPTION = line("SUBSCRIPTION", "Abonnement PACS_RIS, 17/31 jours", None, D(17) / D(31), "1800.00", "987.10")
TIER_1 = line("studies_archived:T1", "Examens archivés, 1 à 1000", "studies_archived", "1000", "2.40", "2400.00")
TIER_2 = line("studies_archived:T2", "Examens archivés, 1001 à 5000", "studies_archived", "234", "1.90", "444.60")
STORAGE = line("storage_gb_month", "Stockage (Go·mois)", "storage_gb_month", "123.456789012", "0.06", "7.41")
BYTES = line("bytes_archived", "Volume archivé (octets)", "bytes_archived", "123456789012", "0.0000000001", "12.35")

NORMAL = invoice([SUBSCRIPTION, TIER_1, TIER_2, STORAGE, BYTES])
SMALL = invoice(
    [
        SUBSCRIPTION,
        line("studies_archived:T1", "Examens archivés, tranche 1 à 1000", "studies_archived", "40", "2.40", "96.00"),
        line("storage_gb_month", "Stockage (Go·mois)", "storage_gb_month", "0.123456789012", "0.06", "0.01"),
        # minimum 2500 x 17/31 = 1370.967... -> 1370.97 ; top-up 1370.97 - 96.01 = 1274.96
        line("MINIMUM", "Complément au minimum mensuel", None, "1", "1274.96", "1274.96"),
    ],
    number="F2024-000043",
)
REGULARISED = invoice(
    [
        SUBSCRIPTION,
        TIER_1,
        # the February invoice F2024-000017 had 40 studies and 10.5 GB x month too many: -40 x 1.90, -10.5 x 0.06
        line(
            "REGUL:studies_archived:T2",
            "Régularisation février : examens archivés",
            "studies_archived",
            "-40",
            "1.90",
            "-76.00",
            reference="F2024-000017",
        ),
        line(
            "REGUL:storage_gb_month",
            "Régularisation février : stockage",
            "storage_gb_month",
            "-10.5",
            "0.06",
            "-0.63",
            reference="F2024-000017",
        ),
        # a difference of rounded amounts (0.17 - 0.66) is not round(-1.5 x 0.33) = -0.50: written as a lump sum
        line(
            "REGUL:shares",
            "Régularisation janvier : partages",
            "shares",
            "-1.5",
            "0.33",
            "-0.49",
            reference="F2024-000003",
        ),
    ],
    number="F2024-000044",
)
CREDIT_NOTE = invoice(
    [
        line(
            "REGUL:studies_archived:T1",
            "Régularisation février : examens archivés",
            "studies_archived",
            "-500",
            "2.40",
            "-1200.00",
            reference="F2024-000017",
        ),
        line(
            "REGUL:storage_gb_month",
            "Régularisation février : stockage",
            "storage_gb_month",
            "-2000.123456789",
            "0.06",
            "-120.01",
            reference="F2024-000017",
        ),
        line(
            "REGUL:retrievals",
            "Régularisation janvier : récupérations",
            "retrievals",
            "3",
            "1.90",
            "5.70",
            reference="F2024-000003",
        ),
    ],
    number="F2024-000045",
    active_days=0,
)
EDGES = invoice(
    [
        # 0.0000015 x 3333.33 = 0.0049... -> 0.00, but 0.000002 x 3333.33 -> 0.01: lump sum
        line("retrievals", "Récupérations", "retrievals", "0.0000015", "3333.33", "0.00"),
        line("views", "Consultations (non facturées)", "views", "250", "0", "0.00"),
        line("SUBSCRIPTION", "Abonnement, prix négatif", None, "1", "-10.00", "-10.00"),
        line("MINIMUM", "Complément au minimum mensuel", None, "1", "1000.00", "1000.00"),
    ],
    number="F2024-000046",
)

INVOICES = {
    "normal": NORMAL,
    "small-with-minimum": SMALL,
    "regularised": REGULARISED,
    "credit-note": CREDIT_NOTE,
    "edge-lines": EDGES,
}


def test_hand_computed_amounts_are_the_rules() -> None:
    assert round_money(D(1800) * 17 / 31) == D("987.10")
    assert round_money(D("123.456789012") * D("0.06")) == D("7.41")
    assert round_money(D(2500) * 17 / 31) - D("96.01") == D("1274.96")
    assert NORMAL.net == D("3851.46") and NORMAL.vat == D("770.29") and NORMAL.gross == D("4621.75")
    assert CREDIT_NOTE.gross == D("-1577.17")  # -1314.31 - 262.86


def _root(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def _xml_lines(xml: bytes) -> list[tuple[D, str, D, D, str | None]]:
    """(quantity, unit, price per unit, amount, note) of each line."""
    lines = []
    for item in _root(xml).iterfind(".//ram:IncludedSupplyChainTradeLineItem", NS):
        quantity = item.find(".//ram:BilledQuantity", NS)
        base = D(item.findtext(".//ram:BasisQuantity", default="1", namespaces=NS))
        lines.append(
            (
                D(quantity.text),
                quantity.get("unitCode"),
                D(item.findtext(".//ram:ChargeAmount", namespaces=NS)) / base,
                D(item.findtext(".//ram:LineTotalAmount", namespaces=NS)),
                item.findtext(".//ram:IncludedNote/ram:Content", namespaces=NS),
            )
        )
    return lines


def test_the_offline_schematron_is_the_librarys_and_compiles_entirely() -> None:
    rules = [rule for pattern in schematron_rules() for rule in pattern]
    checks = [check for rule in rules for check in rule.checks]
    assert len(rules) > 300 and len(checks) > 600
    assert [check.rule_id for check in checks if check.test is None] == []
    assert {"BR-CO-10", "BR-CO-15", "BR-S-08", "BR-27", "BR-DEC-23"} <= {check.rule_id for check in checks}


@pytest.mark.parametrize("name", INVOICES)
def test_every_invoice_is_a_valid_en16931_einvoice(name: str) -> None:
    assert check_einvoice(invoice_cii_xml(INVOICES[name], SELLER, BUYER)) == []


@pytest.mark.parametrize("name", INVOICES)
def test_xml_lines_keep_the_ledger_amounts_and_are_self_consistent(name: str) -> None:
    model = INVOICES[name]
    xml = invoice_cii_xml(model, SELLER, BUYER)
    sign = -1 if model.gross < 0 else 1
    written = _xml_lines(xml)
    assert [amount for _, _, _, amount, _ in written] == [ln.amount * sign for ln in model.lines]
    for quantity, _, price, amount, _ in written:
        assert price >= 0  # BR-27
        assert round_money(quantity * price) == amount
        assert -amount.as_tuple().exponent <= 2
    totals = _root(xml).find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation", NS)
    assert D(totals.findtext("ram:LineTotalAmount", namespaces=NS)) == model.net * sign
    assert D(totals.findtext("ram:TaxTotalAmount", namespaces=NS)) == model.vat * sign
    assert D(totals.findtext("ram:GrandTotalAmount", namespaces=NS)) == model.gross * sign
    assert D(totals.findtext("ram:DuePayableAmount", namespaces=NS)) == model.gross * sign


def test_header_fields() -> None:
    root = _root(invoice_cii_xml(NORMAL, SELLER, BUYER))
    assert root.findtext("rsm:ExchangedDocument/ram:ID", namespaces=NS) == "F2024-000042"
    assert root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "380"
    assert root.findtext(".//ram:IssueDateTime/udt:DateTimeString", namespaces=NS) == "20240402"
    period = root.find(".//ram:BillingSpecifiedPeriod", NS)
    assert period.findtext("ram:StartDateTime/udt:DateTimeString", namespaces=NS) == "20240301"
    assert period.findtext("ram:EndDateTime/udt:DateTimeString", namespaces=NS) == "20240331"
    assert root.findtext(".//ram:DueDateDateTime/udt:DateTimeString", namespaces=NS) == "20240502"
    assert root.findtext(".//ram:ContractReferencedDocument/ram:IssuerAssignedID", namespaces=NS) == "RSF-AC-2010"
    seller_id = root.find(".//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", NS)
    assert (seller_id.text, seller_id.get("schemeID")) == ("73282932000074", "0002")
    assert root.findtext(".//ram:BuyerTradeParty/ram:ID", namespaces=NS) == "750000001"
    assert (
        root.find(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent", NS).text
        == "20.00"
    )


def test_fractional_quantity_is_rounded_in_the_xml_and_kept_exact_in_the_line_note() -> None:
    written = xml_line(STORAGE)
    assert (written.quantity, written.unit_code, written.price, written.amount) == (
        D("123.456789"),
        "E34",
        D("0.06"),
        D("7.41"),
    )
    assert "123.456789012" in written.note
    per_byte = xml_line(BYTES)  # 0.0000000001 per byte = 0.000001 per 10^4 bytes (BT-149 base quantity)
    assert (per_byte.quantity, per_byte.unit_code, per_byte.price, per_byte.base_quantity, per_byte.note) == (
        D("123456789012"),
        "AD",
        D("0.000001"),
        D(10000),
        None,
    )


def test_lines_that_would_not_round_back_are_lump_sums() -> None:
    assert (written := xml_line(REGULARISED.lines[-1])).quantity == D(-1)
    assert (written.price, written.amount, written.unit_code) == (D("0.49"), D("-0.49"), "C62")
    assert "F2024-000003" in written.note and "-1.5" in written.note
    negative_price = xml_line(EDGES.lines[2])
    assert (negative_price.quantity, negative_price.price, negative_price.amount) == (D(-1), D("10.00"), D("-10.00"))


def test_regularisation_lines_reference_the_corrected_invoices() -> None:
    root = _root(invoice_cii_xml(REGULARISED, SELLER, BUYER))
    referenced = [e.text for e in root.iterfind(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", NS)]
    assert referenced == ["F2024-000017", "F2024-000003"]
    notes = [note for *_, note in _xml_lines(invoice_cii_xml(REGULARISED, SELLER, BUYER))]
    assert notes[2] == "Régularisation de la facture F2024-000017"
    assert [q for q, *_ in _xml_lines(invoice_cii_xml(REGULARISED, SELLER, BUYER))][2:4] == [D(-40), D("-10.5")]


def test_a_negative_total_is_a_credit_note_with_positive_totals() -> None:
    xml = invoice_cii_xml(CREDIT_NOTE, SELLER, BUYER)
    root = _root(xml)
    assert root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"
    assert root.findtext(".//ram:GrandTotalAmount", namespaces=NS) == "1577.17"
    assert [(q, amount) for q, _, _, amount, _ in _xml_lines(xml)] == [
        (D(500), D("1200.00")),
        (D("2000.123457"), D("120.01")),
        (D(-3), D("-5.70")),
    ]


def _mutate(xml: bytes, pattern: str, replacement: str) -> bytes:
    mutated, count = re.subn(pattern.encode(), replacement.encode(), xml, count=1, flags=re.S)
    assert count == 1, pattern
    return mutated


@pytest.mark.parametrize(
    ("pattern", "replacement", "expected"),
    [
        (
            r"<ram:LineTotalAmount>3851.46</ram:LineTotalAmount>",
            "<ram:LineTotalAmount>3851.47</ram:LineTotalAmount>",
            "BR-CO-10",
        ),
        (r"<ram:GrandTotalAmount>4621.75", "<ram:GrandTotalAmount>4621.76", "BR-CO-15"),
        (r"<ram:CalculatedAmount>770.29", "<ram:CalculatedAmount>780.29", "BR-CO-17"),
        (r"<ram:ChargeAmount>2.40", "<ram:ChargeAmount>-2.40", "BR-27"),
        (r"<ram:LineTotalAmount>2400.00", "<ram:LineTotalAmount>2400.001", "BR-DEC-23"),
        (r'unitCode="E34"', 'unitCode="Q9Q"', "FX-SCH-A"),
        (r"<ram:SpecifiedTaxRegistration>.*?</ram:SpecifiedTaxRegistration>", "", "BR-S-02"),
        (r"<ram:SellerTradeParty>\s*<ram:Name>[^<]*</ram:Name>", "<ram:SellerTradeParty>", "BR-06"),
        (r"<ram:SellerTradeParty>.*?</ram:SellerTradeParty>", "", "XSD"),
        (r"<ram:ID>F2024-000042</ram:ID>", "<ram:ID>F2024-000042</ram:I>", "not well-formed"),
    ],
)
def test_a_broken_einvoice_is_reported(pattern: str, replacement: str, expected: str) -> None:
    messages = check_einvoice(_mutate(invoice_cii_xml(NORMAL, SELLER, BUYER), pattern, replacement))
    assert any(expected in message for message in messages), messages


def test_only_issued_invoices_have_einvoices(tmp_path: Path) -> None:
    with pytest.raises(EInvoiceError, match="issued"):
        invoice_cii_xml(replace(NORMAL, number=None, issue_date=None), SELLER, BUYER)
    with pytest.raises(EInvoiceError, match="issued"):
        render_documents(replace(NORMAL, number=None, issue_date=None, seller=SELLER, buyer=BUYER))
    with pytest.raises(EInvoiceError, match="no seller or buyer"):
        render_documents(NORMAL)
    assert issubclass(EInvoiceError, SansfilmError)


def test_written_documents(tmp_path: Path) -> None:
    rendered = render_documents(replace(REGULARISED, seller=SELLER, buyer=BUYER))
    paths = write_documents(rendered, {k: f"F2024-000044.{k}" for k in rendered}, tmp_path / "2024-03")
    assert paths == [tmp_path / "2024-03" / f"F2024-000044.{e}" for e in ("xml", "csv", "pdf")]
    documents = SimpleNamespace(**{p.suffix[1:]: p for p in paths})
    assert sorted(p.name for p in (tmp_path / "2024-03").iterdir()) == [
        "F2024-000044.csv",
        "F2024-000044.pdf",
        "F2024-000044.xml",
    ]
    xml = documents.xml.read_bytes()
    assert xml == invoice_cii_xml(REGULARISED, SELLER, BUYER) and check_einvoice(xml) == []

    pdf = documents.pdf.read_bytes()
    name, embedded = facturx.get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert (name, embedded) == ("factur-x.xml", xml)
    reader = PdfReader(documents.pdf)
    assert "/OutputIntents" in reader.trailer["/Root"]  # PDF/A: an sRGB output intent and embedded fonts only
    fonts = [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]
    assert fonts and all("/FontFile2" in font["/FontDescriptor"].get_object() for font in fonts)
    metadata = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in metadata and "EN 16931" in metadata
    text = " ".join(page.extract_text() for page in reader.pages).replace("\u00a0", " ")
    for expected in (
        "F2024-000044",
        "73282932000074",
        "26750045200011",
        "750000001",
        "3 971,98",
        "du 01/03/2024 au 31/03/2024",
        "RSF-AC-2010",
        "F2024-000017",
        "TVA 20 %",
        "Relevé d'usage",
        "123 456 789 012 octets (123,456789012 Go)",
    ):
        assert expected in text, expected
    assert REGULARISED.gross == D("3971.98")

    rows = list(csv.DictReader(io.StringIO(documents.csv.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [
        (r["code"], D(r["quantity"]), D(r["unit_price"]), D(r["amount"]), r["reference"] or None) for r in rows
    ] == [(ln.code, ln.quantity, ln.unit_price, ln.amount, ln.reference) for ln in REGULARISED.lines]
    assert {r["invoice_number"] for r in rows} == {"F2024-000044"} and rows[0]["metric"] == ""


def test_the_csv_keeps_every_digit() -> None:
    rows = list(csv.reader(io.StringIO(invoice_csv(NORMAL))))
    assert rows[1][6] == str(D(17) / D(31)) and D(rows[1][6]) == D(17) / D(31)
    assert rows[4][6:9] == ["123.456789012", "0.06", "7.41"] and rows[5][7] == "0.0000000001"


def test_an_invalid_einvoice_is_not_written(tmp_path: Path) -> None:
    with pytest.raises(EInvoiceError, match="BR-S-02") as raised:
        render_documents(replace(NORMAL, seller=replace(SELLER, vat_id=None), buyer=BUYER))
    assert raised.value.failures and list(tmp_path.iterdir()) == []


def test_a_long_invoice_breaks_pages_and_keeps_every_line() -> None:
    lines = [
        line(
            f"studies_archived:T{i}",
            f"Ligne numéro {i:03d}",
            "studies_archived",
            str(i),
            "1.90",
            str(round_money(D(i) * D("1.90"))),
        )
        for i in range(1, 121)
    ]
    long = invoice(lines, number="F2024-000047")
    assert check_einvoice(invoice_cii_xml(long, SELLER, BUYER)) == []
    reader = PdfReader(io.BytesIO(invoice_pdf(long, SELLER, BUYER, establishment_name="Centre hospitalier de Test")))
    assert len(reader.pages) >= 3
    text = " ".join(page.extract_text() for page in reader.pages)
    assert all(f"Ligne numéro {i:03d}" in text for i in range(1, 121))
    assert "page 3" in text


def test_credit_note_pdf_says_so() -> None:
    pdf = invoice_pdf(CREDIT_NOTE, SELLER, BUYER, establishment_name="Centre hospitalier de Test")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text().replace("\u00a0", " ")
    assert "Avoir N° F2024-000045" in text and "-1 577,17 EUR" in text and "1 577,17 EUR TTC" in text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("1234567.5"), "1\u00a0234\u00a0567,5"),
        (D("-1200.00"), "-1\u00a0200,00"),
        (D("0.0000000001"), "0,0000000001"),
        (D("123"), "123"),
        (D("-0.49"), "-0,49"),
    ],
)
def test_french_numbers_are_exact(value: D, text: str) -> None:
    assert french_number(value) == text
