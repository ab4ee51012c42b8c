"""The usage metrics that are metered, billed and reported."""

from __future__ import annotations

from decimal import Decimal

# in the order reports show them
METRICS = (
    "studies_archived",
    "instances_archived",
    "bytes_archived",
    "storage_gb_month",
    "retrievals",
    "shares",
    "views",
    "opinions",  # answered tele-opinion requests, charged to the requester (analytics/opinions)
    "opinions_on_call",  # of which requested on call
    "portal_views",  # accesses through the community portal, per study and event ([portal] ae_titles)
    "portal_practitioners",  # distinct practitioners (keyed RPPS) who accessed the establishment's studies that month
)

# the tables of marts that analytics.metering.meter_month rewrites one month at a time, and only it: each metering is
# numbered in build.meterings, so the readers' copy (analytics.publish) takes the months metered since its last update
MONTHLY_FACTS = ("fct_usage_daily", "fct_share_flows", "fct_share_flows_monthly", "fct_portal_access")


def decimal_text(value: Decimal) -> str:
    """A decimal as every output writes it (JSON strings, CSV cells, tables): plain digits with all its decimals,
    never an exponent. `str` writes a storage quantity of nine decimals below a millionth as 2.96E-7, and zero as
    0E-9, which neither a finance script nor a spreadsheet reads as a number."""
    return format(value, "f")
