"""Alerts: conditions an operator must act on (a silent site, a missed service level, a blocking data check, a source
no longer harvested), detected from the warehouse and the check history, kept once per occurrence in the ledger and
delivered to the configured channels (webhook, e-mail). Plain Python: the Dagster sensor only wires it."""
