"""Regional activity (ARS): volumes by departement, modality, category and sector; shares; trends. No money;
cells under 10 studies are withheld by the query layer for the ARS role."""

import streamlit as st

from analytics.reporting.programme import trend
from dashboards import charts, data
from dashboards.ui import context

viewer, filters = context()
st.title("Activité régionale")
if viewer.suppresses_small_cells:
    st.caption("Secret statistique : toute case de moins de 10 examens est masquée (« < 10 »).")

by_departement = data.cached("volumes", viewer, filters, "departement")
totals = trend(data.cached("volumes", viewer, filters, "region"))
last = totals.tail(1).to_dicts()[0] if totals.height else {}
cols = st.columns(3)
cols[0].metric("Examens sur la période", charts.fr_number(totals["studies"].sum()))
cols[1].metric(
    f"Examens en {charts.fr_month(last['month'])}" if last else "Dernier mois",
    charts.fr_number(last.get("studies")),
    charts.fr_percent(last.get("mom")) if last.get("mom") is not None else None,
)
cols[2].metric("Évolution sur un an", charts.fr_percent(last.get("yoy")))

st.subheader("Examens par département")
# the period's total per département, suppressed on that total (summing unsuppressed months would undercount)
per_dep = data.cached("volumes", viewer, filters, "departement", False).sort("dimension")
charts.show(
    "regional_departement",
    by_departement.select("month", "dimension", "studies", "suppressed"),
    charts.bar(per_dep, "dimension", "studies", labels={"dimension": "département", "studies": "examens"}),
    labels={"month": "mois", "dimension": "département", "studies": "examens"},
)

dimension = st.segmented_control(
    "Répartition par",
    ["modality", "category", "sector"],
    default="modality",
    format_func={"modality": "modalité", "category": "catégorie", "sector": "secteur"}.get,
    key="regional_dimension",
)
split = data.cached("volumes", viewer, filters, dimension or "modality")
charts.show(
    "regional_split",
    split.select("month", "dimension", "studies", "suppressed"),
    charts.bar(split, "month", "studies", "dimension", {"month": "mois", "studies": "examens", "dimension": ""}),
    labels={"month": "mois", "dimension": dimension or "modality", "studies": "examens"},
)

st.subheader("Tendance mensuelle")
charts.show(
    "regional_trend",
    totals,
    charts.line(totals, "month", "studies", labels={"month": "mois", "studies": "examens"}),
    decimals={"mom": 3, "yoy": 3},
    labels={
        "month": "mois",
        "studies": "examens",
        "studies_previous_year": "un an avant",
        "mom": "évolution mensuelle",
        "yoy": "évolution annuelle",
    },
)

st.subheader("Partages entre établissements et vers le portail ville, par département")
shares = data.cached("sharing_departements", viewer, filters)
charts.show(
    "regional_sharing",
    shares,
    charts.heatmap(
        shares,
        "destination",
        "sender",
        "shares",
        {"x": "destinataire", "y": "département émetteur", "color": "partages"},
    )
    if shares.height
    else None,
    labels={"sender": "département émetteur", "destination": "destinataire", "shares": "partages"},
)
