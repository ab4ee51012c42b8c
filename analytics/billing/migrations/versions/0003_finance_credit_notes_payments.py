"""Credit notes, sendings, payments and the audit trail of every act (issue 15).

- New tables, chained (analytics.billing.chain) and immutable (no UPDATE, DELETE, TRUNCATE): `ledger_act` (who did
  what and when: issue, credit, send, payment), `credit_note` with its lines and documents (numbered in the
  invoices' one sequence), `dispatch` (each sending) and `payment`.
- The counter's guard now counts credit notes too: it moves only to the last number given, to an invoice or to a
  credit note (SQLite: its WHEN is replaced; PostgreSQL: its function).
- Nothing issued before this revision changes: no row is added or rewritten (issues made before it have no act).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from analytics.billing.migrations import guards

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EXACT = sa.String(64).with_variant(sa.Numeric(asdecimal=True), "postgresql")
NEW_TABLES = ("ledger_act", "credit_note", "credit_note_line", "credit_note_document", "dispatch", "payment")
LAST_NUMBER = (
    "(SELECT MAX(seq) FROM (SELECT COALESCE(MAX(seq), 0) AS seq FROM invoice "
    "UNION ALL SELECT COALESCE(MAX(seq), 0) AS seq FROM credit_note) AS numbered)"
)
MOVED = f"NEW.name <> OLD.name OR NEW.chain_length < OLD.chain_length OR NEW.last_value <> {LAST_NUMBER}"
SEQUENCE_REFUSED = (
    "sansfilm ledger: UPDATE on invoice_sequence refused: issued invoices are immutable and the "
    "sequence moves only by issuing"
)
PG_SEQUENCE_FUNCTION = f"""CREATE OR REPLACE FUNCTION sansfilm_ledger_sequence_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {MOVED} THEN
    RAISE EXCEPTION '{SEQUENCE_REFUSED}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$"""


def _chain_columns(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("chain_seq", sa.Integer),
        sa.Column("prev_hash", sa.String(64)),
        sa.Column("row_hash", sa.String(64)),
        sa.Index(f"ix_{table}_chain_seq", "chain_seq", unique=True),
    ]


meta = sa.MetaData()
sa.Table("invoice", meta, sa.Column("number", sa.String(32), primary_key=True))  # made by 0001: referenced only
TABLES = [
    sa.Table(
        "ledger_act",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        *_chain_columns("ledger_act"),
    ),
    sa.Table(
        "credit_note",
        meta,
        sa.Column("number", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("invoice_number", sa.String(32), sa.ForeignKey("invoice.number"), nullable=False),
        sa.Column("act_id", sa.Integer, sa.ForeignKey("ledger_act.id"), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("issue_date", sa.Date, nullable=False),
        sa.Column("vat_rate", EXACT, nullable=False),
        sa.Column("net", EXACT, nullable=False),
        sa.Column("vat", EXACT, nullable=False),
        sa.Column("gross", EXACT, nullable=False),
        *_chain_columns("credit_note"),
    ),
    sa.Table(
        "credit_note_line",
        meta,
        sa.Column("credit_note_number", sa.String(32), sa.ForeignKey("credit_note.number"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("invoice_position", sa.Integer),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("metric", sa.String(64)),
        sa.Column("quantity", EXACT, nullable=False),
        sa.Column("unit_price", EXACT, nullable=False),
        sa.Column("amount", EXACT, nullable=False),
        *_chain_columns("credit_note_line"),
    ),
    sa.Table(
        "credit_note_document",
        meta,
        sa.Column("credit_note_number", sa.String(32), sa.ForeignKey("credit_note.number"), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("file_name", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        *_chain_columns("credit_note_document"),
    ),
    sa.Table(
        "dispatch",
        meta,
        sa.Column("act_id", sa.Integer, sa.ForeignKey("ledger_act.id"), primary_key=True),
        sa.Column("document_number", sa.String(32), nullable=False),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("file_name", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        *_chain_columns("dispatch"),
    ),
    sa.Table(
        "payment",
        meta,
        sa.Column("act_id", sa.Integer, sa.ForeignKey("ledger_act.id"), primary_key=True),
        sa.Column("invoice_number", sa.String(32), sa.ForeignKey("invoice.number"), nullable=False),
        sa.Column("paid_on", sa.Date, nullable=False),
        sa.Column("amount", EXACT, nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        *_chain_columns("payment"),
    ),
]


def upgrade() -> None:
    bind = op.get_bind()
    meta.create_all(bind, tables=TABLES)
    guards.install(bind, [g for t in NEW_TABLES for g in guards.table_guards(t)])
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text(PG_SEQUENCE_FUNCTION))  # the trigger made by 0002 calls it
    else:
        bind.execute(sa.text("DROP TRIGGER invoice_sequence_moves_by_issuing"))
        bind.execute(
            sa.text(
                f"CREATE TRIGGER invoice_sequence_moves_by_issuing BEFORE UPDATE ON invoice_sequence "
                f"WHEN {MOVED} BEGIN SELECT RAISE(ABORT, '{SEQUENCE_REFUSED}'); END"
            )
        )


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded: restore the copy `sansfilm upgrade` made")
