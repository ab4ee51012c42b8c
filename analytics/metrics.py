"""The usage metrics that are metered, billed and reported."""

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
