"""The invoice ledger: the legal record of issued invoices, in a relational database reached through SQLAlchemy.

Why it is built this way:
- French invoices must carry "a unique number based on a chronological and continuous sequence" (CGI, annexe II,
  art. 242 nonies A): no gap, no reuse, no reset. So there is ONE sequence (`RSF-000001`, `RSF-000002`, ...) kept
  in a counter row that is read and advanced in the same transaction that records the invoices: a failure rolls the
  counter back with them and consumes no number. A database SEQUENCE or autoincrement would not do: they are not
  transactional and leave gaps on rollback. Numbers are never reset (not per year, not per month), and issue dates
  never go back along the sequence.
- Issuing is serialised. PostgreSQL: the counter row is locked (`SELECT ... FOR UPDATE`, READ COMMITTED) before the
  month is checked, so a second issuer waits, then sees the first one's commit. SQLite: every write transaction
  starts with `BEGIN IMMEDIATE` (one writer at a time) and a busy timeout makes the second writer wait instead of
  failing. On both, a primary key on the issued month is the backstop against issuing a month twice.
- Issued invoices are never modified: this API has no update or delete, and triggers reject UPDATE/DELETE (and
  TRUNCATE) of recorded rows and any step back of the counter. A later correction travels as regularisation lines
  of a later invoice, whose `reference` names the original invoice (checked to exist).
- Money and quantities are exact Decimals: NUMERIC on PostgreSQL, text on SQLite (which has no decimal type and
  would otherwise round them through binary floats).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column, Connection, Date, Engine, ForeignKey, Integer, MetaData, Numeric, String, Table, Text, TypeDecorator,
    UniqueConstraint, create_engine, event, exc, func, select, text, update,
)  # fmt: skip
from sqlalchemy.engine import make_url

from analytics.billing.model import IndexPoint, Invoice, InvoiceLine, Month, PriceRevision
from analytics.errors import SansfilmError

NUMBER_PREFIX = "RSF-"
SEQUENCE_NAME = "invoice"
BUSY_TIMEOUT_S = 60  # how long a second issuer waits for the first one before giving up
_SCHEMA_LOCK_KEY = 0x5A4E5346  # PostgreSQL advisory lock taken while creating the schema ("SNSF")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class LedgerError(SansfilmError):
    """The ledger refused an operation or holds something inconsistent."""


class LedgerUnreachable(LedgerError):
    """The ledger database cannot be opened or reached."""


class InvoiceNotFound(LedgerError):
    """No issued invoice carries this number."""


@dataclass(frozen=True)
class IssueResult:
    month: Month
    already_issued: bool
    numbers: tuple[str, ...]
    inputs_sha256: str  # the hash stored when the month was issued (the caller's when issued now)


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
        value = _exact(value, "value")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value) if isinstance(value, str) else _exact(value, "stored value")


metadata = MetaData()

invoice_sequence = Table(
    "invoice_sequence", metadata,
    Column("name", String(32), primary_key=True),
    Column("last_value", Integer, nullable=False),  # the last number given; the next invoice takes last_value + 1
)  # fmt: skip

issued_month = Table(
    "issued_month", metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM; the key makes "issued twice" impossible
    Column("inputs_sha256", String(64), nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("invoice_count", Integer, nullable=False),
    Column("recorded_at", String(32), nullable=False),  # UTC, ISO 8601
)  # fmt: skip

invoice = Table(
    "invoice", metadata,
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
    UniqueConstraint("month", "establishment_id"),
)  # fmt: skip

invoice_line = Table(
    "invoice_line", metadata,
    Column("invoice_number", ForeignKey(invoice.c.number), primary_key=True),
    Column("position", Integer, primary_key=True),  # 1-based, the order printed on the invoice
    Column("code", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("metric", String(64)),
    Column("quantity", ExactDecimal, nullable=False),
    Column("unit_price", ExactDecimal, nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    Column("reference", ForeignKey(invoice.c.number)),  # regularisation: the invoice being corrected
)  # fmt: skip

invoice_usage = Table(
    "invoice_usage", metadata,
    Column("invoice_number", ForeignKey(invoice.c.number), primary_key=True),
    Column("metric", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
)  # fmt: skip

invoice_revision = Table(
    "invoice_revision", metadata,  # the price revision an invoice's prices carry (none before the first anniversary)
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
)  # fmt: skip

# What the database itself refuses, on top of an API without update or delete: (trigger, table, operation, unless).
_STEP_BACK = "NEW.last_value < OLD.last_value OR NEW.name <> OLD.name"
_GUARDS = [
    (f"{table}_no_{op.lower()}", table, op, None)
    for table in ("issued_month", "invoice", "invoice_line", "invoice_usage", "invoice_revision")
    for op in ("UPDATE", "DELETE")
] + [("invoice_sequence_no_step_back", "invoice_sequence", "UPDATE", _STEP_BACK),
     ("invoice_sequence_no_delete", "invoice_sequence", "DELETE", None)]  # fmt: skip
_REFUSED = "sansfilm ledger: {op} on {table} refused: issued invoices are immutable"
_PG_FUNCTION = """CREATE OR REPLACE FUNCTION sansfilm_ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'sansfilm ledger: % on % refused: issued invoices are immutable', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END $$"""


def _guard_statements(postgres: bool, present: set[str]) -> list[str]:
    """The DDL of the missing guards (PostgreSQL also refuses TRUNCATE; SQLite has none)."""
    if not postgres:
        return [
            f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {op} ON {table} {f'WHEN {unless} ' if unless else ''}"
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSED.format(op=op, table=table)}'); END"
            for name, table, op, unless in _GUARDS
        ]
    run = "EXECUTE FUNCTION sansfilm_ledger_immutable()"
    wanted = {
        name: f"BEFORE {op} ON {table} FOR EACH ROW {f'WHEN ({unless}) ' if unless else ''}{run}"
        for name, table, op, unless in _GUARDS
    }
    for table in {table for _, table, _, _ in _GUARDS}:
        wanted[f"{table}_no_truncate"] = f"BEFORE TRUNCATE ON {table} FOR EACH STATEMENT {run}"
    missing = [f"CREATE TRIGGER {name} {body}" for name, body in wanted.items() if name not in present]
    return [_PG_FUNCTION, *missing] if missing else []


class Ledger:
    """The issued invoices of every month, numbered in one gapless sequence, never modified."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        """read_only: a reader (the dashboards) neither creates the tables nor takes the write lock to check them."""
        self._engine = _engine(url)
        self.url = _display(url)  # never shows the password
        self._postgres = self._engine.dialect.name == "postgresql"
        if not read_only:
            with self._transaction(write=True, doing="open the ledger") as conn:
                self._create_schema(conn)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.dispose()

    def dispose(self) -> None:
        self._engine.dispose()

    # --- issuing -------------------------------------------------------------------------------------------------

    def issue_month(
        self, month: Month, invoices: Sequence[Invoice], *, inputs_sha256: str, issue_date: date
    ) -> IssueResult:
        """Number and record the month's invoices in one transaction, or change nothing if the month is issued."""
        _validate(month, invoices, inputs_sha256)
        with self._transaction(write=True, doing=f"issue {month}") as conn:
            last = conn.execute(
                select(invoice_sequence.c.last_value).where(invoice_sequence.c.name == SEQUENCE_NAME).with_for_update()
            ).scalar_one()  # on PostgreSQL this lock serialises every issuer; SQLite did it at BEGIN IMMEDIATE
            done = conn.execute(select(issued_month).where(issued_month.c.month == str(month))).first()
            if done is not None:
                issued = select(invoice.c.number).where(invoice.c.month == str(month)).order_by(invoice.c.seq)
                return IssueResult(month, True, tuple(conn.execute(issued).scalars()), done.inputs_sha256)
            self._check_chronology(conn, issue_date)
            self._check_references(conn, invoices)
            conn.execute(
                issued_month.insert().values(
                    month=str(month), inputs_sha256=inputs_sha256, issue_date=issue_date,
                    invoice_count=len(invoices), recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
                )
            )  # fmt: skip
            for seq, draft in enumerate(invoices, start=last + 1):
                self._insert_invoice(conn, draft, seq, issue_date, inputs_sha256)
            if invoices:
                moved = conn.execute(
                    update(invoice_sequence)
                    .where(invoice_sequence.c.name == SEQUENCE_NAME, invoice_sequence.c.last_value == last)
                    .values(last_value=last + len(invoices))
                ).rowcount
                if moved != 1:
                    raise LedgerError(f"the invoice sequence of {self.url} moved while issuing {month}; nothing issued")
        numbers = tuple(invoice_number(seq) for seq in range(last + 1, last + 1 + len(invoices)))
        return IssueResult(month, False, numbers, inputs_sha256)

    def _insert_invoice(self, conn: Connection, draft: Invoice, seq: int, issue_date: date, inputs_sha256: str) -> None:
        number = invoice_number(seq)
        conn.execute(
            invoice.insert().values(
                number=number, seq=seq, month=str(draft.month), establishment_id=draft.establishment_id,
                offer=draft.offer, active_days=draft.active_days, days_in_month=draft.days_in_month,
                contract_id=draft.contract_id, currency=draft.currency, vat_rate=draft.vat_rate, net=draft.net,
                vat=draft.vat, gross=draft.gross, issue_date=issue_date, inputs_sha256=inputs_sha256,
            )
        )  # fmt: skip
        fields = ("code", "description", "metric", "quantity", "unit_price", "amount", "reference")
        lines = [{"invoice_number": number, "position": position} | {f: getattr(line, f) for f in fields}
                 for position, line in enumerate(draft.lines, start=1)]  # fmt: skip
        usage = [{"invoice_number": number, "metric": metric, "position": position, "quantity": quantity}
                 for position, (metric, quantity) in enumerate(draft.usage.items(), start=1)]  # fmt: skip
        for table, rows in ((invoice_line, lines), (invoice_usage, usage)):
            if rows:
                conn.execute(table.insert(), rows)
        if (revision := draft.revision) is not None:
            if revision.pending or revision.current is None or revision.base is None:
                raise LedgerError(f"invoice of {draft.establishment_id} for {draft.month}: revision pending "
                                  f"({revision.pending}); nothing issued")  # fmt: skip
            conn.execute(invoice_revision.insert().values(
                invoice_number=number, index_name=revision.index, a=revision.a, b=revision.b,
                coefficient=revision.coefficient, anniversary=revision.anniversary,
                current_period=str(revision.current.period), current_value=revision.current.value,
                current_published_on=revision.current.published_on, base_period=str(revision.base.period),
                base_value=revision.base.value, base_published_on=revision.base.published_on,
            ))  # fmt: skip

    def _check_chronology(self, conn: Connection, issue_date: date) -> None:
        query = select(invoice.c.number, invoice.c.issue_date).order_by(invoice.c.seq.desc()).limit(1)
        if (latest := conn.execute(query).first()) is not None and issue_date < latest.issue_date:
            raise LedgerError(
                f"issue date {issue_date} is before that of the last issued invoice {latest.number} "
                f"({latest.issue_date}): numbers must follow issue dates; issue on or after {latest.issue_date}"
            )

    def _check_references(self, conn: Connection, invoices: Sequence[Invoice]) -> None:
        if not (wanted := {line.reference for draft in invoices for line in draft.lines if line.reference}):
            return
        known = set(conn.execute(select(invoice.c.number).where(invoice.c.number.in_(wanted))).scalars())
        if missing := sorted(wanted - known):
            raise LedgerError(
                f"regularisation lines reference invoice(s) {', '.join(missing)} that the ledger at {self.url} has "
                "not issued; nothing was issued"
            )

    # --- reading -------------------------------------------------------------------------------------------------

    def invoices_for_month(self, month: Month) -> list[Invoice]:
        """The month's invoices as issued, in number order; empty if the month is not issued (see issued_months)."""
        with self._transaction(write=False, doing=f"read the invoices of {month}") as conn:
            return self._load(conn, invoice.c.month == str(month))

    def invoice(self, number: str) -> Invoice:
        with self._transaction(write=False, doing=f"read invoice {number}") as conn:
            found = self._load(conn, invoice.c.number == number)
        if not found:
            raise InvoiceNotFound(f"no invoice numbered '{number}' in the ledger at {self.url}")
        return found[0]

    def issued_months(self) -> list[Month]:
        with self._transaction(write=False, doing="list the issued months") as conn:
            months = conn.execute(select(issued_month.c.month).order_by(issued_month.c.month)).scalars()
            return [Month.parse(m) for m in months]

    def last_issued_month(self) -> Month | None:
        with self._transaction(write=False, doing="find the last issued month") as conn:
            last = conn.execute(select(func.max(issued_month.c.month))).scalar()
        return Month.parse(last) if last else None

    def _load(self, conn: Connection, where: Any) -> list[Invoice]:
        heads = conn.execute(select(invoice).where(where).order_by(invoice.c.seq)).all()
        lines: dict[str, list[InvoiceLine]] = {h.number: [] for h in heads}
        usage: dict[str, dict[str, Decimal]] = {h.number: {} for h in heads}
        for row in _children(conn, invoice_line, where):
            lines[row.invoice_number].append(
                InvoiceLine(row.code, row.description, row.metric, row.quantity, row.unit_price, row.amount,
                            row.reference)
            )  # fmt: skip
        for row in _children(conn, invoice_usage, where):
            usage[row.invoice_number][row.metric] = row.quantity
        revisions = {row.invoice_number: _revision(row) for row in _children(conn, invoice_revision, where)}
        result = []
        for h in heads:
            issued = Invoice(
                establishment_id=h.establishment_id, month=Month.parse(h.month), offer=h.offer,
                active_days=h.active_days, days_in_month=h.days_in_month, lines=tuple(lines[h.number]),
                vat_rate=h.vat_rate, currency=h.currency, contract_id=h.contract_id, number=h.number,
                issue_date=h.issue_date, usage=usage[h.number], revision=revisions.get(h.number),
            )  # fmt: skip
            if (issued.net, issued.vat, issued.gross) != (h.net, h.vat, h.gross):
                raise LedgerError(
                    f"invoice {h.number} in the ledger at {self.url} is inconsistent: stored net/VAT/gross "
                    f"{h.net}/{h.vat}/{h.gross}, its lines give {issued.net}/{issued.vat}/{issued.gross}"
                )
            result.append(issued)
        return result

    # --- plumbing ------------------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, *, write: bool, doing: str) -> Iterator[Connection]:
        """One transaction; database failures become LedgerErrors that say what was being done, and where."""
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(ledger_write=True)  # SQLite: BEGIN IMMEDIATE (see _sqlite_begin)
                with conn.begin():
                    if write and self._postgres:
                        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{BUSY_TIMEOUT_S}s'")
                    yield conn
        except exc.DBAPIError as error:
            detail = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
            if error.connection_invalidated or isinstance(error, exc.OperationalError):
                raise LedgerUnreachable(
                    f"cannot {doing}: the invoice ledger at {self.url} is unreachable or busy ({detail}). Check "
                    "[ledger] url in the configuration and that the database is up; if another issue is running, "
                    "wait for it to finish and retry. Nothing was changed."
                ) from error
            raise LedgerError(f"cannot {doing} in the ledger at {self.url}: {detail}. Nothing was changed.") from error

    def _create_schema(self, conn: Connection) -> None:
        if self._postgres:  # two first runs at once must not both create the tables
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        metadata.create_all(conn)
        has_counter = select(invoice_sequence.c.name).where(invoice_sequence.c.name == SEQUENCE_NAME)
        if conn.execute(has_counter).first() is None:
            conn.execute(invoice_sequence.insert().values(name=SEQUENCE_NAME, last_value=0))
        present: set[str] = set()
        if self._postgres:
            present = set(conn.exec_driver_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").scalars())
        for statement in _guard_statements(self._postgres, present):
            conn.execute(text(statement))  # text(): '%' reaches plpgsql as is


def _children(conn: Connection, table: Table, where: Any) -> Any:
    on = table.c.invoice_number == invoice.c.number
    order = [invoice.c.seq, table.c.position] if "position" in table.c else [invoice.c.seq]
    return conn.execute(select(table).join(invoice, on).where(where).order_by(*order))


def _revision(row: Any) -> PriceRevision:
    return PriceRevision(
        row.index_name, row.a, row.b, row.coefficient, row.anniversary,
        IndexPoint(Month.parse(row.current_period), row.current_value, row.current_published_on),
        IndexPoint(Month.parse(row.base_period), row.base_value, row.base_published_on),
    )  # fmt: skip


def _validate(month: Month, invoices: Sequence[Invoice], inputs_sha256: str) -> None:
    if not _SHA256.fullmatch(inputs_sha256):
        raise LedgerError(f"inputs_sha256 must be 64 lowercase hex digits (a SHA-256), got '{inputs_sha256}'")
    seen: set[str] = set()
    for draft in invoices:
        who = f"the invoice of establishment {draft.establishment_id} for {draft.month}"
        if draft.month != month:
            raise LedgerError(f"{who} cannot be issued with month {month}")
        if draft.number is not None:
            raise LedgerError(f"{who} already carries number {draft.number}: only drafts can be issued")
        if draft.establishment_id in seen:
            raise LedgerError(f"establishment {draft.establishment_id} has two invoices for {month}")
        seen.add(draft.establishment_id)
        _exact(draft.vat_rate, f"{who}: vat_rate")
        for position, line in enumerate(draft.lines, start=1):
            for name in ("quantity", "unit_price", "amount"):
                _exact(getattr(line, name), f"{who}, line {position} ({line.code}): {name}")
        for metric, quantity in draft.usage.items():
            _exact(quantity, f"{who}, usage {metric}")


def _exact(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise LedgerError(f"{what} is {value!r} ({type(value).__name__}): the ledger records exact Decimals only")
    value = Decimal(value)
    if not value.is_finite():
        raise LedgerError(f"{what} is {value}: the ledger records finite amounts only")
    return value


def ledger_missing(url: str) -> bool:
    """A SQLite ledger not created yet (nothing issued or recorded): readers must not create it."""
    return url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists()


@contextmanager
def reading(url: str) -> Iterator[Connection | None]:
    """A connection for readers of the ledger's database (dashboards, governance, check history), opened with the
    ledger's own engine set-up; None when a SQLite ledger was never created (reading never creates it)."""
    if ledger_missing(url):
        yield None
        return
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        example = "sqlite:///data/ledger.sqlite"
        raise LedgerError(f"the ledger url '{_display(url)}' is not a database URL (e.g. {example})") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver we ship
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
                folder = Path(parsed.database).parent  # never created here: a typo must not start a second ledger
                if not folder.is_dir():
                    raise LedgerUnreachable(f"the ledger's folder {folder} does not exist: create it, or fix [ledger] url "
                                      f"({_display(url)}) in the configuration")  # fmt: skip
            engine = create_engine(parsed)
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        if backend == "postgresql":
            args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
            return create_engine(parsed, isolation_level="READ COMMITTED", pool_pre_ping=True, connect_args=args)
    except (OSError, exc.NoSuchModuleError, exc.ArgumentError) as error:
        raise LedgerUnreachable(f"cannot open the invoice ledger at {_display(url)}: {error}") from error
    raise LedgerError(f"the ledger at {_display(url)} uses '{backend}': only sqlite and postgresql are supported")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below), not the sqlite3 module
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")  # a second writer waits instead of failing
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Writers take the database write lock at BEGIN, so two issuers run one after the other, never interleaved."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "BEGIN")


def _display(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)

