"""Operator: stored volume and a 12-month forecast, ingestion delay, failure rates, busiest hours."""

import polars as pl
import streamlit as st

from dashboards import charts, data
from dashboards.ui import context

viewer, filters = context()
st.title("Stockage et qualité de service")
storage = data.cached("storage", viewer, filters)
history = storage.filter(pl.col("kind") == "history")
peak = storage["stored_gb"].max() or 0
unit, scale = ("Go", 1.0) if peak >= 1 else ("Mo", 1000.0)
if history.height:
    last = history.tail(1).to_dicts()[0]
    growth = (history["stored_gb"][-1] - history["stored_gb"][0]) / max(history.height - 1, 1)
    in_a_year = storage.tail(1).to_dicts()[0]
    cols = st.columns(3)
    cols[0].metric(
        f"Stocké fin {charts.fr_month(last['month'])}", f"{charts.fr_number(last['stored_gb'] * scale, 2)} {unit}"
    )
    cols[1].metric("Croissance moyenne par mois", f"{charts.fr_number(growth * scale, 2)} {unit}")
    cols[2].metric(
        f"Prévision {charts.fr_month(in_a_year['month'])}",
        f"{charts.fr_number(in_a_year['stored_gb'] * scale, 2)} {unit}",
    )
st.subheader("Volume stocké et prévision à 12 mois")
st.caption(
    "Tendance linéaire sur le volume stocké en fin de mois ; bande : intervalle de prévision à 95 % "
    "calculé sur les résidus (voir docs/dashboards.md)."
)
charts.show(
    "operator_storage",
    storage.with_columns(pl.col("stored_gb", "low", "high") * scale),
    charts.forecast(storage, unit, scale),
    decimals={"stored_gb": 3, "low": 3, "high": 3},
    labels={"month": "mois", "kind": "nature", "stored_gb": f"stocké ({unit})", "low": "bas", "high": "haut"},
)

st.subheader("Délai d'ingestion (heure de l'examen → première réception)")
st.caption(
    "Heure de l'examen : StudyDate + StudyTime, heure de Paris ; un examen sans StudyTime valide est compté "
    "depuis minuit (colonne « sans heure »). Centiles par tranches d'une heure (borne haute)."
)
delay = data.cached("ingestion_delay", viewer, filters)
long = delay.unpivot(
    ["p50_hours", "p90_hours", "p95_hours", "p99_hours"], index="month", variable_name="percentile", value_name="hours"
)
charts.show(
    "operator_delay",
    delay,
    charts.line(long, "month", "hours", "percentile", {"month": "mois", "hours": "heures"}),
    decimals={"p50_hours": 1, "p90_hours": 1, "p95_hours": 1, "p99_hours": 1},
    labels={
        "month": "mois",
        "studies": "examens",
        "studies_time_unknown": "sans heure",
        "p50_hours": "médiane (h)",
        "p90_hours": "90e centile (h)",
        "p95_hours": "95e centile (h)",
        "p99_hours": "99e centile (h)",
    },
)

st.subheader("Taux d'échec par type d'événement")
failures = data.cached("failure_rates", viewer, filters)
charts.show(
    "operator_failures",
    failures,
    charts.bar(
        failures,
        "failure_rate",
        "event_type",
        labels={"failure_rate": "taux d'échec", "event_type": ""},
        orientation="h",
    ),
    decimals={"failure_rate": 4},
    labels={
        "event_id": "EventID",
        "event_type": "type",
        "events": "événements",
        "failures": "échecs",
        "failure_rate": "taux d'échec",
    },
)

st.subheader("Niveaux de service du contrat")
st.caption(
    "Par mois, établissement et engagement : disponibilité, délai d'ingestion (95e centile, depuis l'heure de "
    "l'examen), taux d'échec des récupérations ; un niveau manqué donne un crédit sur la facture du mois suivant "
    "(voir docs/service-levels.md)."
)
levels = data.cached("service_levels", viewer, filters)
TERMS = {
    "availability": "disponibilité",
    "ingestion_delay_p95": "délai d'ingestion p95",
    "retrieval_failure_rate": "échecs de récupération",
}
LEVEL_LABELS = {
    "month": "mois",
    "establishment_id": "FINESS",
    "name": "établissement",
    "offer": "offre",
    "term": "engagement",
    "unit": "unité",
    "measured": "mesuré",
    "target": "objectif",
    "breached": "manqué",
    "sample_size": "base",
    "details": "détail",
    "assessed": "niveaux mesurés",
}
if levels.height:
    levels = levels.with_columns(pl.col("term").replace(TERMS))
    st.metric("Niveaux manqués sur la période", charts.fr_number(levels["breached"].sum()))
    # a level per site, month and term is thousands of rows for a region (16 000 for 500 sites): the page shows the
    # count per month and term and the missed ones; every level measured is one download away
    per_month = (
        levels.group_by("month", "term").agg(pl.len().alias("assessed"), pl.col("breached").sum()).sort("month", "term")
    )
    charts.show(
        "operator_service_levels",
        per_month,
        charts.bar(per_month, "month", "breached", "term", {"month": "mois", "breached": "manqués", "term": ""}),
        labels=LEVEL_LABELS,
    )
    st.markdown("**Niveaux manqués**")
    missed = levels.filter(pl.col("breached")).drop("breached")
    if missed.height:
        charts.show("operator_missed_levels", missed, decimals={"measured": 2, "target": 2}, labels=LEVEL_LABELS)
    else:
        st.success("Aucun niveau manqué sur la période.")
    everything = levels.with_columns(
        pl.col("breached").replace_strict({True: "oui", False: "non"}, return_dtype=pl.String)
    )
    charts.download(
        "Tous les niveaux mesurés (CSV)",
        lambda: charts.csv_text(everything, decimals={"measured": 2, "target": 2}, labels=LEVEL_LABELS),
        "operator_service_levels_all.csv",
        "operator_levels_csv",
    )
else:
    st.info("Aucun niveau de service mesuré pour ces filtres.")

st.subheader("Heures les plus chargées (examens reçus, heure de Paris)")
hours = data.cached("busiest_hours", viewer, filters)
charts.show(
    "operator_hours",
    hours,
    charts.heatmap(hours, "hour", "weekday", "studies", {"x": "heure", "y": "jour (1 = lundi)", "color": "examens"}),
    labels={"weekday": "jour (1 = lundi)", "hour": "heure", "studies": "examens"},
)
