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
)
