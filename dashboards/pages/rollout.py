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
for col, (key, label) in zip(
    cols,
    [
        ("signed", "Signés"),
        ("planned", "Planifiés"),
        ("live", "En production"),
        ("ended", "Terminés"),
        ("late", "En retard"),
    ],
    strict=False,
):
    col.metric(label, charts.fr_number(summary[key]))
cols[5].metric("Retard moyen", f"{charts.fr_number(summary['mean_delay_days'], 1)} j")

st.subheader("Mise en production prévue et réelle")
timeline = sites.with_columns(pl.col("stage").replace_strict(charts.STAGES_FR, default=pl.col("stage")))
charts.show(
    "rollout_timeline",
    timeline.select(
        "establishment_id", "name", "departement", "offer", "stage", "planned_go_live", "actual_go_live", "delay_days"
    ),
    charts.timeline(sites),
    labels={
        "name": "établissement",
        "stage": "étape",
        "planned_go_live": "prévue",
        "actual_go_live": "réelle",
        "delay_days": "retard (j)",
    },
)

silent = data.cached("silent_sites", viewer, filters)
if not silent.is_empty():
    st.warning(
        f"{len(silent)} site(s) en production sans envoi depuis plus de 30 jours : "
        + ", ".join(silent["name"].to_list())
    )

st.subheader("Adoption : examens par mois depuis la mise en production")
adoption = data.cached("adoption", viewer, filters)
# a line per site reads well for a few sites; for hundreds (one plotly trace each: seconds to build and draw), a
# site x month heatmap shows the same ramp-ups in one trace
few = adoption["establishment_id"].n_unique() <= MAX_LINES
figure = (
    charts.line(adoption, "month", "studies", "name", {"month": "mois", "studies": "examens", "name": ""})
    if few
    else charts.heatmap(adoption, "month", "name", "studies", {"x": "mois", "y": "", "color": "examens"})
)
charts.show(
    "rollout_adoption",
    adoption.select("month", "name", "months_live", "studies", "suppressed"),
    figure,
    labels={"month": "mois", "name": "établissement", "months_live": "mois depuis le démarrage", "studies": "examens"},
)

st.subheader("Accord-cadre : échéance, plafond et engagements")
governance = data.governance(data.version(), viewer)
validity = governance["validity"].row(0, named=True)
cols = st.columns(3)
cols[0].metric("Fin de l'accord-cadre", charts.fr_date(validity["valid_to"]))
cols[1].metric("Mois restants", charts.fr_number(validity["months_left"]))
cols[2].metric("Situation", charts.AGREEMENT_STATUS_FR[validity["status"]])
if validity["status"] in ("renewal_due", "expired"):
    st.warning(
        f"Moins de {validity['alert_months']} mois avant la fin de l'accord-cadre "
        f"({charts.fr_date(validity['valid_to'])}) : préparer son renouvellement."
    )
st.caption(f"Au {charts.fr_date(validity['as_of'])} (lendemain des dernières données) ; mois complets seulement.")
if governance["ceiling"] is not None:
    ceiling = governance["ceiling"].with_columns(
        pl.col("measure").replace_strict(charts.MEASURES_FR, default=pl.col("measure")),
        (pl.col("share", "projected_share") * 100),
    )
    charts.show(
        "governance_ceiling",
        ceiling,
        decimals={"share": 1, "projected_share": 1},
        labels={
            "measure": "mesure",
            "ceiling": "plafond",
            "consumed": "consommé",
            "share": "consommé (%)",
            "monthly_rate": "rythme mensuel",
            "months_remaining": "mois restants",
            "projected": "projection à échéance",
            "projected_share": "projection (%)",
        },
    )
commitments = governance["commitments"]
if commitments is not None:
    commitments = commitments.with_columns(
        pl.col("status").replace_strict(charts.COMMITMENT_STATUS_FR, default=pl.col("status"))
    )
    money = tuple(c for c in commitments.columns if c.endswith("_amount"))
    charts.show(
        "governance_commitments",
        commitments,
        money=money,
        decimals={"studies_share": 2, "amount_share": 2},
        labels={
            "establishment_id": "FINESS",
            "months_live": "mois en production",
            "committed_studies": "examens engagés / an",
            "expected_studies": "examens attendus",
            "actual_studies": "examens réalisés",
            "studies_share": "réalisé / attendu (examens)",
            "projected_studies": "projection annuelle (examens)",
            "committed_amount": "montant engagé / an",
            "expected_amount": "montant attendu",
            "actual_amount": "montant réalisé",
            "amount_share": "réalisé / attendu (montant)",
            "projected_amount": "projection annuelle (montant)",
            "status": "situation",
        },
    )
