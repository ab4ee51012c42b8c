"""Finance's acts after issuing (issue 15) through the commands a finance officer types, on SQLite and on a real
PostgreSQL: credit notes, sending to the outbox, payments and statuses; every refusal in one line that changes
nothing; the audit trail; the database refusing edits of what was recorded; `ledger verify` covering it all.

The tiny corpus: its agreement starts in April 2010; A's first invoices are October's (RSF-000001, 1 800.00
subscription + 2 500.00 minimum, VAT 20 %) and November's (RSF-000002), issued on 1 November and 1 December 2010."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
import sqlalchemy as sa
from lxml import etree
from typer.testing import CliRunner

from analytics.billing.cii_check import check_einvoice
from analytics.billing.ledger import Ledger
from analytics.billing.ledger_tables import os_actor
from analytics.billing.model import Month
from analytics.config import Settings
from analytics.reporting.exports import BOM
from pipelines.cli import app
from tests.billing_history import issue_until
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)
from tests.tiny_corpus import with_ledger
from tests.unit.test_ledger import raw_url
from tests.unit.test_ledger_integrity import drop_triggers

TODAY = date(2011, 1, 20)
A = "750000015"
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}
runner = CliRunner()


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setenv("SANSFILM_NOW", f"{TODAY}T12:00:00")  # analytics.clock, the one clock


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tiny_built) -> Settings:
    tiny = tiny_built
    if request.param == "postgresql":
        tiny = with_ledger(tiny, request.getfixturevalue("postgres_database")())
    issue_until(tiny, Month(2010, 12), today=date(2010, 12, 31))
    return tiny


def cli(settings: Settings, *args: str):
    return runner.invoke(app, ["--config", str(settings.config_path), *args])


def accounts(settings: Settings) -> dict[str, dict]:
    result = cli(settings, "payments", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return {d["number"]: d for d in json.loads(result.stdout)["documents"]}


def refused(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr, result.stderr


def test_credit_one_line_is_a_valid_381_referencing_the_invoice(settings):
    done = cli(
        settings,
        "credit",
        "RSF-000001",
        "--lines",
        "1",
        "--reason",
        "Abonnement facturé à tort",
        "--issue-date",
        "2011-01-05",
        "--format",
        "json",
    )
    assert done.exit_code == 0, done.output
    note = json.loads(done.stdout)
    assert (note["number"], note["scope"], note["net"], note["vat"], note["gross"]) == (
        "RSF-000003",
        "lines",
        "-1800.00",
        "-360.00",
        "-2160.00",
    )
    folder = settings.billing.out_dir / "2010-10"
    xml = (folder / "RSF-000003.xml").read_bytes()
    assert check_einvoice(xml) == []  # the Factur-X EN 16931 XSD and Schematron
    root = etree.fromstring(xml)
    assert root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"
    assert root.findtext(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=NS) == "RSF-000001"
    totals = root.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation", NS)
    assert [
        totals.findtext(f"ram:{t}", namespaces=NS) for t in ("LineTotalAmount", "TaxTotalAmount", "GrandTotalAmount")
    ] == ["1800.00", "360.00", "2160.00"]
    assert [e.text for e in root.iterfind(".//ram:LineTotalAmount", NS)] == ["1800.00", "1800.00"]  # no negative
    assert b"Abonnement factur\xc3\xa9 \xc3\xa0 tort" in xml
    with open(folder / "RSF-000003.pdf", "rb") as pdf:
        import facturx

        _name, embedded = facturx.get_xml_from_pdf(pdf.read(), check_xsd=False)
    assert embedded == xml
    assert "RSF-000003,750000015,2010-10,AVOIR:SUBSCRIPTION" in (folder / "RSF-000003.csv").read_text()
    # the invoice's balance shows it; the line cannot be credited twice; the rest can, not more
    assert accounts(settings)["RSF-000001"]["credited"] == "2160.00"
    assert accounts(settings)["RSF-000001"]["balance"] == "3000.00"
    refused(
        cli(settings, "credit", "RSF-000001", "--lines", "1", "--reason", "x"),
        "line 1 of RSF-000001 is already credited",
    )
    refused(
        cli(settings, "credit", "RSF-000001", "--amount", "2500.01", "--reason", "x"),
        "RSF-000001: 2500.01 is more than the net not credited yet (2500.00 excluding VAT)",
    )
    partial = cli(settings, "credit", "RSF-000001", "--amount", "100", "--reason", "Geste commercial")
    assert (
        partial.exit_code == 0
        and "credit note RSF-000004 against RSF-000001 (amount): net -100.00  VAT -20.00  gross -120.00 EUR"
        in partial.stdout
    ), partial.output
    refused(
        cli(settings, "credit", "RSF-000001", "--reason", "le reste"),
        "these lines total 2500.00 excluding VAT, "
        "more than the net not credited yet (2400.00): credit the rest with --amount",
    )
    # numbering goes on through the next issue: one sequence, no gap, dates in number order, the chain covers it all
    refused(
        cli(settings, "bill", "--month", "2010-12", "--issue", "--issue-date", "2011-01-06"),
        "issue date 2011-01-06 is before the last issue in the ledger (2011-01-20)",
    )  # RSF-000004's date
    issued = cli(settings, "bill", "--month", "2010-12", "--issue", "--issue-date", "2011-01-20")
    assert issued.exit_code == 0 and "RSF-000005" in issued.stderr, issued.output
    verify = cli(settings, "ledger", "verify", "--format", "json")
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.stdout)["invoices"] == 5 and json.loads(verify.stdout)["documents"] == 15
    trail = json.loads(cli(settings, "ledger", "acts", "--format", "json").stdout)["acts"]
    assert [(a["kind"], a["subject"], a["actor"]) for a in trail[-4:]] == [
        ("issue", "2010-11", os_actor()),
        ("credit", "RSF-000003", os_actor()),
        ("credit", "RSF-000004", os_actor()),
        ("issue", "2010-12", os_actor()),
    ]  # every issue too, since the first month
    assert trail[-3]["detail"] == {
        "gross": "-2160.00",
        "invoice": "RSF-000001",
        "net": "-1800.00",
        "reason": "Abonnement facturé à tort",
        "scope": "lines",
    }
    # the acts about the invoice include the credit notes on it; a credit note's, its own
    about = json.loads(cli(settings, "ledger", "acts", "--subject", "RSF-000001", "--format", "json").stdout)["acts"]
    assert [(a["kind"], a["subject"]) for a in about] == [("credit", "RSF-000003"), ("credit", "RSF-000004")]
    about = json.loads(cli(settings, "ledger", "acts", "--subject", "RSF-000004", "--format", "json").stdout)["acts"]
    assert [(a["kind"], a["subject"]) for a in about] == [("credit", "RSF-000004")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["RSF-000009", "--reason", "x"], "no invoice numbered 'RSF-000009'"),
        (["RSF-000001", "--reason", "  "], "a credit note needs a reason (--reason TEXT)"),
        (["RSF-000001", "--lines", "3", "--reason", "x"], "RSF-000001 has lines 1 to 2: there is no line 3"),
        (["RSF-000001", "--lines", "1,1", "--reason", "x"], "--lines names a line twice (1,1)"),
        (["RSF-000001", "--lines", "1", "--amount", "5", "--reason", "x"], "give either --lines or --amount, not both"),
        (["RSF-000001", "--amount", "12.345", "--reason", "x"], "at most two decimals"),
        (["RSF-000001", "--amount", "douze", "--reason", "x"], "--amount 'douze' is not an amount"),
        (["RSF-000001", "--reason", "x", "--issue-date", "2011-02-01"], "is after today (2011-01-20, Europe/Paris)"),
        (
            ["RSF-000001", "--reason", "x", "--issue-date", "2010-11-30"],
            "issue date 2010-11-30 is before the last issue in the ledger (2010-12-01)",
        ),
    ],
)
def test_credit_refusals_change_nothing(settings, args, message):
    with Ledger(settings.ledger.url) as ledger:
        before = ledger.verify()
    refused(cli(settings, "credit", *args), message)
    with Ledger(settings.ledger.url) as ledger:
        assert ledger.verify() == before and before.ok
    assert not (settings.billing.out_dir / "2010-10" / "RSF-000003.pdf").exists()


def test_payments_statuses_overdue_and_sending_to_the_outbox(settings):
    found = accounts(settings)
    # A is a public hospital: 50 days (payment_terms in framework.yaml), from the issue date
    first = found["RSF-000001"]
    assert (first["status"], first["gross"], first["balance"]) == ("overdue", "5160.00", "5160.00")
    assert (first["issue_date"], first["due_date"], first["days_late"]) == ("2010-11-01", "2010-12-21", 30)
    assert found["RSF-000002"]["due_date"] == "2011-01-20"  # due today: not late yet
    assert found["RSF-000002"]["status"] == "issued" and found["RSF-000002"]["days_late"] == 0
    overdue = cli(settings, "payments", "list", "--overdue", "--format", "json")
    assert [d["number"] for d in json.loads(overdue.stdout)["documents"]] == ["RSF-000001"]

    sent = cli(settings, "send", "RSF-000002")
    assert sent.exit_code == 0 and f"sent RSF-000002 by outbox to {settings.billing.outbox}" in sent.stdout, sent.output
    issued_pdf = (settings.billing.out_dir / "2010-11" / "RSF-000002.pdf").read_bytes()
    assert (settings.billing.outbox / "RSF-000002.pdf").read_bytes() == issued_pdf
    assert accounts(settings)["RSF-000002"]["status"] == "sent"
    assert cli(settings, "send", "RSF-000002").exit_code == 0  # a re-send, recorded again
    sendings = json.loads(cli(settings, "ledger", "acts", "--subject", "RSF-000002", "--format", "json").stdout)["acts"]
    assert [(a["kind"], a["detail"]["transport"]) for a in sendings] == [("send", "outbox"), ("send", "outbox")]
    assert {a["recorded_at"] for a in sendings} == {"2011-01-20T11:00:00+00:00"}  # the one clock: $SANSFILM_NOW
    (settings.billing.out_dir / "2010-11" / "RSF-000002.pdf").write_bytes(b"%PDF altered")
    refused(cli(settings, "send", "RSF-000002"), "is not the document issued")
    refused(
        cli(settings, "send", "RSF-000002", "--transport", "pigeon"), "transport 'pigeon' is not one of outbox, email"
    )
    refused(cli(settings, "send", "RSF-000001", "--transport", "email"), f"establishment {A} has no billing_email")
    refused(cli(settings, "payments", "list", "--establishment", "75000001"), "'75000001' is not the FINESS of an")

    paid = cli(
        settings,
        "payments",
        "add",
        "RSF-000002",
        "--amount",
        "1000.00",
        "--reference",
        "VIR 2011-01 AP",
        "--date",
        "2011-01-10",
    )
    assert paid.exit_code == 0, paid.output
    assert (accounts(settings)["RSF-000002"]["status"], accounts(settings)["RSF-000002"]["balance"]) == (
        "partly paid",
        "4160.00",
    )
    refused(
        cli(settings, "payments", "add", "RSF-000002", "--amount", "4160.01", "--reference", "x"),
        "RSF-000002: 4160.01 is more than the balance due (4160.00: total 5160.00, credited 0.00, paid 1000.00)",
    )
    refused(
        cli(settings, "payments", "add", "RSF-000002", "--amount", "1", "--reference", "x", "--date", "2010-11-30"),
        "payment date 2010-11-30 is before RSF-000002 was issued (2010-12-01)",
    )
    refused(
        cli(settings, "payments", "add", "RSF-000002", "--amount", "1", "--reference", " "),
        "a payment needs its reference",
    )
    assert cli(settings, "payments", "add", "RSF-000002", "--amount", "4160", "--reference", "VIR 2").exit_code == 0
    listed = cli(settings, "payments", "list", "--format", "json")
    payload = json.loads(listed.stdout)
    assert {d["number"]: d["status"] for d in payload["documents"]} == {"RSF-000001": "overdue", "RSF-000002": "paid"}
    assert [(p["amount"], p["reference"], p["recorded_by"]) for p in payload["payments"]] == [
        ("1000.00", "VIR 2011-01 AP", os_actor()),
        ("4160.00", "VIR 2", os_actor()),
    ]
    table = cli(settings, "payments", "list", "--status", "paid")
    assert table.exit_code == 0 and "RSF-000002" in table.stdout and "RSF-000001" not in table.stdout
    # in the French dialect the last sending's moment is in Paris time, as a spreadsheet reads it
    french = runner.invoke(
        app, ["--config", str(settings.config_path), "--csv-dialect", "fr", "payments", "list", "--format", "csv"]
    )
    assert french.exit_code == 0, french.output
    rows = {r["number"]: r for r in csv.DictReader(io.StringIO(french.stdout.removeprefix(BOM)), delimiter=";")}
    assert rows["RSF-000002"]["sent"] == "20/01/2011 12:00:00 outbox"  # $SANSFILM_NOW, 11:00 UTC
    assert rows["RSF-000002"]["issue_date"] == "01/12/2010"
    # a credit note is sent like an invoice; the ledger verifies (chain, numbering, documents) after every act
    assert cli(settings, "credit", "RSF-000001", "--reason", "Résiliation").exit_code == 0
    assert cli(settings, "send", "RSF-000003").exit_code == 0
    assert accounts(settings)["RSF-000003"]["status"] == "sent"
    assert accounts(settings)["RSF-000001"]["status"] == "credited"
    (settings.billing.out_dir / "2010-11" / "RSF-000002.pdf").write_bytes(issued_pdf)
    assert cli(settings, "ledger", "verify").exit_code == 0


def test_recorded_acts_cannot_be_edited_and_an_edit_with_triggers_dropped_is_seen(settings):
    assert cli(settings, "credit", "RSF-000001", "--lines", "2", "--reason", "Minimum non dû").exit_code == 0
    assert cli(settings, "payments", "add", "RSF-000002", "--amount", "10", "--reference", "VIR").exit_code == 0
    assert cli(settings, "send", "RSF-000003").exit_code == 0
    engine = sa.create_engine(raw_url(Ledger(settings.ledger.url)))
    statements = [
        "UPDATE payment SET amount = '1'",
        "DELETE FROM payment",
        "UPDATE credit_note SET reason = 'x'",
        "DELETE FROM credit_note_line",
        "UPDATE credit_note_document SET sha256 = 'x'",
        "DELETE FROM dispatch",
        "UPDATE ledger_act SET actor = 'someone else'",
        "DELETE FROM ledger_act",
        "UPDATE invoice_sequence SET last_value = 2",  # back on the last invoice, forgetting the credit note
    ]
    try:
        for statement in statements:
            with pytest.raises(sa.exc.DBAPIError, match="immutable"), engine.begin() as conn:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()
    with Ledger(settings.ledger.url) as ledger:
        assert ledger.verify().ok
        drop_triggers(ledger)
    engine = sa.create_engine(raw_url(Ledger(settings.ledger.url)))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE payment SET amount = '1.00'")
    engine.dispose()
    broken = cli(settings, "ledger", "verify")
    assert broken.exit_code == 1 and "payment " in broken.stderr and "was altered" in broken.stderr, broken.stderr


def test_documents_print_the_payment_terms_of_the_buyers_sector(settings):
    """A public hospital pays within 50 days (contracts/framework.yaml `payment_terms`): its invoice's PDF, XML and
    follow-up all say so, and the credit note against it carries the same terms."""
    from pypdf import PdfReader

    folder = settings.billing.out_dir / "2010-10"
    root = etree.fromstring((folder / "RSF-000001.xml").read_bytes())
    terms = root.find(".//ram:SpecifiedTradePaymentTerms", NS)
    assert (
        terms.findtext("ram:Description", namespaces=NS)
        == "Paiement à 50 jours par virement, au plus tard le 21/12/2010."
    )
    assert terms.findtext("ram:DueDateDateTime/*", namespaces=NS) == "20101221"  # 1 November + 50 days
    text = " ".join(page.extract_text() for page in PdfReader(folder / "RSF-000001.pdf").pages)
    assert "Paiement à 50 jours" in " ".join(text.split()) and "30 jours" not in text
    assert accounts(settings)["RSF-000001"]["due_date"] == "2010-12-21"
    done = cli(settings, "credit", "RSF-000001", "--amount", "10", "--reason", "Geste", "--issue-date", "2011-01-05")
    assert done.exit_code == 0, done.output
    note = etree.fromstring((folder / "RSF-000003.xml").read_bytes())
    assert note.findtext(".//ram:DueDateDateTime/*", namespaces=NS) == "20110224"  # 5 January + 50 days
