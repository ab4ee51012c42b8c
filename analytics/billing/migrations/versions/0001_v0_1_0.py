"""The ledger of sansfilm v0.1.0: invoices, their lines, usage and price revisions, the counter, check history.

Frozen: this is the schema v0.1.0 created with `metadata.create_all` and its triggers; never edit it, add a revision.
It creates only what is missing, as v0.1.0 did on every start, so that it also adopts a ledger made before versioning
(v0.1.0 created the check-history tables on the first `check` only): the runner applies it to such a ledger only after
recognising its tables (analytics.billing.schema.pre_versioning).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from analytics.billing.migrations import guards

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Decimals: NUMERIC on PostgreSQL, their text on SQLite (v0.1.0's ExactDecimal).
EXACT = sa.String(64).with_variant(sa.Numeric(asdecimal=True), "postgresql")

meta = sa.MetaData()
invoice_sequence = sa.Table(
    "invoice_sequence",
    meta,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last_value", sa.Integer, nullable=False),
)
issued_month = sa.Table(
    "issued_month",
    meta,
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("inputs_sha256", sa.String(64), nullable=False),
    sa.Column("issue_date", sa.Date, nullable=False),
    sa.Column("invoice_count", sa.Integer, nullable=False),
    sa.Column("recorded_at", sa.String(32), nullable=False),
)
invoice = sa.Table(
    "invoice",
    meta,
    sa.Column("number", sa.String(32), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False, unique=True),
    sa.Column("month", sa.String(7), sa.ForeignKey("issued_month.month"), nullable=False),
    sa.Column("establishment_id", sa.String(64), nullable=False),
    sa.Column("offer", sa.String(32), nullable=False),
    sa.Column("active_days", sa.Integer, nullable=False),
    sa.Column("days_in_month", sa.Integer, nullable=False),
    sa.Column("contract_id", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("vat_rate", EXACT, nullable=False),
    sa.Column("net", EXACT, nullable=False),
    sa.Column("vat", EXACT, nullable=False),
    sa.Column("gross", EXACT, nullable=False),
    sa.Column("issue_date", sa.Date, nullable=False),
    sa.Column("inputs_sha256", sa.String(64), nullable=False),
    sa.UniqueConstraint("month", "establishment_id"),
)
invoice_line = sa.Table(
    "invoice_line",
    meta,
    sa.Column("invoice_number", sa.String(32), sa.ForeignKey("invoice.number"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("metric", sa.String(64)),
    sa.Column("quantity", EXACT, nullable=False),
    sa.Column("unit_price", EXACT, nullable=False),
    sa.Column("amount", EXACT, nullable=False),
    sa.Column("reference", sa.String(32), sa.ForeignKey("invoice.number")),
)
invoice_usage = sa.Table(
    "invoice_usage",
    meta,
    sa.Column("invoice_number", sa.String(32), sa.ForeignKey("invoice.number"), primary_key=True),
    sa.Column("metric", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("quantity", EXACT, nullable=False),
)
invoice_revision = sa.Table(
    "invoice_revision",
    meta,
    sa.Column("invoice_number", sa.String(32), sa.ForeignKey("invoice.number"), primary_key=True),
    sa.Column("index_name", sa.String(64), nullable=False),
    sa.Column("a", EXACT, nullable=False),
    sa.Column("b", EXACT, nullable=False),
    sa.Column("coefficient", EXACT, nullable=False),
    sa.Column("anniversary", sa.Date, nullable=False),
    sa.Column("current_period", sa.String(7), nullable=False),
    sa.Column("current_value", EXACT, nullable=False),
    sa.Column("current_published_on", sa.Date, nullable=False),
    sa.Column("base_period", sa.String(7), nullable=False),
    sa.Column("base_value", EXACT, nullable=False),
    sa.Column("base_published_on", sa.Date, nullable=False),
)
quality_run = sa.Table(
    "quality_run",
    meta,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
)
quality_result = sa.Table(
    "quality_result",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("quality_run.run_id"), nullable=False, index=True),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("table_name", sa.String(128), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("observed", sa.Text),
    sa.Column("details", sa.Text, nullable=False),
)

IMMUTABLE = ("issued_month", "invoice", "invoice_line", "invoice_usage", "invoice_revision")


def upgrade() -> None:
    bind = op.get_bind()
    meta.create_all(bind, checkfirst=True)
    has_counter = sa.select(invoice_sequence.c.name).where(invoice_sequence.c.name == "invoice")
    if bind.execute(has_counter).first() is None:
        bind.execute(invoice_sequence.insert().values(name="invoice", last_value=0))
    guards.install(bind, [g for table in IMMUTABLE for g in guards.table_guards(table)] + guards.counter_guards())


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded: restore the copy `sansfilm upgrade` made")
