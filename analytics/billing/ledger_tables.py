"""The ledger's tables as the code reads and writes them (the Alembic revisions in analytics/billing/migrations make
them), their exact Decimal type, the ledger's errors and the conversions between rows and the billing model.
analytics.billing.ledger re-exports what others use."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    select,
)

from analytics.billing.chain import GENESIS, ChainWriter
from analytics.billing.model import IndexPoint, Party, PriceRevision
from analytics.clock import paris_now
from analytics.errors import SansfilmError
from analytics.periods import Month

NUMBER_PREFIX = "RSF-"


class LedgerError(SansfilmError):
    """The ledger refused an operation or holds something inconsistent."""


class LedgerUnreachable(LedgerError):
    """The ledger database cannot be opened or reached."""


class InvoiceNotFound(LedgerError):
    """No issued invoice carries this number."""


class IssueRefused(LedgerError):
    """The issuing rules refuse this month or this issue date now (the message says what to do instead)."""


def invoice_number(seq: int) -> str:
    return f"{NUMBER_PREFIX}{seq:06d}"


class ExactDecimal(TypeDecorator[Decimal]):
    """Decimal stored without loss: NUMERIC (unconstrained) on PostgreSQL, its text form elsewhere."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        value = exact_decimal(value, "value")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return (
            None
            if value is None
            else Decimal(value)
            if isinstance(value, str)
            else exact_decimal(value, "stored value")
        )


metadata = MetaData()

invoice_sequence = Table(
    "invoice_sequence",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("last_value", Integer, nullable=False),  # the last number given; the next invoice takes last_value + 1
    Column("chain_length", Integer, nullable=False, server_default="0"),  # rows in the hash chain (billing.chain)
    Column("chain_head", String(64), nullable=False, server_default=GENESIS),  # row_hash of the chain's last row
)


def chain_columns(table: str) -> list[Any]:
    """Every recorded row's place in the hash chain (analytics.billing.chain); nullable because revision 0002 added
    them to rows that existed (it fills them), a NULL is reported by `ledger verify`."""
    return [
        Column("chain_seq", Integer),
        Column("prev_hash", String(64)),
        Column("row_hash", String(64)),
        Index(f"ix_{table}_chain_seq", "chain_seq", unique=True),
    ]


issued_month = Table(
    "issued_month",
    metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM; the key makes "issued twice" impossible
    Column("inputs_sha256", String(64), nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("invoice_count", Integer, nullable=False),
    Column("recorded_at", String(32), nullable=False),  # UTC, ISO 8601
    *chain_columns("issued_month"),
)

invoice = Table(
    "invoice",
    metadata,
    Column("number", String(32), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("month", String(7), ForeignKey(issued_month.c.month), nullable=False),
    Column("establishment_id", String(64), nullable=False),
    Column("offer", String(32), nullable=False),
    Column("active_days", Integer, nullable=False),
    Column("days_in_month", Integer, nullable=False),
    Column("contract_id", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("vat_rate", ExactDecimal, nullable=False),
    Column("net", ExactDecimal, nullable=False),
    Column("vat", ExactDecimal, nullable=False),
    Column("gross", ExactDecimal, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("inputs_sha256", String(64), nullable=False),
    Column("payment_days", Integer),  # the terms printed (revision 0005); NULL before: 30 days
    UniqueConstraint("month", "establishment_id"),
    *chain_columns("invoice"),
)

invoice_line = Table(
    "invoice_line",
    metadata,
    Column("invoice_number", ForeignKey(invoice.c.number), primary_key=True),
    Column("position", Integer, primary_key=True),  # 1-based, the order printed on the invoice
    Column("code", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("metric", String(64)),
    Column("quantity", ExactDecimal, nullable=False),
    Column("unit_price", ExactDecimal, nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    Column("reference", ForeignKey(invoice.c.number)),  # regularisation: the invoice being corrected
    *chain_columns("invoice_line"),
)

invoice_usage = Table(
    "invoice_usage",
    metadata,
    Column("invoice_number", ForeignKey(invoice.c.number), primary_key=True),
    Column("metric", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    *chain_columns("invoice_usage"),
)

invoice_revision = Table(
    "invoice_revision",
    metadata,  # the price revision an invoice's prices carry (none before the first anniversary)
    Column("invoice_number", ForeignKey(invoice.c.number), primary_key=True),
    Column("index_name", String(64), nullable=False),
    Column("a", ExactDecimal, nullable=False),
    Column("b", ExactDecimal, nullable=False),
    Column("coefficient", ExactDecimal, nullable=False),
    Column("anniversary", Date, nullable=False),
    Column("current_period", String(7), nullable=False),
    Column("current_value", ExactDecimal, nullable=False),
    Column("current_published_on", Date, nullable=False),
    Column("base_period", String(7), nullable=False),
    Column("base_value", ExactDecimal, nullable=False),
    Column("base_published_on", Date, nullable=False),
    *chain_columns("invoice_revision"),
)

invoice_party = Table(
    "invoice_party",
    metadata,  # seller and buyer as the documents show them, frozen when the invoice is numbered
    Column("invoice_number", ForeignKey(invoice.c.number), primary_key=True),
    Column("role", String(8), primary_key=True),  # seller | buyer
    Column("name", Text, nullable=False),
    Column("siret", String(14), nullable=False),
    Column("finess", String(9)),
    Column("vat_id", String(32)),
    Column("address", Text, nullable=False),  # the street lines as a JSON list
    Column("postcode", String(16), nullable=False),
    Column("city", Text, nullable=False),
    Column("country", String(2), nullable=False),
    *chain_columns("invoice_party"),
)

invoice_document = Table(
    "invoice_document",
    metadata,  # the files rendered from the rows above, and their SHA-256
    Column("invoice_number", ForeignKey(invoice.c.number), primary_key=True),
    Column("kind", String(8), primary_key=True),  # pdf | xml | csv
    Column("file_name", String(64), nullable=False),  # under <out_dir>/<month>/
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    *chain_columns("invoice_document"),
)

# --- what follows an issue (issue 15): every act, credit notes, sendings and payments; chained and immutable ------

ledger_act = Table(
    "ledger_act",
    metadata,  # the audit trail: who did what, when; written in the transaction of its effect
    Column("id", Integer, primary_key=True, autoincrement=False),  # 1, 2, ... in the order acts were recorded
    Column("kind", String(16), nullable=False),  # issue | credit | send | payment
    Column("subject", String(32), nullable=False),  # the month issued, or the invoice / credit note number
    Column("actor", String(128), nullable=False),  # the dashboards user, or the OS user of the CLI
    Column("recorded_at", String(32), nullable=False),  # UTC, ISO 8601
    Column("detail", Text, nullable=False),  # JSON, sorted keys
    *chain_columns("ledger_act"),
)

credit_note = Table(
    "credit_note",
    metadata,  # EN 16931 type 381, numbered in the invoices' one gapless sequence
    Column("number", String(32), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("invoice_number", ForeignKey(invoice.c.number), nullable=False),  # BT-25: the invoice it corrects
    Column("act_id", ForeignKey(ledger_act.c.id), nullable=False),
    Column("scope", String(8), nullable=False),  # total | lines | amount
    Column("reason", Text, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("vat_rate", ExactDecimal, nullable=False),
    Column("net", ExactDecimal, nullable=False),  # negative: the amounts credited
    Column("vat", ExactDecimal, nullable=False),
    Column("gross", ExactDecimal, nullable=False),
    *chain_columns("credit_note"),
)

credit_note_line = Table(
    "credit_note_line",
    metadata,
    Column("credit_note_number", ForeignKey(credit_note.c.number), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("invoice_position", Integer),  # the invoice line credited; NULL for a credit of an amount
    Column("code", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("metric", String(64)),
    Column("quantity", ExactDecimal, nullable=False),
    Column("unit_price", ExactDecimal, nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    *chain_columns("credit_note_line"),
)

credit_note_document = Table(
    "credit_note_document",
    metadata,  # under <out_dir>/<month of the credited invoice>/, like the invoice's
    Column("credit_note_number", ForeignKey(credit_note.c.number), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("file_name", String(64), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    *chain_columns("credit_note_document"),
)

dispatch = Table(
    "dispatch",
    metadata,  # one row per sending (a re-send is another row)
    Column("act_id", ForeignKey(ledger_act.c.id), primary_key=True),
    Column("document_number", String(32), nullable=False),  # an invoice or a credit note
    Column("transport", String(16), nullable=False),  # outbox | email
    Column("recipient", Text, nullable=False),  # the outbox folder, or the e-mail address
    Column("file_name", String(64), nullable=False),
    Column("sha256", String(64), nullable=False),
    *chain_columns("dispatch"),
)

payment = Table(
    "payment",
    metadata,
    Column("act_id", ForeignKey(ledger_act.c.id), primary_key=True),
    Column("invoice_number", ForeignKey(invoice.c.number), nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("amount", ExactDecimal, nullable=False),  # received, VAT included
    Column("reference", Text, nullable=False),
    *chain_columns("payment"),
)

FOLLOW_UP = (ledger_act, credit_note, credit_note_line, credit_note_document, dispatch, payment)

# Every chained table (`ledger verify` reads them all); an issue records a month's rows in this order (see
# _insert_invoice), the acts after it theirs.
CHAINED = (
    issued_month,
    invoice,
    invoice_line,
    invoice_usage,
    invoice_revision,
    invoice_party,
    invoice_document,
    *FOLLOW_UP,
)


def children(conn: Connection, table: Table, where: Any) -> Any:
    on = table.c.invoice_number == invoice.c.number
    order = [invoice.c.seq, table.c.position] if "position" in table.c else [invoice.c.seq]
    return conn.execute(select(table).join(invoice, on).where(where).order_by(*order))


def party_row(number: str, role: str, party: Party) -> dict[str, Any]:
    return {
        "invoice_number": number,
        "role": role,
        "name": party.name,
        "siret": party.siret,
        "finess": party.finess,
        "vat_id": party.vat_id,
        "address": json.dumps(list(party.address), ensure_ascii=False),
        "postcode": party.postcode,
        "city": party.city,
        "country": party.country,
    }


def party_from_row(row: Any) -> Party:
    return Party(
        row.name, row.siret, row.finess, row.vat_id, tuple(json.loads(row.address)), row.postcode, row.city, row.country
    )


def revision_from_row(row: Any) -> PriceRevision:
    return PriceRevision(
        row.index_name,
        row.a,
        row.b,
        row.coefficient,
        row.anniversary,
        IndexPoint(Month.parse(row.current_period), row.current_value, row.current_published_on),
        IndexPoint(Month.parse(row.base_period), row.base_value, row.base_published_on),
    )


def os_actor() -> str:
    """Who acts from the command line: the operating-system user."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (a bare container)
        return f"os:uid-{os.getuid()}"


def record_act(
    conn: Connection, chain: ChainWriter, kind: str, subject: str, actor: str, detail: dict[str, Any]
) -> int:
    """Append one act to the audit trail (in the caller's transaction, with its effect); its id."""
    act_id = conn.execute(select(func.coalesce(func.max(ledger_act.c.id), 0))).scalar_one() + 1
    insert_chained(
        conn,
        chain,
        ledger_act,
        [
            {
                "id": act_id,
                "kind": kind,
                "subject": subject,
                "actor": actor,
                "recorded_at": paris_now().astimezone(UTC).isoformat(timespec="seconds"),
                "detail": json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str),
            }
        ],
    )
    return act_id


@dataclass
class Recorder:
    """What an act writes with (Ledger.recording): the transaction, the chain, and the numbering's last value."""

    conn: Connection
    chain: ChainWriter
    last_value: int
    where: str

    def act(self, kind: str, subject: str, actor: str, detail: dict[str, Any]) -> int:
        return record_act(self.conn, self.chain, kind, subject, actor, detail)

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        insert_chained(self.conn, self.chain, table, rows)

    def next_number(self) -> tuple[int, str]:
        """Take the next number of the one gapless sequence (given back if the transaction fails)."""
        self.last_value += 1
        return self.last_value, invoice_number(self.last_value)


def insert_chained(conn: Connection, chain: ChainWriter, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows in order, each linked to the chain (decimals made Decimals first: the hash is of what is read
    back)."""
    exact = {c.name for c in table.columns if isinstance(c.type, ExactDecimal)}
    linked = [
        chain.link(
            table.name, {k: (exact_decimal(v, k) if k in exact and v is not None else v) for k, v in row.items()}
        )
        for row in rows
    ]
    if linked:
        conn.execute(table.insert(), linked)


def exact_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise LedgerError(f"{what} is {value!r} ({type(value).__name__}): the ledger records exact Decimals only")
    value = Decimal(value)
    if not value.is_finite():
        raise LedgerError(f"{what} is {value}: the ledger records finite amounts only")
    return value
