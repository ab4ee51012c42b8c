"""Alembic revisions of the ledger's database (env.py, versions/): see analytics.billing.schema for how to add one."""
