"""Finance: drafts vs issued invoices, drill-down to lines and usage, downloads, unbilled and unattributed usage."""

import streamlit as st

from dashboards import charts, data
from dashboards.invoices import invoice_section
from dashboards.ui import context

viewer, filters = context()
st.title("Factures")
invoice_section(viewer, filters, "finance")
st.subheader("Consommation non facturée et non attribuée")
unbilled = data.cached("unbilled", viewer, filters)
charts.show("finance_unbilled", unbilled,
            labels={"month": "mois", "establishment_id": "FINESS", "name": "établissement", "reason": "motif",
                    "studies_archived": "examens", "instances_archived": "instances", "bytes_archived": "octets",
                    "retrievals": "récupérations", "shares": "partages", "views": "consultations"})  # fmt: skip
