"""Alerts sent once per occurrence (issue 14): `alert_occurrence` and `alert_delivery` (analytics.alerts.store).

Two new tables, empty at the upgrade: the first evaluation after it raises the conditions that hold then. Neither is
chained nor immutable: an occurrence is closed and a delivery marked done by updates (they are an operations log,
not a legal record).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_occurrence",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("establishment_id", sa.String(16)),
        sa.Column("establishment_name", sa.String(255)),
        sa.Column("since", sa.String(40)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_alert_occurrence_key", "alert_occurrence", ["key"])
    op.create_table(
        "alert_delivery",
        sa.Column("occurrence_id", sa.Integer, sa.ForeignKey("alert_occurrence.id"), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded: restore the copy `sansfilm upgrade` made")
