"""My establishment: its commitment vs actual this agreement year, its month to date and next invoice, its service
levels and credits, its usage, the portal's use of its studies, invoices and shares, and nobody else's (scoped by the
query layer)."""

from dataclasses import replace

import polars as pl
import streamlit as st

from analytics.reporting import labels as fr
from analytics.reporting import mine
from dashboards import billing_desk, charts, data, portal
from dashboards.invoices import invoice_section, invoices_of
from dashboards.ui import context

viewer, filters = context()
sites = data.cached("rollout_sites", viewer, filters)
site = sites.row(0, named=True) if sites.height else None
st.title(site["name"] if site else "Mon établissement")
if site:
    st.caption(
        f"FINESS {site['establishment_id']} · {fr.departement(site['departement'])} · offre "
        f"{fr.label(fr.OFFERS, site['offer'])} · {fr.label(fr.STAGES, site['stage'])}"
        + (f" depuis le {charts.fr_date(site['actual_go_live'])}" if site["actual_go_live"] else "")
    )

st.subheader("Engagement de l'année de l'accord-cadre")
governance = data.governance(data.version(), viewer)
commitments = governance["commitments"]
if commitments is not None and commitments.height:
    c = commitments.row(0, named=True)
    cols = st.columns(3)
    cols[0].metric(
        "Examens réalisés / attendus à ce jour",
        f"{charts.fr_number(c['actual_studies'])} / {charts.fr_number(c['expected_studies'])}",
        charts.fr_percent(c["studies_share"]) if c["studies_share"] is not None else None,
        delta_color="off",
    )
    if "actual_amount" in c:
        cols[1].metric(
            "Montant HT réalisé / attendu",
            f"{charts.fr_money(c['actual_amount'])} / {charts.fr_money(c['expected_amount'])}",
        )
    cols[2].metric("Situation", charts.COMMITMENT_STATUS_FR.get(c["status"], c["status"]))
    st.caption(
        f"Engagement annuel : {charts.fr_number(c['committed_studies'])} examens"
        + (f", {charts.fr_money(c['committed_amount'])} HT" if c.get("committed_amount") is not None else "")
        + f" ; projection sur l'année : {charts.fr_number(c['projected_studies'])} examens."
    )
else:
    st.info("Pas d'engagement annuel enregistré pour cet établissement (contracts/commitments.csv).")

st.subheader("Mois en cours et prochaine facture")
_, _, _, every_month = invoices_of(viewer, replace(filters, first_month=None, last_month=None))
usage = data.cached("usage_monthly", viewer, filters).with_columns(
    pl.col("studies_archived", "instances_archived", "retrievals", "shares", "views").cast(pl.Int64),
    (pl.col("stored_byte_days").cast(pl.Float64) / 1e9).alias("stored_gb_days"),
)
month_to_date = data.month_to_date(data.version())
upcoming = mine.next_invoice(every_month)  # whatever the period: the next invoice to be issued
cols = st.columns(3)
latest = usage.sort("month").tail(1).row(0, named=True) if usage.height else None
if latest:
    title = "à ce jour" if month_to_date and month_to_date[0] == latest["month"] else "dernier mois mesuré"
    cols[0].metric(
        f"Examens archivés, {charts.fr_month(latest['month'])} ({title})", charts.fr_number(latest["studies_archived"])
    )
if upcoming:
    cols[1].metric(
        f"Prochaine facture estimée ({charts.fr_month(upcoming['month'])}), HT", charts.fr_money(upcoming["net"])
    )
    cols[2].metric("TTC estimé", charts.fr_money(upcoming["gross"]))
    st.caption(
        "Estimation : le brouillon calculé sur la consommation mesurée à ce jour, au tarif du contrat ; la "
        "facture émise peut différer si des données arrivent encore."
    )

st.subheader("Niveaux de service et crédits")
levels = data.cached("service_levels", viewer, filters)
if levels.height:
    missed = levels.filter(pl.col("breached"))
    st.metric("Niveaux manqués sur la période", charts.fr_number(missed.height))
    charts.show(
        "mine_levels",
        levels.select("month", "term", "measured", "target", "unit", "breached").with_columns(
            pl.col("term").replace(fr.TERMS), pl.col("unit").replace(fr.UNITS)
        ),
        decimals={"measured": 2, "target": 2},
        labels={
            "month": "mois",
            "term": "engagement",
            "measured": "mesuré",
            "target": "objectif",
            "unit": "unité",
            "breached": "manqué",
        },
    )
    if missed.height:
        st.caption("Chaque niveau manqué donne un crédit (ligne négative) sur la facture du mois suivant.")
else:
    st.info("Aucun niveau de service mesuré pour ces filtres.")

st.subheader("Consommation par mois")
cols = st.columns(4)
cols[0].metric("Examens archivés", charts.fr_number(usage["studies_archived"].sum()))
cols[1].metric("Récupérations", charts.fr_number(usage["retrievals"].sum()))
cols[2].metric("Partages", charts.fr_number(usage["shares"].sum()))
cols[3].metric("Consultations", charts.fr_number(usage["views"].sum()))
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
portal.establishment_section(viewer, filters)
