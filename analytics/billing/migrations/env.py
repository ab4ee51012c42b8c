"""Alembic environment of the ledger: migrations run on the connection analytics.billing.schema passes, inside the
transaction it opened (one transaction for the whole upgrade; Alembic commits nothing itself)."""

from __future__ import annotations

from alembic import context

from analytics.alerts.store import metadata as alert_tables
from analytics.billing.ledger import metadata as ledger_tables
from analytics.quality.history import metadata as history_tables

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise SystemExit("the ledger's migrations run through `sansfilm upgrade` (analytics.billing.schema), not alone")
context.configure(
    connection=connection,
    target_metadata=[ledger_tables, history_tables, alert_tables],  # what the code reads and writes
    transactional_ddl=True,  # SQLite too: the connection's own BEGIN covers the DDL (see analytics.billing.ledger)
    render_as_batch=True,  # SQLite cannot ALTER most things: autogenerate writes batch operations
    compare_type=True,
)
sqlite = connection.dialect.name == "sqlite"
if sqlite:  # a batch rebuild renames a table other tables' triggers may name: legacy renames leave those be
    connection.exec_driver_sql("PRAGMA legacy_alter_table = ON")
try:
    with context.begin_transaction():
        context.run_migrations()
finally:
    if sqlite:
        connection.exec_driver_sql("PRAGMA legacy_alter_table = OFF")
