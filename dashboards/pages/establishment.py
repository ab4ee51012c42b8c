"""My establishment: its own usage, invoices and shares, and nobody else's (scoped by the query layer)."""

import polars as pl
import streamlit as st

from dashboards import billing_desk, charts, data
from dashboards.invoices import invoice_section
from dashboards.ui import context

viewer, filters = context()
sites = data.cached("rollout_sites", viewer, filters)
st.title(sites["name"][0] if sites.height else "Mon établissement")
usage = data.cached("usage_monthly", viewer, filters).with_columns(
    pl.col("studies_archived", "instances_archived", "retrievals", "shares", "views").cast(pl.Int64),
    (pl.col("stored_byte_days").cast(pl.Float64) / 1e9).alias("stored_gb_days"),
)
cols = st.columns(4)
cols[0].metric("Examens archivés", charts.fr_number(usage["studies_archived"].sum()))
cols[1].metric("Récupérations", charts.fr_number(usage["retrievals"].sum()))
cols[2].metric("Partages", charts.fr_number(usage["shares"].sum()))
cols[3].metric("Consultations", charts.fr_number(usage["views"].sum()))
st.subheader("Consommation par mois")
charts.show(
    "mine_monthly_usage",
    usage.select("month", "studies_archived", "instances_archived", "retrievals", "shares", "views"),
    charts.bar(usage, "month", "studies_archived", labels={"month": "mois", "studies_archived": "examens"}),
    labels={
        "month": "mois",
        "studies_archived": "examens archivés",
        "instances_archived": "instances",
        "retrievals": "récupérations",
        "shares": "partages",
        "views": "consultations",
    },
)
invoice_section(viewer, filters, "mine")
billing_desk.follow_up(viewer)  # its own invoices and credit notes, statuses and balance; no button
st.subheader("Partages envoyés et reçus")
shares = data.cached("sharing", viewer, filters)
charts.show(
    "mine_sharing",
    shares.select("sender", "destination", "shares", "suppressed"),
    labels={"sender": "émetteur", "destination": "destinataire", "shares": "partages"},
)
