"""Roll-out (GCS): stages, planned vs actual go-live, lateness, adoption, silent live sites."""

import polars as pl
import streamlit as st

from analytics.reporting.programme import rollout_summary
from dashboards import charts, data
from dashboards.ui import context

MAX_LINES = 20
viewer, filters = context()
st.title("Déploiement du programme")
sites = data.cached("rollout_sites", viewer, filters)
summary = rollout_summary(sites)
cols = st.columns(6)
for col, (key, label) in zip(cols, [("signed", "Signés"), ("planned", "Planifiés"), ("live", "En production"),
                                    ("ended", "Terminés"), ("late", "En retard")]):  # fmt: skip
    col.metric(label, charts.fr_number(summary[key]))
cols[5].metric("Retard moyen", f"{charts.fr_number(summary['mean_delay_days'], 1)} j")

st.subheader("Mise en production prévue et réelle")
timeline = sites.with_columns(pl.col("stage").replace_strict(charts.STAGES_FR, default=pl.col("stage")))
charts.show("rollout_timeline", timeline.select("establishment_id", "name", "departement", "offer", "stage",
                                               "planned_go_live", "actual_go_live", "delay_days"),
            charts.timeline(sites),
            labels={"name": "établissement", "stage": "étape", "planned_go_live": "prévue",
                    "actual_go_live": "réelle", "delay_days": "retard (j)"})  # fmt: skip

silent = data.cached("silent_sites", viewer, filters)
if not silent.is_empty():
    st.warning(f"{len(silent)} site(s) en production sans envoi depuis plus de 30 jours : "
               + ", ".join(silent["name"].to_list()))  # fmt: skip

st.subheader("Adoption : examens par mois depuis la mise en production")
adoption = data.cached("adoption", viewer, filters)
# a line per site reads well for a few sites; for hundreds (one plotly trace each: seconds to build and draw), a
# site x month heatmap shows the same ramp-ups in one trace
few = adoption["establishment_id"].n_unique() <= MAX_LINES
figure = (charts.line(adoption, "month", "studies", "name", {"month": "mois", "studies": "examens", "name": ""}) if few
          else charts.heatmap(adoption, "month", "name", "studies", {"x": "mois", "y": "", "color": "examens"}))  # fmt: skip
charts.show("rollout_adoption", adoption.select("month", "name", "months_live", "studies", "suppressed"), figure,
            labels={"month": "mois", "name": "établissement", "months_live": "mois depuis le démarrage",
                    "studies": "examens"})  # fmt: skip
