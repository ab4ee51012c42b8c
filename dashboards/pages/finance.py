"""Finance: drafts vs issued invoices, drill-down to lines and usage, downloads, statuses and balances, the acts of
billing (finance only: issue, credit, send, record a payment), unbilled and unattributed usage."""

import streamlit as st

from dashboards import billing_desk, charts, data
from dashboards.invoices import invoice_section
from dashboards.ui import context

viewer, filters = context()
st.title("Factures")
invoice_section(viewer, filters, "finance")
billing_desk.acts(viewer, filters, billing_desk.follow_up(viewer))
st.subheader("Consommation non facturée et non attribuée")
unbilled = data.cached("unbilled", viewer, filters)
charts.show(
    "finance_unbilled",
    unbilled,
    labels={
        "month": "mois",
        "establishment_id": "FINESS",
        "name": "établissement",
        "reason": "motif",
        "studies_archived": "examens",
        "instances_archived": "instances",
        "bytes_archived": "octets",
        "retrievals": "récupérations",
        "shares": "partages",
        "views": "consultations",
    },
)
