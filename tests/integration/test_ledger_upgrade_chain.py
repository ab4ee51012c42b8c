"""A ledger issued by sansfilm v0.1.0, upgraded (revision 0002), on SQLite and on a real PostgreSQL: `ledger verify`
passes right after `sansfilm upgrade`, the documents issued then stay byte-identical, the parties are those the
issued XML shows (not today's registry), and issuing goes on in the same chain."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from analytics.billing import schema, service
from analytics.billing.contracts import load_contracts
from analytics.billing.documents import facturx_pdf, invoice_cii_xml, invoice_csv, invoice_pdf
from analytics.billing.ledger import ExactDecimal, Ledger, engine
from analytics.periods import Month
from pipelines.cli import app
from tests.billing_history import TODAY
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)
from tests.tiny_corpus import with_ledger

OCTOBER = Month(2010, 10)
OLD_NAME, NEW_NAME = "Hôpital Européen Georges-Pompidou", "HEGP (renamed after issuing)"
runner = CliRunner()

V010 = sa.MetaData()  # the v0.1.0 columns this test writes, as v0.1.0 wrote them
V010_TABLES = {
    "issued_month": sa.Table(
        "issued_month",
        V010,
        sa.Column("month"),
        sa.Column("inputs_sha256"),
        sa.Column("issue_date", sa.Date),
        sa.Column("invoice_count"),
        sa.Column("recorded_at"),
    ),
    "invoice": sa.Table(
        "invoice",
        V010,
        *(
            sa.Column(c)
            for c in (
                "number",
                "seq",
                "month",
                "establishment_id",
                "offer",
                "active_days",
                "days_in_month",
                "contract_id",
                "currency",
                "inputs_sha256",
            )
        ),
        sa.Column("issue_date", sa.Date),
        *(sa.Column(c, ExactDecimal) for c in ("vat_rate", "net", "vat", "gross")),
    ),
    "invoice_line": sa.Table(
        "invoice_line",
        V010,
        *(sa.Column(c) for c in ("invoice_number", "position", "code", "description", "metric", "reference")),
        *(sa.Column(c, ExactDecimal) for c in ("quantity", "unit_price", "amount")),
    ),
    "invoice_usage": sa.Table(
        "invoice_usage",
        V010,
        sa.Column("invoice_number"),
        sa.Column("metric"),
        sa.Column("position"),
        sa.Column("quantity", ExactDecimal),
    ),
}


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setenv("SANSFILM_NOW", f"{TODAY}T12:00:00")  # analytics.clock, the one clock


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tiny_built):
    if request.param == "postgresql":
        return with_ledger(tiny_built, request.getfixturevalue("postgres_database")())
    return tiny_built


def _issue_as_v0_1_0(settings) -> dict[str, bytes]:
    """April to October 2010 issued as v0.1.0 did (A's October invoice RSF-000001), its documents written then (a
    v0.1.0 PDF carried the time it was written: not reproducible)."""
    contracts = load_contracts(settings)
    (draft,) = service.draft_month(contracts, OCTOBER, {})
    issued = draft.__class__(
        **{**{f: getattr(draft, f) for f in draft.__slots__}, "number": "RSF-000001", "issue_date": date(2010, 11, 2)}
    )
    db = engine(settings.ledger.url)
    try:
        with db.connect() as conn, conn.begin():
            schema.migrate(conn, "0001")
            month = Month(2010, 4)
            while month <= OCTOBER:
                conn.execute(
                    V010_TABLES["issued_month"]
                    .insert()
                    .values(
                        month=str(month),
                        inputs_sha256="a" * 64,
                        issue_date=month.next().first_day,
                        invoice_count=int(month == OCTOBER),
                        recorded_at=f"{month.next().first_day}T08:00:00+00:00",
                    )
                )
                month = month.next()
            conn.execute(
                V010_TABLES["invoice"]
                .insert()
                .values(
                    number="RSF-000001",
                    seq=1,
                    month=str(OCTOBER),
                    establishment_id=issued.establishment_id,
                    offer=issued.offer,
                    active_days=issued.active_days,
                    days_in_month=issued.days_in_month,
                    contract_id=issued.contract_id,
                    currency=issued.currency,
                    vat_rate=issued.vat_rate,
                    net=issued.net,
                    vat=issued.vat,
                    gross=issued.gross,
                    issue_date=issued.issue_date,
                    inputs_sha256="a" * 64,
                )
            )
            conn.execute(
                V010_TABLES["invoice_line"].insert(),
                [
                    {
                        "invoice_number": "RSF-000001",
                        "position": n,
                        "code": l.code,
                        "description": l.description,
                        "metric": l.metric,
                        "reference": l.reference,
                        "quantity": l.quantity,
                        "unit_price": l.unit_price,
                        "amount": l.amount,
                    }
                    for n, l in enumerate(issued.lines, start=1)
                ],
            )
            conn.execute(
                V010_TABLES["invoice_usage"].insert(),
                [
                    {"invoice_number": "RSF-000001", "metric": m, "position": n, "quantity": Decimal(q)}
                    for n, (m, q) in enumerate(issued.usage.items(), start=1)
                ],
            )
            conn.exec_driver_sql("UPDATE invoice_sequence SET last_value = 1")
    finally:
        db.dispose()
    seller = service.seller_party(contracts)
    buyer = service.buyer_party(contracts.registry.by_id()[issued.establishment_id])
    xml = invoice_cii_xml(issued, seller, buyer)
    pdf = facturx_pdf(invoice_pdf(issued, seller, buyer, establishment_name=buyer.name), xml, issued, seller)
    files = {
        "RSF-000001.xml": xml,
        "RSF-000001.csv": invoice_csv(issued).encode(),
        "RSF-000001.pdf": pdf + b"% written on 2010-11-02 at 09:14:07\n",
    }
    folder = settings.billing.out_dir / str(OCTOBER)
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def cli(settings, *args: str):
    return runner.invoke(app, ["--config", str(settings.config_path), *args])


def test_ledger_verify_passes_right_after_upgrading_a_v0_1_0_ledger(settings):
    files = _issue_as_v0_1_0(settings)
    registry = settings.contracts.dir / "establishments.csv"
    registry.write_text(registry.read_text(encoding="utf-8").replace(OLD_NAME, NEW_NAME), encoding="utf-8")
    upgraded = cli(settings, "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert "0002 Hash chain, frozen parties and document hashes" in upgraded.stdout
    verify = cli(settings, "ledger", "verify")
    assert verify.exit_code == 0, verify.output
    # 26: among them one usage row per metric of METRICS (11 since the tele-opinion and portal metrics, 7 in 0.1.0)
    assert "verified: 26 rows chained, 1 invoices numbered without gap, 3 documents as recorded" in verify.stdout
    folder = settings.billing.out_dir / str(OCTOBER)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files  # byte-identical
    with Ledger(settings.ledger.url) as ledger:
        (october,) = ledger.invoices_for_month(OCTOBER)
        recorded = ledger.documents(OCTOBER)["RSF-000001"]
    assert october.buyer.name == OLD_NAME and october.seller.siret == "18007521000013"  # from the issued XML
    assert {kind: sha for kind, (_, sha) in recorded.items()} == {
        name.rsplit(".", 1)[1]: hashlib.sha256(data).hexdigest() for name, data in files.items()
    }
    # the XML and the CSV re-render identically from the ledger; the v0.1.0 PDF cannot be, and is not replaced
    (folder / "RSF-000001.xml").unlink()
    assert cli(settings, "bill", "--month", "2010-10", "--rewrite-documents").exit_code == 0
    assert (folder / "RSF-000001.xml").read_bytes() == files["RSF-000001.xml"]
    (folder / "RSF-000001.pdf").unlink()
    refused = cli(settings, "bill", "--month", "2010-10", "--rewrite-documents")
    assert refused.exit_code == 2 and "restore it from a backup" in refused.stderr
    (folder / "RSF-000001.pdf").write_bytes(files["RSF-000001.pdf"])
    # issuing goes on, in the same chain
    assert cli(settings, "bill", "--month", "2010-11", "--issue", "--issue-date", "2010-12-01").exit_code == 0
    after = cli(settings, "ledger", "verify")
    assert after.exit_code == 0 and "2 invoices numbered without gap, 6 documents" in after.stdout
