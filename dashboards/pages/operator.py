"""Operator: stored volume and a 12-month forecast, ingestion delay, failure rates, busiest hours."""

import polars as pl
import streamlit as st

from analytics.reporting import labels as fr
from analytics.reporting import service
from analytics.reporting.programme import SILENT_DAYS
from dashboards import charts, data
from dashboards.ui import context

KINDS = {"history": "mesuré", "forecast": "prévision"}
PERCENTILES = {
    "p50_hours": "médiane",
    "p90_hours": "90e centile",
    "p95_hours": "95e centile",
    "p99_hours": "99e centile",
}
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
    storage.with_columns(pl.col("stored_gb", "low", "high") * scale, pl.col("kind").replace(KINDS)),
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
).with_columns(pl.col("percentile").replace(PERCENTILES))
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

st.subheader("Sites en production : dernière réception")
live = data.cached("live_sites", viewer, filters)
if live.height:
    silent = live.filter(pl.col("days_silent") > SILENT_DAYS).height
    st.metric(f"Sites en production silencieux depuis plus de {SILENT_DAYS} jours", charts.fr_number(silent))
charts.show(
    "operator_live_sites",
    fr.french_codes(live),
    labels={
        "establishment_id": "FINESS",
        "name": "établissement",
        "departement": "département",
        "offer": "offre",
        "actual_go_live": "en production depuis",
        "last_study_date": "dernière réception",
        "days_silent": "jours sans envoi",
    },
)

st.subheader("Échecs par site et par mois (événements d'audit)")
by_site = data.cached("failures_by_site", viewer, filters)
if by_site.height:
    per_site = (
        by_site.group_by("establishment_id", "name")
        .agg(pl.col("events", "failures").sum())
        .with_columns(failure_rate=pl.col("failures") / pl.col("events"))
        .sort("failures", "name", descending=[True, False])  # a stable order: ties by name (and a cached figure)
    )
    per_month = by_site.group_by("month").agg(pl.col("events", "failures").sum()).sort("month")
    left, right = st.columns(2)
    with left:
        charts.show(
            "operator_failures_site",
            per_site,
            charts.bar(per_site, "failures", "name", labels={"failures": "échecs", "name": ""}, orientation="h"),
            labels={
                "establishment_id": "FINESS",
                "name": "établissement",
                "events": "événements",
                "failures": "échecs",
                "failure_rate": "taux d'échec",
            },
        )
    with right:
        charts.show(
            "operator_failures_month",
            per_month,
            charts.bar(per_month, "month", "failures", labels={"month": "mois", "failures": "échecs"}),
            labels={"month": "mois", "events": "événements", "failures": "échecs"},
        )
else:
    st.info("Aucun événement d'audit pour ces filtres.")

st.subheader("Taux d'échec par type d'événement")
failures = data.cached("failure_rates", viewer, filters).with_columns(
    pl.col("event_id").replace(fr.AUDIT_EVENTS).alias("event_type")
)
charts.show(
    "operator_failures",
    failures,
    charts.bar(
        failures,
        "failure_rate",
        "event_type",
        labels={"failure_rate": "taux d'échec", "event_type": ""},
        orientation="h",
    ).update_xaxes(tickformat=".0%"),
    decimals={"failure_rate": 4},
    labels={
        "event_id": "code DICOM",
        "event_type": "événement",
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
    levels = levels.with_columns(pl.col("term").replace(fr.TERMS), pl.col("unit").replace(fr.UNITS))
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
    st.markdown("**Chaque engagement face à son objectif, dans l'unité du contrat**")
    trend = service.against_target(data.cached("service_levels", viewer, filters))
    for term, tab in zip(
        trend["term"].unique(maintain_order=True).to_list(),
        st.tabs([fr.label(fr.TERMS, t) for t in trend["term"].unique(maintain_order=True)]),
        strict=True,
    ):
        with tab:
            rows = trend.filter(pl.col("term") == term)
            unit = fr.label(fr.UNITS, rows["unit"][0])
            long = rows.unpivot(["median", "worst", "target"], index="month", variable_name="série", value_name="value")
            long = long.with_columns(
                pl.col("série").replace(
                    {"median": "site médian", "worst": "site le moins bon", "target": "objectif du contrat"}
                )
            )
            charts.show(
                f"operator_target_{term}",
                rows.drop("term", "unit"),
                charts.line(long, "month", "value", "série", {"month": "mois", "value": unit, "série": ""}),
                decimals={"median": 2, "worst": 2, "target": 2},
                labels={
                    "month": "mois",
                    "target": f"objectif ({unit})",
                    "median": f"site médian ({unit})",
                    "worst": f"site le moins bon ({unit})",
                    "missed": "sites en défaut",
                    "sites": "sites mesurés",
                },
            )
    st.markdown("**Niveaux manqués**")
    missed = levels.filter(pl.col("breached")).drop("breached")
    if missed.height:
        charts.show("operator_missed_levels", missed, decimals={"measured": 2, "target": 2}, labels=LEVEL_LABELS)
    else:
        st.success("Aucun niveau manqué sur la période.")
    charts.downloads(
        "operator_service_levels_all",
        levels,
        decimals={"measured": 2, "target": 2},
        labels=LEVEL_LABELS,
        title="Tous les niveaux mesurés",
    )
else:
    st.info("Aucun niveau de service mesuré pour ces filtres.")

st.subheader("Heures les plus chargées (examens reçus, heure de Paris)")
hours = data.cached("busiest_hours", viewer, filters)
hours = hours.with_columns(
    pl.col("weekday").map_elements(lambda d: f"{d} {fr.WEEKDAYS[d - 1]}", return_dtype=pl.String)
)
charts.show(
    "operator_hours",
    hours,
    charts.heatmap(hours, "hour", "weekday", "studies", {"x": "heure", "y": "jour", "color": "examens"}),
    labels={"weekday": "jour", "hour": "heure", "studies": "examens"},
)
