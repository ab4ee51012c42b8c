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
- Under that lock, and only there, the rules are decided: the month is the first of the agreement not issued yet,
  it is over, the issue date lies between the 1st of the next month, the last issue date and today (the caller's
  clock), and the counter sits on the last invoice (a counter moved by hand is a gap: refused, never skipped).
- Issued invoices are never modified: this API has no update or delete, triggers reject UPDATE/DELETE (and TRUNCATE)
  of recorded rows, and the counter moves only to the last invoice's number (revisions 0001 and 0002,
  analytics/billing/migrations/guards.py). A later correction travels as regularisation lines of a later invoice,
  whose `reference` names the original (checked).
- Whoever can drop a trigger can still edit a row: every recorded row is chained by SHA-256 to the one before
  (analytics.billing.chain), and `verify` recomputes the chain and the numbering.
- What the documents show is frozen with the invoice (the parties too) and the SHA-256 of each document, rendered by
  the caller's `render` from the invoice as numbered, is recorded in the same transaction.
- The schema is versioned (analytics.billing.schema): the tables below are what the code reads and writes; the
  Alembic revisions create and migrate them, and `sansfilm upgrade` applies those to an older ledger.
- Money and quantities are exact Decimals: NUMERIC on PostgreSQL, text on SQLite (which has no decimal type and
  would otherwise round them through binary floats).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, exc, func, select, text, update
from sqlalchemy.engine import make_url

from analytics.billing import schema
from analytics.billing.chain import GENESIS, ChainedRow, ChainWriter, Verification, verify_chain, verify_numbering
from analytics.billing.issue_rules import Render, check_issue_date, document_name, parse_issue_date
from analytics.billing.ledger_tables import (
    CHAINED,
    ExactDecimal,
    InvoiceNotFound,
    IssueRefused,
    LedgerError,
    LedgerUnreachable,
    Recorder,
    children,
    credit_note,
    exact_decimal,
    insert_chained,
    invoice,
    invoice_document,
    invoice_line,
    invoice_number,
    invoice_party,
    invoice_revision,
    invoice_sequence,
    invoice_usage,
    issued_month,
    metadata,
    os_actor,
    party_from_row,
    party_row,
    record_act,
    revision_from_row,
)
from analytics.billing.model import Invoice, InvoiceLine
from analytics.clock import paris_now
from analytics.periods import Month

__all__ = [  # what the rest of sansfilm imports from here (the tables and rules live in their own modules)
    "BUSY_TIMEOUT_S",
    "CHAINED",
    "SCHEMA_LOCK_KEY",
    "ExactDecimal",
    "InvoiceNotFound",
    "IssueRefused",
    "IssueResult",
    "Ledger",
    "LedgerError",
    "LedgerUnreachable",
    "check_issue_date",
    "display",
    "document_name",
    "engine",
    "invoice",
    "invoice_line",
    "invoice_number",
    "issued_month",
    "ledger_missing",
    "not_created_yet",
    "missing_ledger_message",
    "require_ledger_folder",
    "metadata",
    "parse_issue_date",
    "reading",
]

SEQUENCE_NAME = "invoice"
BUSY_TIMEOUT_S = 60  # how long a second issuer waits for the first one before giving up
SCHEMA_LOCK_KEY = 0x5A4E5346  # PostgreSQL advisory lock taken while creating the schema ("SNSF")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class IssueResult:
    month: Month
    already_issued: bool
    numbers: tuple[str, ...]
    inputs_sha256: str  # the hash stored when the month was issued (the caller's when issued now)


class Ledger:
    """The issued invoices of every month, numbered in one gapless sequence, never modified."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        """read_only: a reader (the dashboards) never creates the tables and takes no write lock; it still refuses a
        ledger at another schema version (SchemaVersionError)."""
        self._engine = engine(url)
        self.url = display(url)  # never shows the password
        self._postgres = self._engine.dialect.name == "postgresql"
        with self._transaction(write=not read_only, doing="open the ledger") as conn:
            if read_only:
                schema.check(conn, self.url)
            else:
                self._create_schema(conn)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.dispose()

    def dispose(self) -> None:
        self._engine.dispose()

    @property
    def sql_engine(self) -> Engine:
        """The database under the ledger, for what works on it below the ledger's rules (migrations, integrity
        checks that tamper with it on purpose)."""
        return self._engine

    # --- issuing -------------------------------------------------------------------------------------------------

    def issue_month(
        self,
        month: Month,
        invoices: Sequence[Invoice],
        *,
        inputs_sha256: str,
        issue_date: date,
        first_month: Month,
        today: date,
        basis: Sequence[Month] | None = None,
        render: Render | None = None,
        actor: str | None = None,
    ) -> IssueResult:
        """Number and record the month's invoices in one transaction, or change nothing if the month is issued.

        Decided under the ledger's lock, so two issuers cannot both pass: the month must be the first month not
        issued from `first_month` (the agreement's first), over by `today` (Paris, the caller's clock), with a valid
        issue date (check_issue_date, and not before the last issue). `basis`: the issued months the drafts were
        computed from (their regularisations); if another issue recorded a month since, nothing is issued. `render`
        gives each numbered invoice's documents, whose SHA-256 are recorded with it. `actor`: who issues (the
        dashboards user; by default the OS user), recorded as an act with the month."""
        _validate(month, invoices, inputs_sha256)
        with self._transaction(write=True, doing=f"issue {month}") as conn:
            counter = conn.execute(
                select(invoice_sequence).where(invoice_sequence.c.name == SEQUENCE_NAME).with_for_update()
            ).one()  # on PostgreSQL this lock serialises every issuer; SQLite did it at BEGIN IMMEDIATE
            done = conn.execute(select(issued_month).where(issued_month.c.month == str(month))).first()
            if done is not None:
                issued = select(invoice.c.number).where(invoice.c.month == str(month)).order_by(invoice.c.seq)
                return IssueResult(month, True, tuple(conn.execute(issued).scalars()), done.inputs_sha256)
            self._check_order(conn, month, first_month, basis)
            check_issue_date(month, issue_date, today)
            self._check_chronology(conn, issue_date)
            self._check_counter(conn, counter.last_value)
            self._check_references(conn, invoices)
            chain = ChainWriter(counter.chain_length, counter.chain_head)
            self._insert(
                conn,
                chain,
                issued_month,
                [
                    {
                        "month": str(month),
                        "inputs_sha256": inputs_sha256,
                        "issue_date": issue_date,
                        "invoice_count": len(invoices),
                        "recorded_at": paris_now().astimezone(UTC).isoformat(timespec="seconds"),
                    }
                ],
            )
            last = counter.last_value
            for seq, draft in enumerate(invoices, start=last + 1):
                self._insert_invoice(conn, draft, seq, issue_date, inputs_sha256, chain, render)
            numbers = [invoice_number(seq) for seq in range(last + 1, last + 1 + len(invoices))]
            record_act(
                conn,
                chain,
                "issue",
                str(month),
                actor or os_actor(),  # the act after its effect
                {
                    "invoices": len(invoices),
                    "numbers": [numbers[0], numbers[-1]] if numbers else [],
                    "issue_date": issue_date.isoformat(),
                },
            )
            moved = conn.execute(
                update(invoice_sequence)
                .where(
                    invoice_sequence.c.name == SEQUENCE_NAME,
                    invoice_sequence.c.last_value == last,
                    invoice_sequence.c.chain_length == counter.chain_length,
                )
                .values(last_value=last + len(invoices), chain_length=chain.length, chain_head=chain.head)
            ).rowcount
            if moved != 1:
                raise LedgerError(f"the invoice sequence of {self.url} moved while issuing {month}; nothing issued")
        numbers = tuple(invoice_number(seq) for seq in range(last + 1, last + 1 + len(invoices)))
        return IssueResult(month, False, numbers, inputs_sha256)

    def _insert_invoice(
        self,
        conn: Connection,
        draft: Invoice,
        seq: int,
        issue_date: date,
        inputs_sha256: str,
        chain: ChainWriter,
        render: Render | None,
    ) -> None:
        """The invoice's rows, chained in this order: invoice, lines, usage, revision, parties, documents."""
        number = invoice_number(seq)
        self._insert(
            conn,
            chain,
            invoice,
            [
                dict(
                    number=number,
                    seq=seq,
                    month=str(draft.month),
                    establishment_id=draft.establishment_id,
                    offer=draft.offer,
                    active_days=draft.active_days,
                    days_in_month=draft.days_in_month,
                    contract_id=draft.contract_id,
                    currency=draft.currency,
                    vat_rate=draft.vat_rate,
                    net=draft.net,
                    vat=draft.vat,
                    gross=draft.gross,
                    issue_date=issue_date,
                    inputs_sha256=inputs_sha256,
                    payment_days=draft.payment_days,
                )
            ],
        )
        fields = ("code", "description", "metric", "quantity", "unit_price", "amount", "reference")
        self._insert(
            conn,
            chain,
            invoice_line,
            [
                {"invoice_number": number, "position": position} | {f: getattr(line, f) for f in fields}
                for position, line in enumerate(draft.lines, start=1)
            ],
        )
        self._insert(
            conn,
            chain,
            invoice_usage,
            [
                {"invoice_number": number, "metric": metric, "position": position, "quantity": quantity}
                for position, (metric, quantity) in enumerate(draft.usage.items(), start=1)
            ],
        )
        if (revision := draft.revision) is not None:
            if revision.pending or revision.current is None or revision.base is None:
                raise LedgerError(
                    f"invoice of {draft.establishment_id} for {draft.month}: revision pending "
                    f"({revision.pending}); nothing issued"
                )
            self._insert(
                conn,
                chain,
                invoice_revision,
                [
                    dict(
                        invoice_number=number,
                        index_name=revision.index,
                        a=revision.a,
                        b=revision.b,
                        coefficient=revision.coefficient,
                        anniversary=revision.anniversary,
                        current_period=str(revision.current.period),
                        current_value=revision.current.value,
                        current_published_on=revision.current.published_on,
                        base_period=str(revision.base.period),
                        base_value=revision.base.value,
                        base_published_on=revision.base.published_on,
                    )
                ],
            )
        parties = [(role, party) for role, party in (("seller", draft.seller), ("buyer", draft.buyer)) if party]
        self._insert(conn, chain, invoice_party, [party_row(number, role, party) for role, party in parties])
        if render is not None:
            documents = render(replace(draft, number=number, issue_date=issue_date))
            self._insert(
                conn,
                chain,
                invoice_document,
                [
                    {
                        "invoice_number": number,
                        "kind": kind,
                        "file_name": document_name(number, kind),
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                    }
                    for kind, data in sorted(documents.items())
                ],
            )

    def _insert(self, conn: Connection, chain: ChainWriter, table: Table, rows: list[dict[str, Any]]) -> None:
        insert_chained(conn, chain, table, rows)

    @contextmanager
    def recording(self, doing: str) -> Iterator[Recorder]:
        """One act after issuing (credit, send, payment: analytics.billing.followup), in one transaction under the
        ledger's lock, like an issue: the act's rows are chained, the counter moved with them, or nothing is."""
        with self._transaction(write=True, doing=doing) as conn:
            counter = conn.execute(
                select(invoice_sequence).where(invoice_sequence.c.name == SEQUENCE_NAME).with_for_update()
            ).one()
            self._check_counter(conn, counter.last_value)
            recorder = Recorder(
                conn, ChainWriter(counter.chain_length, counter.chain_head), counter.last_value, self.url
            )
            yield recorder
            moved = conn.execute(
                update(invoice_sequence)
                .where(
                    invoice_sequence.c.name == SEQUENCE_NAME,
                    invoice_sequence.c.last_value == counter.last_value,
                    invoice_sequence.c.chain_length == counter.chain_length,
                )
                .values(
                    last_value=recorder.last_value, chain_length=recorder.chain.length, chain_head=recorder.chain.head
                )
            ).rowcount
            if moved != 1:
                raise LedgerError(f"the ledger at {self.url} moved while trying to {doing}; nothing was recorded")

    def read(self, doing: str) -> Any:
        """A read-only transaction for the follow-up's queries (analytics.billing.followup)."""
        return self._transaction(write=False, doing=doing)

    def check_next(self, month: Month, first_month: Month) -> None:
        """Refuse now (IssueRefused) a month that is not the next one to issue; issue_month decides it again under
        the lock."""
        if self.issued(month):
            return
        with self._transaction(write=False, doing=f"check that {month} is next") as conn:
            self._check_order(conn, month, first_month, None)

    def issued(self, month: Month) -> bool:
        with self._transaction(write=False, doing=f"look for {month}") as conn:
            return (
                conn.execute(select(issued_month.c.month).where(issued_month.c.month == str(month))).first() is not None
            )

    def _check_order(self, conn: Connection, month: Month, first_month: Month, basis: Sequence[Month] | None) -> None:
        """The month must be the first of the agreement not issued yet; the drafts computed on the ledger as it is."""
        issued = set(conn.execute(select(issued_month.c.month)).scalars())
        if month < first_month:
            raise IssueRefused(
                f"{month} is before the first month of the agreement ({first_month}): it cannot be issued under it"
            )
        expected = first_month
        while str(expected) in issued:
            expected = expected.next()
        if expected != month:
            raise IssueRefused(
                f"{month} cannot be issued before {expected}: months are issued in order from the "
                f"agreement's first month ({first_month}); issue {expected} first"
            )
        if basis is not None and (changed := sorted(issued - {str(m) for m in basis})):
            raise IssueRefused(
                f"{', '.join(changed)} was issued while {month} was being drafted; nothing was issued: "
                f"issue {month} again"
            )

    def _check_chronology(self, conn: Connection, issue_date: date) -> None:
        query = select(invoice.c.number, invoice.c.issue_date).order_by(invoice.c.seq.desc()).limit(1)
        if (latest := conn.execute(query).first()) is not None and issue_date < latest.issue_date:
            raise IssueRefused(
                f"issue date {issue_date} is before that of the last issued invoice {latest.number} "
                f"({latest.issue_date}): numbers must follow issue dates; issue on or after {latest.issue_date}"
            )
        last_issue = max(
            (
                d
                for d in (
                    conn.execute(select(func.max(issued_month.c.issue_date))).scalar(),
                    conn.execute(select(func.max(credit_note.c.issue_date))).scalar(),
                )
                if d is not None
            ),
            default=None,
        )  # credit notes take numbers too
        if last_issue is not None and issue_date < last_issue:
            raise IssueRefused(
                f"issue date {issue_date} is before the last issue in the ledger ({last_issue}): issue "
                f"on or after {last_issue}"
            )

    def _check_counter(self, conn: Connection, last_value: int) -> None:
        """A counter that is not on the last invoice would leave a gap (or number twice): refuse, never skip."""
        top = max(
            conn.execute(select(func.coalesce(func.max(t.c.seq), 0))).scalar_one() for t in (invoice, credit_note)
        )
        if top != last_value:
            raise LedgerError(
                f"the invoice sequence of {self.url} is at {last_value} but the last invoice is "
                f"{invoice_number(top) if top else 'none'}: the numbering would have a gap; nothing was issued. Run "
                "`sansfilm ledger verify` and restore the ledger from a backup"
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

    def documents(self, month: Month) -> dict[str, dict[str, tuple[str, str]]]:
        """Invoice number -> kind -> (file name, SHA-256) of the documents recorded for the month's invoices."""
        where = invoice.c.month == str(month)
        found: dict[str, dict[str, tuple[str, str]]] = {}
        with self._transaction(write=False, doing=f"read the documents of {month}") as conn:
            for row in children(conn, invoice_document, where):
                found.setdefault(row.invoice_number, {})[row.kind] = (row.file_name, row.sha256)
        return found

    def verify(self) -> Verification:
        """Recompute the hash chain and the numbering (analytics.billing.chain); every problem, the first first."""
        with self._transaction(write=False, doing="verify the ledger") as conn:
            counter = conn.execute(select(invoice_sequence).where(invoice_sequence.c.name == SEQUENCE_NAME)).first()
            rows = [
                ChainedRow(
                    table.name,
                    " ".join(str(row[c.name]) for c in table.primary_key.columns),
                    row["chain_seq"],
                    row["prev_hash"],
                    row["row_hash"],
                    row,
                )
                for table in CHAINED
                for row in conn.execute(select(table)).mappings()
            ]
            seqs = [
                (r.seq, r.number) for t in (invoice, credit_note) for r in conn.execute(select(t.c.seq, t.c.number))
            ]
        if counter is None:
            return Verification(len(rows), len(seqs), GENESIS, ["the invoice sequence row is missing (deleted)"])
        problems = verify_chain(rows, counter.chain_length, counter.chain_head)
        problems += verify_numbering(seqs, counter.last_value, invoice_number)
        return Verification(len(rows), len(seqs), counter.chain_head, problems)

    def last_issued_month(self) -> Month | None:
        with self._transaction(write=False, doing="find the last issued month") as conn:
            last = conn.execute(select(func.max(issued_month.c.month))).scalar()
        return Month.parse(last) if last else None

    def _load(self, conn: Connection, where: Any) -> list[Invoice]:
        heads = conn.execute(select(invoice).where(where).order_by(invoice.c.seq)).all()
        lines: dict[str, list[InvoiceLine]] = {h.number: [] for h in heads}
        usage: dict[str, dict[str, Decimal]] = {h.number: {} for h in heads}
        for row in children(conn, invoice_line, where):
            lines[row.invoice_number].append(
                InvoiceLine(
                    row.code, row.description, row.metric, row.quantity, row.unit_price, row.amount, row.reference
                )
            )
        for row in children(conn, invoice_usage, where):
            usage[row.invoice_number][row.metric] = row.quantity
        revisions = {row.invoice_number: revision_from_row(row) for row in children(conn, invoice_revision, where)}
        parties = {(row.invoice_number, row.role): party_from_row(row) for row in children(conn, invoice_party, where)}
        result = []
        for h in heads:
            issued = Invoice(
                establishment_id=h.establishment_id,
                month=Month.parse(h.month),
                offer=h.offer,
                active_days=h.active_days,
                days_in_month=h.days_in_month,
                lines=tuple(lines[h.number]),
                vat_rate=h.vat_rate,
                currency=h.currency,
                contract_id=h.contract_id,
                number=h.number,
                issue_date=h.issue_date,
                usage=usage[h.number],
                revision=revisions.get(h.number),
                seller=parties.get((h.number, "seller")),
                buyer=parties.get((h.number, "buyer")),
                payment_days=h.payment_days,
            )
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
        """A new ledger is made by its migrations; one at another schema version is refused (`sansfilm upgrade`)."""
        if self._postgres:  # two first runs at once must not both create the tables
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        schema.ensure(conn, self.url)


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
        exact_decimal(draft.vat_rate, f"{who}: vat_rate")
        for position, line in enumerate(draft.lines, start=1):
            for name in ("quantity", "unit_price", "amount"):
                exact_decimal(getattr(line, name), f"{who}, line {position} ({line.code}): {name}")
        for metric, quantity in draft.usage.items():
            exact_decimal(quantity, f"{who}, usage {metric}")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite ledger's URL; None for another database."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def ledger_missing(url: str) -> bool:
    """A SQLite ledger not created yet (nothing issued or recorded): readers must not create it."""
    path = sqlite_path(url)
    return path is not None and not path.exists()


def not_created_yet(url: str, consequence: str) -> bool:
    """Whether the SQLite ledger at `url` was not created yet (nothing issued or recorded), which a reader takes for an
    empty one; refused (LedgerUnreachable) when its folder does not exist (require_ledger_folder)."""
    require_ledger_folder(url, consequence)
    return ledger_missing(url)


def require_ledger_folder(url: str, consequence: str) -> None:
    """For a reader that takes a ledger not created yet for an empty one: refuse a SQLite ledger whose folder does
    not exist (a [ledger] url mistyped, a volume not mounted), which is no empty ledger (`consequence`: what the
    reader cannot do then)."""
    if ledger_missing(url) and not sqlite_path(url).parent.is_dir():
        raise LedgerUnreachable(missing_ledger_message(url, consequence))


def missing_ledger_message(url: str, consequence: str) -> str:
    """Why a missing SQLite ledger (`ledger_missing`) is missing, for a reader that needs one, with what that means
    (`consequence`): not created yet, or a folder that does not exist (a [ledger] url mistyped, a volume not mounted),
    which is no empty ledger."""
    folder = sqlite_path(url).parent
    if not folder.is_dir():
        return (
            f"no ledger at {url}: its folder {folder} does not exist ({consequence}); "
            "check [ledger] url in the configuration"
        )
    return f"no ledger at {url} yet: nothing was issued, {consequence}"


@contextmanager
def reading(url: str) -> Iterator[Connection | None]:
    """A connection for readers of the ledger's database (dashboards, governance, check history), opened with the
    ledger's own engine set-up; None when a SQLite ledger was never created (reading never creates it). One whose
    folder does not exist is no empty ledger: refused (LedgerUnreachable), or a reader would show nothing recorded."""
    if not_created_yet(url, "nothing recorded in it can be read"):
        yield None
        return
    readers = engine(url)
    try:
        with readers.connect() as conn:
            schema.check(conn, display(url))
            yield conn
    finally:
        readers.dispose()


def engine(url: str) -> Engine:
    """An engine on the ledger's database with the ledger's set-up (driver, SQLite pragmas and BEGIN IMMEDIATE for
    connections marked `ledger_write`); it neither creates nor checks the schema."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        example = "sqlite:///data/ledger.sqlite"
        raise LedgerError(f"the ledger url '{display(url)}' is not a database URL (e.g. {example})") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver we ship
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
                folder = Path(parsed.database).parent  # never created here: a typo must not start a second ledger
                if not folder.is_dir():
                    raise LedgerUnreachable(
                        f"the ledger's folder {folder} does not exist: create it, or fix [ledger] url "
                        f"({display(url)}) in the configuration"
                    )
            made = create_engine(parsed)
            event.listen(made, "connect", _sqlite_connect)
            event.listen(made, "begin", _sqlite_begin)
            return made
        if backend == "postgresql":
            args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
            return create_engine(parsed, isolation_level="READ COMMITTED", pool_pre_ping=True, connect_args=args)
    except (OSError, exc.NoSuchModuleError, exc.ArgumentError) as error:
        raise LedgerUnreachable(f"cannot open the invoice ledger at {display(url)}: {error}") from error
    raise LedgerError(f"the ledger at {display(url)} uses '{backend}': only sqlite and postgresql are supported")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below), not the sqlite3 module
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")  # a second writer waits instead of failing
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Writers take the database write lock at BEGIN, so two issuers run one after the other, never interleaved."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "BEGIN")


def display(url: str) -> str:
    """The URL as shown to people: never with its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)
