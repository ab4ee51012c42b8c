"""Regional activity (ARS): volumes by departement, modality, category and sector; shares; trends; the community
portal's adoption (dashboards/portal.py). No money; for the ARS role the query layer hides cells under 10 studies
(portal doctors, portal views) and the cells that would give them away (analytics/reporting/regional.py, portal.py):
a hidden value is shown as "secret", never as 0, and enters no total or change."""

import polars as pl
import streamlit as st

from analytics.reporting import labels as fr
from analytics.reporting.programme import period_total, trend
from dashboards import charts, data, portal
from dashboards.ui import context

DIMENSION_NAMES = {"modality": "modalité", "category": "catégorie", "sector": "secteur"}
DIMENSION_LABELS = {"modality": fr.MODALITIES, "category": fr.CATEGORIES, "sector": fr.SECTORS}
viewer, filters = context()
st.title("Activité régionale")
if viewer.suppresses_small_cells:
    st.caption(
        "Secret statistique : toute case de moins de 10 examens est masquée (« secret »), ainsi que les cases "
        "qui permettraient de la retrouver par différence."
    )

by_departement = data.cached("volumes", viewer, filters, "departement")
totals = trend(data.cached("volumes", viewer, filters, "region"))
last = totals.tail(1).to_dicts()[0] if totals.height else {}
total, hidden_months = period_total(totals)
cols = st.columns(3)
cols[0].metric("Examens sur la période", charts.SUPPRESSED if total is None else charts.fr_number(total))
if hidden_months:
    cols[0].caption(f"Hors {hidden_months} mois masqué{'s' if hidden_months > 1 else ''} (secret statistique).")
cols[1].metric(
    f"Examens en {charts.fr_month(last['month'])}" if last else "Dernier mois",
    charts.SUPPRESSED if last.get("suppressed") else charts.fr_number(last.get("studies")),
    charts.fr_percent(last.get("mom")) if last.get("mom") is not None else None,
)
cols[2].metric("Évolution sur un an", charts.fr_percent(last.get("yoy")))

st.subheader("Examens par département")
# the period's total per département, suppressed on that total (summing unsuppressed months would undercount)
per_dep = data.cached("volumes", viewer, filters, "departement", False).sort("dimension")
named = pl.col("dimension").map_elements(fr.departement, return_dtype=pl.String)  # "93 · Seine-Saint-Denis"
per_dep, by_departement = per_dep.with_columns(named), by_departement.with_columns(named)
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
split = split.with_columns(pl.col("dimension").replace(DIMENSION_LABELS.get(dimension or "modality", {})))
charts.show(
    "regional_split",
    split.select("month", "dimension", "studies", "suppressed"),
    charts.bar(split, "month", "studies", "dimension", {"month": "mois", "studies": "examens", "dimension": ""}),
    labels={"month": "mois", "dimension": DIMENSION_NAMES[dimension or "modality"], "studies": "examens"},
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

portal.regional_section(viewer, filters)
