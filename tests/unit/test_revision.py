"""The annual price revision P = P0 x (a + b x I / I0): coefficients, revised prices, anniversaries, index choice,
missing values, the index file's errors and what the invoice documents show. Every figure is computed by hand."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader

from analytics.billing.cii import NS, invoice_cii_xml
from analytics.billing.cii_check import check_einvoice
from analytics.billing.documents import invoice_csv, invoice_pdf
from analytics.billing.export import invoice_dict
from analytics.billing.ledger import Ledger
from analytics.billing.model import IndexPoint, Party
from analytics.billing.price_index import PRICE_INDEX_FILE, load_price_index
from analytics.billing.revision import (
    IndexValueMissing,
    anniversary,
    applicable_anniversary,
    coefficient,
    require_revision_indices,
    revision_for,
)
from analytics.billing.rules import draft_invoice
from analytics.billing.tariff import TARIFF_FILE, load_tariff
from analytics.errors import ContractError
from analytics.periods import Month
from analytics.registry import Establishment
from analytics.samples.tariff import FRAMEWORK_YAML, PRICE_INDEX_CSV

REPO = Path(__file__).resolve().parents[2]

# A small index file of its own, so that every figure below is computed by hand from these lines.
INDEX = """\
index,period,value,published_on
TEST,2009-10,200.0,2009-11-30
TEST,2011-01,205.0,2011-02-28
TEST,2011-02,206.0,2011-04-01
TEST,2012-01,212.3,2012-02-27
TEST,2012-02,213.0,2012-03-30
"""
REVISION = """\
revision:
  index: TEST
  a: "0.125"
  b: "0.875"
  base_period: 2009-10
  current: last_published
  max_lag_months: 3
  coefficient_decimals: 4
  unit_price_decimals: 4
  fee_decimals: 2
"""


def contracts(tmp_path: Path, index: str = INDEX, revision: str = REVISION) -> Path:
    text = FRAMEWORK_YAML
    start = text.index("revision:\n")
    end = text.index("\n\n", start) + 1
    (tmp_path / TARIFF_FILE).write_text(text[:start] + revision + text[end:], encoding="utf-8")
    (tmp_path / PRICE_INDEX_FILE).write_text(index, encoding="utf-8")
    return tmp_path


def site(offer: str = "PACS_RIS") -> Establishment:
    return Establishment(
        "750000015",
        "CH Test",
        "26750045200011",
        "75",
        "CH",
        "public",
        offer,
        date(2010, 1, 1),
        date(2010, 6, 1),
        date(2010, 6, 1),
        None,
        ("CHTEST",),
        (),
    )


# ---- coefficient and rounding ----------------------------------------------------------------------------------------


def test_coefficient_is_rounded_half_up_to_the_contract_decimals(tmp_path):
    terms = load_tariff(contracts(tmp_path)).revision
    # 0.125 + 0.875 x 205.0 / 200.0 = 0.125 + 0.896875 = 1.021875 -> 1.0219 (half-up; half-even would give 1.0218)
    assert coefficient(terms, D("205.0"), D("200.0")) == D("1.0219")
    # 0.125 + 0.875 x 212.3 / 200.0 = 0.125 + 0.9288125 = 1.0538125 -> 1.0538
    assert coefficient(terms, D("212.3"), D("200.0")) == D("1.0538")
    # a falling index revises down: 0.125 + 0.875 x 190 / 200 = 0.95625 -> 0.9563
    assert coefficient(terms, D("190"), D("200")) == D("0.9563")
    two = replace(terms, coefficient_decimals=2)
    assert coefficient(two, D("205.0"), D("200.0")) == D("1.02")


def test_the_sample_contract_coefficients():
    tariff = load_tariff(REPO / "contracts")
    # 2011: I = 2011-02 = 235.4 (published 2011-03-29): 0.15 + 0.85 x 235.4 / 229.0 = 1.023755... -> 1.0238
    # 2012: 2012-02 was published on 2012-04-03, after the anniversary: I = 2012-01 = 240.3;
    #       0.15 + 0.85 x 240.3 / 229.0 = 1.041943... -> 1.0419
    expected = {
        "2011-03": None,
        "2011-04": ("1.0238", "2011-02"),
        "2012-03": ("1.0238", "2011-02"),
        "2012-04": ("1.0419", "2012-01"),
        "2013-03": ("1.0419", "2012-01"),
    }
    for month, want in expected.items():
        revision = revision_for(tariff, Month.parse(month))
        got = None if revision is None else (str(revision.coefficient), str(revision.current.period))
        assert got == want, month


# ---- revised prices --------------------------------------------------------------------------------------------------


def test_every_price_is_revised_and_rounded(tmp_path):
    tariff = load_tariff(contracts(tmp_path))
    usage = {"studies_archived": D(1200), "storage_gb_month": D("100"), "retrievals": D(10), "shares": D(250)}
    invoice = draft_invoice(site(), Month(2011, 6), usage, tariff)
    assert invoice.revision.coefficient == D("1.0219")
    prices = {line.code: (line.unit_price, line.amount) for line in invoice.lines}
    assert prices == {
        "SUBSCRIPTION": (D("1839.42"), D("1839.42")),  # 1800.00 x 1.0219 = 1839.42
        "studies_archived:T1": (D("2.4526"), D("2452.60")),  # 2.40 x 1.0219 = 2.45256 -> 2.4526; x 1000
        "studies_archived:T2": (D("1.9416"), D("388.32")),  # 1.90 x 1.0219 = 1.94161 -> 1.9416; x 200
        "storage_gb_month": (D("0.0613"), D("6.13")),  # 0.06 x 1.0219 = 0.061314 -> 0.0613; x 100
        "retrievals": (D("0.0511"), D("0.51")),  # 0.05 x 1.0219 = 0.051095 -> 0.0511 (half-up); x 10
        "shares": (D("0.8175"), D("204.38")),  # volume tier 2: 0.80 x 1.0219 = 0.81752 -> 0.8175; x 250 = 204.375
    }
    # the minimum 2500.00 x 1.0219 = 2554.75 is below the usage charges: 2452.60 + 388.32 + 6.13 + 0.51 + 204.38
    assert sum(amount for code, (_, amount) in prices.items() if code != "SUBSCRIPTION") == D("3051.94")


def test_the_minimum_is_revised_too(tmp_path):
    tariff = load_tariff(contracts(tmp_path))
    invoice = draft_invoice(site("VNA"), Month(2011, 6), {}, tariff)
    # VNA: fee 450.00 x 1.0219 = 459.855 -> 459.86; minimum 900.00 x 1.0219 = 919.71, all of it a top-up
    assert [(line.code, line.amount) for line in invoice.lines] == [
        ("SUBSCRIPTION", D("459.86")),
        ("MINIMUM", D("919.71")),
    ]
    assert "919,71" in invoice.lines[1].description


# ---- anniversaries -----------------------------------------------------------------------------------------------


def test_anniversary_boundary_month_before_and_month_of(tmp_path):
    tariff = load_tariff(contracts(tmp_path))
    march, april = (draft_invoice(site(), Month(2012, m), {}, tariff) for m in (3, 4))
    assert (march.revision.coefficient, march.revision.anniversary) == (D("1.0219"), date(2011, 4, 1))
    # April: I = 2012-02 = 213.0: 0.125 + 0.875 x 213.0 / 200.0 = 1.056875 -> 1.0569
    assert (april.revision.coefficient, april.revision.anniversary) == (D("1.0569"), date(2012, 4, 1))
    # 1800.00 x 1.0219 = 1839.42 ; 1800.00 x 1.0569 = 1902.42
    assert (march.lines[0].amount, april.lines[0].amount) == (D("1839.42"), D("1902.42"))
    # the agreement's first year is at the tariff's prices, with no revision
    first = draft_invoice(site(), Month(2011, 3), {}, tariff)
    assert first.revision is None and first.lines[0].amount == D("1800.00")


def test_a_month_containing_the_anniversary_keeps_the_previous_coefficient(tmp_path):
    tariff = replace(load_tariff(contracts(tmp_path)), valid_from=date(2010, 4, 15))
    assert applicable_anniversary(tariff, Month(2011, 4)) is None  # April 2011 starts before 15 April 2011
    assert applicable_anniversary(tariff, Month(2011, 5)) == date(2011, 4, 15)
    assert applicable_anniversary(tariff, Month(2012, 4)) == date(2011, 4, 15)
    assert applicable_anniversary(tariff, Month(2012, 5)) == date(2012, 4, 15)


def test_anniversary_of_29_february():
    assert anniversary(date(2012, 2, 29), 1) == date(2013, 3, 1)
    assert anniversary(date(2012, 2, 29), 4) == date(2016, 2, 29)


# ---- which index value -------------------------------------------------------------------------------------------


def test_index_chosen_by_publication_date(tmp_path):
    tariff = load_tariff(contracts(tmp_path))
    # anniversary 2011-04-01: 2011-02 was published on 2011-04-01 itself, not before: I is 2011-01
    revision_2011 = revision_for(tariff, Month(2011, 4))
    assert revision_2011.current == IndexPoint(Month(2011, 1), D("205.0"), date(2011, 2, 28))
    assert revision_2011.base == IndexPoint(Month(2009, 10), D("200.0"), date(2009, 11, 30))
    # anniversary 2012-04-01: 2012-02, published 2012-03-30, is the latest month published before it
    (tmp_path / "later").mkdir()
    later = contracts(
        tmp_path / "later", INDEX.replace("TEST,2012-02,213.0,2012-03-30", "TEST,2012-02,213.0,2012-04-02")
    )
    # published a day after the anniversary instead, 2012-02 is too late: I is 2012-01, 212.3, coefficient 1.0538
    # (0.125 + 0.875 x 212.3 / 200.0 = 1.0538125)
    late = revision_for(load_tariff(later), Month(2012, 4))
    assert (late.current.period, late.coefficient) == (Month(2012, 1), D("1.0538"))
    on_time = revision_for(tariff, Month(2012, 4))  # 0.125 + 0.875 x 213.0 / 200.0 = 1.056875 -> 1.0569
    assert (on_time.current.period, on_time.coefficient) == (Month(2012, 2), D("1.0569"))


# ---- a missing value ---------------------------------------------------------------------------------------------


def test_a_missing_index_value_makes_drafts_pending_and_refuses_issuing(tmp_path):
    tariff = load_tariff(contracts(tmp_path))
    month = Month(2013, 4)  # anniversary 2013-04-01 needs 2013-01 or later; the file stops at 2012-02
    draft = draft_invoice(site(), month, {}, tariff)
    assert draft.revision.pending and draft.revision.current is None
    # provisional prices: the previous anniversary's coefficient, 1.0569 (1800.00 x 1.0569 = 1902.42)
    assert (draft.revision.coefficient, draft.lines[0].amount) == (D("1.0569"), D("1902.42"))
    assert invoice_dict(draft)["revision"]["status"] == "pending"
    with pytest.raises(IndexValueMissing) as info:
        require_revision_indices(tariff, month)
    message = str(info.value)
    assert "TEST" in message and "2013-01" in message and str(tmp_path / PRICE_INDEX_FILE) in message
    assert "2012-02" in message  # the last value listed before the anniversary
    require_revision_indices(tariff, Month(2013, 3))  # March 2013 is still priced at the 2012 coefficient


def test_a_missing_base_value_blocks_issuing(tmp_path):
    tariff = load_tariff(contracts(tmp_path, INDEX.replace("TEST,2009-10,200.0,2009-11-30\n", "")))
    with pytest.raises(IndexValueMissing, match=r"base value I0 of 2009-10"):
        require_revision_indices(tariff, Month(2011, 4))
    draft = draft_invoice(site(), Month(2011, 4), {}, tariff)
    assert draft.revision.pending and draft.revision.coefficient == 1 and draft.lines[0].amount == D("1800.00")
    require_revision_indices(tariff, Month(2011, 3))  # first year: no index needed


# ---- file errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "line", "field", "message"),
    [
        ("TEST,2011-01,205,0,2011-02-28", 3, None, "5 cells for 4 columns"),
        ("TEST,2011-01,205.0", 3, "published_on", "3 cells for 4 columns"),
        ("TEST,2011-13,205.0,2011-02-28", 3, "period", "'2011-13' is not a month"),
        ("TEST,2011-01,205.0,28/02/2011", 3, "published_on", "'28/02/2011' is not a date"),
        ("TEST,2011-01,-205.0,2011-02-28", 3, "value", "'-205.0' is not a number"),
        ("TEST,2011-01,0,2011-02-28", 3, "value", "must be greater than 0"),
        ("TEST,2011-01,abc,2011-02-28", 3, "value", "'abc' is not a number"),
        ("TEST,2011-01,205.0,2011-01-15", 3, "published_on", "before the end of its month"),
        ("TEST,2009-10,200.0,2009-11-30", 3, "period", r"listed twice \(first on line 2\)"),
        ("T E S T,2011-01,205.0,2011-02-28", 3, "index", "is not an index name"),
    ],
)
def test_index_file_errors_name_file_line_and_column(tmp_path, broken, line, field, message):
    text = INDEX.replace("TEST,2011-01,205.0,2011-02-28", broken)
    contracts(tmp_path, text)
    with pytest.raises(ContractError, match=message) as info:
        load_price_index(tmp_path)
    assert (info.value.path, info.value.line, info.value.field) == (tmp_path / PRICE_INDEX_FILE, line, field)


def test_decimal_comma_in_the_index_file(tmp_path):
    contracts(tmp_path, 'index,period,value,published_on\nTEST,2009-10,"200,5",2009-11-30\n')
    with pytest.raises(ContractError, match="decimal comma: write 200.5") as info:
        load_price_index(tmp_path)
    assert (info.value.line, info.value.field) == (2, "value")


@pytest.mark.parametrize(
    ("header", "field"), [("index,period,value", "published_on"), ("index,period,value,published_on,note", "note")]
)
def test_index_file_header_errors(tmp_path, header, field):
    contracts(tmp_path, header + "\n")
    with pytest.raises(ContractError) as info:
        load_price_index(tmp_path)
    assert (info.value.line, info.value.field) == (1, field)


def test_the_index_file_is_required_with_a_revision_clause(tmp_path):
    contracts(tmp_path)
    (tmp_path / PRICE_INDEX_FILE).unlink()
    with pytest.raises(ContractError, match="price index file is missing"):
        load_tariff(tmp_path)


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ('b: "0.875"', 'b: "0.85"', 4, "revision.b", r"a \+ b must be 1 \(got 0.125 \+ 0.85 = 0.975\)"),
        ("base_period: 2009-10", "base_period: 2010-04", 5, "revision.base_period", "not before the agreement's start"),
        ("base_period: 2009-10", "base_period: octobre", 5, "revision.base_period", "is not a month"),
        ("current: last_published", "current: average", 6, "revision.current", "unknown rule 'average'"),
        ("coefficient_decimals: 4", "coefficient_decimals: 2.5", 8, "revision.coefficient_decimals", "whole number"),
        ("fee_decimals: 2", "fee_decimals: 1", 10, "revision.fee_decimals", "at least 2 decimals"),
        ("  index: TEST\n", "", 1, "revision.index", "missing required key 'index'"),
    ],
)
def test_revision_clause_errors_name_line_and_field(tmp_path, old, new, line, field, message):
    folder = contracts(tmp_path, revision=REVISION.replace(old, new))
    start = (folder / TARIFF_FILE).read_text(encoding="utf-8").index("revision:\n")
    first_line = (folder / TARIFF_FILE).read_text(encoding="utf-8")[:start].count("\n")
    with pytest.raises(ContractError, match=message) as info:
        load_tariff(folder)
    assert (info.value.path, info.value.line, info.value.field) == (folder / TARIFF_FILE, first_line + line, field)


def test_committed_index_is_the_sample_constant_and_loads():
    assert (REPO / "contracts" / PRICE_INDEX_FILE).read_bytes() == PRICE_INDEX_CSV.encode("utf-8")
    series = load_price_index(REPO / "contracts").series["SYNTEC"]
    assert len(series) == 40 and min(series) == Month(2009, 9) and max(series) == Month(2012, 12)


# ---- what the invoice shows --------------------------------------------------------------------------------------

SELLER = Party(
    name="GCS Test",
    siret="18007521000013",
    vat_id="FR50180075210",
    address=("1 rue de la Paix",),
    postcode="75002",
    city="Paris",
)
BUYER = Party(
    name="CH Test", siret="26750045200011", finess="750000015", address=("1 avenue",), postcode="75013", city="Paris"
)
EXPECTED_NOTE = (
    "Prix révisés au 01/04/2012 (révision annuelle, P = P0 × (0,125 + 0,875 × I / I0)) : coefficient 1,0569, avec "
    "I = indice TEST de février 2012 = 213,0 (publié le 30/03/2012) et I0 = indice TEST d'octobre 2009 = 200,0 "
    "(publié le 30/11/2009)."
)


def issued(tmp_path: Path):
    tariff = load_tariff(contracts(tmp_path))
    draft = draft_invoice(site(), Month(2012, 5), {"studies_archived": D(10)}, tariff)
    return replace(draft, number="RSF-000007", issue_date=date(2012, 6, 1))


def test_the_xml_carries_the_revision_as_a_note_and_stays_valid(tmp_path):
    xml = invoice_cii_xml(issued(tmp_path), SELLER, BUYER)
    assert check_einvoice(xml) == []
    notes = etree.fromstring(xml).xpath("//rsm:ExchangedDocument/ram:IncludedNote/ram:Content/text()", namespaces=NS)
    assert EXPECTED_NOTE in notes


def test_the_pdf_prints_the_coefficient_and_the_indices(tmp_path):
    pdf = invoice_pdf(issued(tmp_path), SELLER, BUYER, establishment_name="CH Test")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\u00a0", " ")
    text = re.sub(r"\s+", " ", text)
    assert "Révision des prix" in text
    for fragment in (
        "coefficient 1,0569",
        "février 2012 = 213,0",
        "publié le 30/03/2012",
        "octobre 2009 = 200,0",
        "publié le 30/11/2009",
    ):
        assert fragment in text, fragment


def test_the_csv_carries_the_revision_columns(tmp_path):
    rows = list(csv.DictReader(io.StringIO(invoice_csv(issued(tmp_path)))))
    assert {
        (
            r["revision_coefficient"],
            r["revision_index"],
            r["index_period"],
            r["index_value"],
            r["index_published_on"],
            r["base_index_period"],
            r["base_index_value"],
            r["base_index_published_on"],
        )
        for r in rows
    } == {("1.0569", "TEST", "2012-02", "213.0", "2012-03-30", "2009-10", "200.0", "2009-11-30")}
    # 10 x 2.5366 (2.40 x 1.0569 = 2.53656 -> 2.5366) = 25.366 -> 25.37
    studies = next(r for r in rows if r["code"] == "studies_archived:T1")
    assert (studies["unit_price"], studies["amount"]) == ("2.5366", "25.37")


def test_the_ledger_keeps_the_revision(tmp_path):
    draft = replace(issued(tmp_path), number=None, issue_date=None)
    with Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        ledger.issue_month(
            Month(2012, 5),
            [draft],
            inputs_sha256="0" * 64,
            issue_date=date(2012, 6, 1),
            first_month=Month(2012, 5),
            today=date(2012, 6, 1),
        )
        (stored,) = ledger.invoices_for_month(Month(2012, 5))
    assert stored.revision == draft.revision
    assert stored.lines == draft.lines


def test_the_ledger_refuses_a_pending_revision(tmp_path):
    tariff = load_tariff(contracts(tmp_path))
    pending = draft_invoice(site(), Month(2013, 4), {}, tariff)
    with Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        with pytest.raises(Exception, match="revision pending"):
            ledger.issue_month(
                Month(2013, 4),
                [pending],
                inputs_sha256="0" * 64,
                issue_date=date(2013, 5, 2),
                first_month=Month(2013, 4),
                today=date(2013, 5, 2),
            )
        assert ledger.issued_months() == []
