"""The EN 16931 e-invoice of an issued invoice: UN/CEFACT CII D16B in the Factur-X EN 16931 profile.

Conventions:
- A document whose gross is negative is a credit note (BT-3 = 381) with every amount and quantity negated, so that
  its totals are positive: a 381 reverses the direction of its amounts, and Chorus Pro expects a credit note rather
  than an invoice (380) with a negative total. Single lines may be negative in either document.
- A net price (BT-146) is never negative (BR-27): a negative line carries its sign on the quantity (BT-129).
- The line net amount (BT-131) is always the ledger's amount, to the cent, so BT-106 = sum of lines (BR-CO-10).
- Quantities and prices are written as they are when they have at most `XML_DECIMALS` decimals. A longer quantity
  is rounded half-up to that many (the exact figures then go in the line note, BT-127); a longer price is given per
  a base quantity (BT-149) of 10^k units (0.0000000001 per byte is 0.000001 per 10000 bytes). Where quantity x
  price / base would then not round to the line amount, the line is a lump sum (quantity +/-1 C62, price =
  |amount|), exact figures in the note: every written line satisfies round(quantity x price / base) = amount.
- Regularisation lines name the corrected invoice in their note, and each corrected invoice is a preceding invoice
  reference (BG-3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from analytics.billing.export import describe
from analytics.billing.model import Invoice, InvoiceLine, Party, round_money
from analytics.errors import SansfilmError

GUIDELINE_EN16931 = "urn:cen.eu:en16931:2017"
XML_DECIMALS = 6  # most decimals Chorus Pro accepts in a quantity or a price
PAYMENT_DAYS = 30  # invoices issued before the ledger recorded their terms (payment_days NULL)
REGULARISATION_PREFIX = "REGUL:"
CREDIT_PREFIX = "AVOIR"  # the lines of a credit note issued against an invoice (analytics.billing.followup)
SIRENE_SCHEME = "0002"  # ISO 6523 ICD of the French SIRENE register, the scheme Chorus Pro expects for a SIRET

# UN/ECE Recommendation 20 unit codes; anything counted in units is C62 ("one").
UNIT_CODES = {"bytes_archived": "AD", "storage_gb_month": "E34"}  # byte; gigabyte (mean stored over the month)
UNIT_ONE = "C62"

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}

# French legal mentions (UNTDID 4451 subject codes), required on invoices between professionals and public bodies.
LEGAL_NOTES = (
    ("PMD", "En cas de retard de paiement, intérêts moratoires au taux de la BCE majoré de 8 points."),
    ("PMT", "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 EUR."),
    ("AAB", "Pas d'escompte pour paiement anticipé."),
)


class EInvoiceError(SansfilmError):
    """An e-invoice cannot be produced, or fails its EN 16931 checks; `failures` lists every reason."""

    def __init__(self, invoice_number: str | None, failures: list[str]):
        self.invoice_number = invoice_number
        self.failures = list(failures)
        listed = "\n".join(f"  - {failure}" for failure in self.failures)
        super().__init__(f"invoice {invoice_number or '(not issued)'}: the e-invoice is not valid:\n{listed}")


@dataclass(frozen=True, slots=True)
class XmlLine:
    """How one ledger line is written in the XML (signs already in the document's direction)."""

    quantity: Decimal
    unit_code: str
    price: Decimal  # per base_quantity units
    amount: Decimal
    note: str | None
    base_quantity: Decimal = Decimal(1)


def is_credit_note(invoice: Invoice) -> bool:
    return invoice.gross < 0


def type_code(invoice: Invoice) -> str:
    return "381" if is_credit_note(invoice) else "380"


def payment_days(invoice: Invoice) -> int:
    """The invoice's own terms as issued (a credit note carries those of the invoice it corrects)."""
    return PAYMENT_DAYS if invoice.payment_days is None else invoice.payment_days


def due_date(invoice: Invoice) -> date:
    if invoice.issue_date is None:
        raise EInvoiceError(invoice.number, ["the invoice has no issue date: only issued invoices have e-invoices"])
    return invoice.issue_date + timedelta(days=payment_days(invoice))


def payment_terms(invoice: Invoice) -> str:
    days = payment_days(invoice)
    if is_credit_note(invoice):
        return (
            f"Avoir remboursé ou imputé sur la prochaine facture à {days} jours, au plus tard le "
            f"{due_date(invoice):%d/%m/%Y}."
        )
    return f"Paiement à {days} jours par virement, au plus tard le {due_date(invoice):%d/%m/%Y}."


def unit_code(line: InvoiceLine) -> str:
    return UNIT_CODES.get(line.metric or "", UNIT_ONE)


def referenced_invoices(invoice: Invoice) -> list[str]:
    """Numbers of the invoices this one corrects, in first-seen order."""
    numbers: dict[str, None] = {}
    for line in invoice.lines:
        if line.reference:
            numbers.setdefault(line.reference, None)
    return list(numbers)


def _round(value: Decimal, places: int) -> Decimal:
    """Half-up to `places` decimals; a value that already fits keeps its own notation."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -places:
        return value
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def xml_line(line: InvoiceLine, sign: int = 1) -> XmlLine:
    """The quantity, unit, price, amount and note of a line, such that round(quantity x price / base) = amount."""
    amount = line.amount * sign
    quantity, price = line.quantity * sign, line.unit_price
    if price < 0:
        quantity, price = -quantity, -price
    notes = []
    if line.code.startswith(CREDIT_PREFIX) and line.reference:
        notes.append(f"Avoir sur la facture {line.reference}")
    elif line.code.startswith(REGULARISATION_PREFIX) or line.reference:
        notes.append(f"Régularisation de la facture {line.reference}" if line.reference else "Régularisation")
    exact = f"quantité exacte {line.quantity:f}, prix unitaire {line.unit_price:f}"
    base = Decimal(1)
    excess = -price.normalize().as_tuple().exponent - XML_DECIMALS if price else 0
    if 0 < excess <= 12:  # a tiny unit price: per 10^excess units
        base = Decimal(10) ** excess
    written_quantity, written_price = _round(quantity, XML_DECIMALS), _round(price * base, XML_DECIMALS)
    unit = unit_code(line)
    if round_money(written_quantity * written_price / base) != amount:
        written_quantity, base = Decimal(-1 if amount < 0 else 1), Decimal(1)
        written_price, unit = abs(amount), UNIT_ONE
        notes.append(f"forfait : {exact}")
    elif (written_quantity, written_price / base) != (quantity, price):
        notes.append(exact)
    note = " ; ".join(notes) if notes else None
    return XmlLine(written_quantity, unit, written_price, amount, note, base)


def _dec(value: Decimal) -> str:
    """Plain decimal notation, never '-0'."""
    return format(abs(value) if value == 0 else value, "f")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _date(parent: etree._Element, tag: str, day: date, string_tag: str = "udt:DateTimeString") -> None:
    _sub(_sub(parent, tag), string_tag, day.strftime("%Y%m%d"), format="102")


def _party(parent: etree._Element, tag: str, party: Party, *, buyer: bool) -> None:
    element = _sub(parent, tag)
    if buyer and party.finess:
        _sub(element, "ram:ID", party.finess)  # BT-46: the FINESS number, no ISO 6523 scheme exists for it
    _sub(element, "ram:Name", party.name)
    if party.siret:
        _sub(_sub(element, "ram:SpecifiedLegalOrganization"), "ram:ID", party.siret, schemeID=SIRENE_SCHEME)
    address = _sub(element, "ram:PostalTradeAddress")
    if party.postcode:
        _sub(address, "ram:PostcodeCode", party.postcode)
    lines = [line for line in party.address if line.strip()]
    if len(lines) > 3:
        lines = [*lines[:2], ", ".join(lines[2:])]
    for name, text in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), lines, strict=False):
        _sub(address, name, text)
    if party.city:
        _sub(address, "ram:CityName", party.city)
    _sub(address, "ram:CountryID", party.country)
    if party.vat_id:
        _sub(_sub(element, "ram:SpecifiedTaxRegistration"), "ram:ID", party.vat_id, schemeID="VA")


def _line_item(parent: etree._Element, number: int, line: InvoiceLine, sign: int, rate: str) -> None:
    written = xml_line(line, sign)
    item = _sub(parent, "ram:IncludedSupplyChainTradeLineItem")
    document = _sub(item, "ram:AssociatedDocumentLineDocument")
    _sub(document, "ram:LineID", str(number))
    if written.note:
        _sub(_sub(document, "ram:IncludedNote"), "ram:Content", written.note)
    product = _sub(item, "ram:SpecifiedTradeProduct")
    _sub(product, "ram:SellerAssignedID", line.code)
    _sub(product, "ram:Name", line.description)
    price = _sub(_sub(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
    _sub(price, "ram:ChargeAmount", _dec(written.price))
    if written.base_quantity != 1:
        _sub(price, "ram:BasisQuantity", _dec(written.base_quantity), unitCode=written.unit_code)
    _sub(
        _sub(item, "ram:SpecifiedLineTradeDelivery"),
        "ram:BilledQuantity",
        _dec(written.quantity),
        unitCode=written.unit_code,
    )
    settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(tax, "ram:TypeCode", "VAT")
    _sub(tax, "ram:CategoryCode", "S")
    _sub(tax, "ram:RateApplicablePercent", rate)
    _sub(
        _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation"),
        "ram:LineTotalAmount",
        _dec(written.amount),
    )


def invoice_cii_xml(invoice: Invoice, seller: Party, buyer: Party) -> bytes:
    """The CII XML (Factur-X profile EN 16931) of an issued invoice, UTF-8 with an XML declaration."""
    if invoice.number is None or invoice.issue_date is None:
        raise EInvoiceError(invoice.number, ["only issued invoices (with a number and an issue date) have e-invoices"])
    if not invoice.lines:
        raise EInvoiceError(invoice.number, ["an invoice needs at least one line (BR-16)"])
    sign = -1 if is_credit_note(invoice) else 1
    rate = _dec(invoice.vat_rate * 100)
    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)
    context = _sub(root, "rsm:ExchangedDocumentContext")
    _sub(_sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", GUIDELINE_EN16931)

    header = _sub(root, "rsm:ExchangedDocument")
    _sub(header, "ram:ID", invoice.number)
    _sub(header, "ram:TypeCode", type_code(invoice))
    _date(header, "ram:IssueDateTime", invoice.issue_date)
    summary = (
        f"Facture à l'usage, établissement {invoice.establishment_id}, offre {invoice.offer}, "
        f"période {invoice.month}, {invoice.active_days}/{invoice.days_in_month} jours actifs."
    )
    revision = [(None, describe(invoice.revision))] if invoice.revision is not None else []
    if invoice.note:  # a credit note: the invoice it corrects and why (BT-22)
        summary = f"{invoice.note}. Période {invoice.month}, établissement {invoice.establishment_id}."
    for code, text in [(None, summary), *revision, *LEGAL_NOTES]:
        note = _sub(header, "ram:IncludedNote")
        _sub(note, "ram:Content", text)
        if code:
            _sub(note, "ram:SubjectCode", code)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for number, line in enumerate(invoice.lines, start=1):
        _line_item(transaction, number, line, sign, rate)

    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    _party(agreement, "ram:SellerTradeParty", seller, buyer=False)
    _party(agreement, "ram:BuyerTradeParty", buyer, buyer=True)
    if invoice.contract_id:
        _sub(_sub(agreement, "ram:ContractReferencedDocument"), "ram:IssuerAssignedID", invoice.contract_id)
    delivery = _sub(_sub(transaction, "ram:ApplicableHeaderTradeDelivery"), "ram:ActualDeliverySupplyChainEvent")
    _date(delivery, "ram:OccurrenceDateTime", invoice.month.last_day)  # BT-72: the service ends with the month

    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    _sub(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
    net, vat, gross = invoice.net * sign, invoice.vat * sign, invoice.gross * sign
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(tax, "ram:CalculatedAmount", _dec(vat))
    _sub(tax, "ram:TypeCode", "VAT")
    _sub(tax, "ram:BasisAmount", _dec(net))
    _sub(tax, "ram:CategoryCode", "S")
    _sub(tax, "ram:RateApplicablePercent", rate)
    period = _sub(settlement, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", invoice.month.first_day)
    _date(period, "ram:EndDateTime", invoice.month.last_day)
    terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
    _sub(terms, "ram:Description", payment_terms(invoice))
    _date(terms, "ram:DueDateDateTime", due_date(invoice))
    totals = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(totals, "ram:LineTotalAmount", _dec(net))
    _sub(totals, "ram:TaxBasisTotalAmount", _dec(net))
    _sub(totals, "ram:TaxTotalAmount", _dec(vat), currencyID=invoice.currency)
    _sub(totals, "ram:GrandTotalAmount", _dec(gross))
    _sub(totals, "ram:DuePayableAmount", _dec(gross))
    for reference in referenced_invoices(invoice):
        _sub(_sub(settlement, "ram:InvoiceReferencedDocument"), "ram:IssuerAssignedID", reference)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
