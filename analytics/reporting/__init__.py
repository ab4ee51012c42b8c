"""Read-only queries behind the dashboards, over the published warehouse and the ledger.

Every function takes a `Viewer` and applies its scope inside the query (the `scoped` CTE, or a WHERE on the ledger):
an establishment viewer only ever gets its own rows, `ars` gets no money, no cell under 10 studies and no cell that
would give one away (regional.py, disclosure.py). Pages may hide what a role does not need, but hiding is not the
protection: these functions are.
"""

from analytics.reporting.scope import Filters, Forbidden, Viewer

__all__ = ["Filters", "Forbidden", "Viewer"]
