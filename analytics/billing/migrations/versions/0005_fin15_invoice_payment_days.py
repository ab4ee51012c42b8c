"""Each invoice records the payment terms its documents print (issue 15): `invoice.payment_days`.

The PDF and the XML printed 30 days for every invoice, while public hospitals have 50 (`payment_terms` in
contracts/framework.yaml); the documents are rendered again from the ledger byte for byte, so the terms an invoice
was issued with must be in the ledger. A nullable column: the invoices issued before keep NULL (they printed 30
days and are rendered so again), and a NULL column is left out of the row's hash, so the chain verifies unchanged.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invoice", sa.Column("payment_days", sa.Integer))


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded: restore the copy `sansfilm upgrade` made")
