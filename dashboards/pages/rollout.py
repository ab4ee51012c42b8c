"""Roll-out (GCS): stages, planned vs actual go-live, lateness, adoption, silent live sites."""

import polars as pl
import streamlit as st

from analytics.reporting import labels as fr
from analytics.reporting import rollout
from analytics.reporting.programme import rollout_summary
from dashboards import charts, data
from dashboards.ui import context

MAX_LINES = 20
viewer, filters = context()
st.title("Déploiement du programme")
sites = data.cached("rollout_sites", viewer, filters)
summary = rollout_summary(sites)
as_of = data.data_horizon(data.version())
settings = data.settings().dashboards
slip = rollout.programme_slip(sites, as_of)
cols = st.columns(4)
for col, (key, label) in zip(
    cols * 2,
    [
        ("signed", "Signés"),
        ("planned", "Planifiés"),
        ("live", "En production"),
        ("ended", "Terminés"),
        ("late", "En retard"),
    ],
    strict=False,  # five counters on the eight places of two rows of four
):
    col.metric(label, charts.fr_number(summary[key]))
cols[1].metric("Retard moyen", f"{charts.fr_number(summary['mean_delay_days'], 0)} j")
cols[2].metric(
    "Glissement sur le plan initial",
    f"{charts.fr_number(slip['slip_months'], 1)} mois",
    help="Temps écoulé depuis le jour où le plan initial prévoyait autant de sites en production "
    "qu'il y en a aujourd'hui (0 : à l'heure ou en avance).",
)
st.caption(
    f"Situation au {charts.fr_date(as_of)} (dernières données) : la période choisie ne s'applique pas à ces "
    "compteurs ; les filtres département et offre, oui."
)

st.subheader("Mise en production prévue et réelle, des plus en retard aux plus en avance")
st.caption(
    f"Tolérance : {settings.late_tolerance_days} jours ; très en retard au-delà de {settings.very_late_days} "
    "jours (configuration `[dashboards]`). Un site pas encore en production compte ses jours de retard à ce jour."
)
late = rollout.lateness(sites, settings.late_tolerance_days, settings.very_late_days).with_columns(as_of=pl.lit(as_of))
timeline = fr.french_codes(late)
charts.show(
    "rollout_timeline",
    timeline.select(
        "name",
        "establishment_id",
        "departement",
        "offer",
        "stage",
        "planned_go_live",
        "actual_go_live",
        "delay_days",
        "lateness",
    ),
    charts.timeline(late),
    labels={
        "establishment_id": "FINESS",
        "departement": "département",
        "offer": "offre",
        "name": "établissement",
        "stage": "étape",
        "planned_go_live": "prévue",
        "actual_go_live": "réelle",
        "delay_days": "retard (j)",
        "lateness": "ponctualité",
    },
)

st.subheader("Courbe en S : sites en production et prévus")
by = st.segmented_control(
    "Par",
    ["offer", "departement"],
    default="offer",
    key="rollout_curve_by",
    format_func={"offer": "offre", "departement": "département"}.get,
)
named = fr.french_codes(sites)
curve = rollout.s_curve(named, as_of, by or "offer")
charts.show(
    "rollout_s_curve",
    curve,
    charts.s_curve(curve),
    labels={
        "month": "mois",
        "group": "offre" if (by or "offer") == "offer" else "département",
        "planned": "sites prévus (cumul)",
        "live": "sites en production (cumul)",
    },
)

st.subheader("Durée de déploiement, de l'adhésion à la mise en production, par offre")
durations = rollout.deployment_durations(named)
if durations.height:
    medians = durations.group_by("offer", maintain_order=True).agg(pl.col("months").median())
    st.caption(
        " ; ".join(
            f"{r['offer']} : médiane {charts.fr_number(r['months'], 1)} mois" for r in medians.iter_rows(named=True)
        )
    )
charts.show(
    "rollout_durations",
    durations,
    charts.box(durations, "offer", "months", {"offer": "offre", "months": "mois"}) if durations.height else None,
    decimals={"months": 1},
    labels={"establishment_id": "FINESS", "name": "établissement", "offer": "offre", "months": "durée (mois)"},
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
cols[1].metric(
    "Mois restants",
    charts.fr_number(validity["months_left"]),
    help="Mois de l'accord-cadre pas encore achevés, le mois en cours compris (les mois à facturer).",
)
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
    )
    charts.show(
        "governance_ceiling",
        ceiling,
        labels={
            "measure": "mesure",
            "ceiling": "plafond",
            "consumed": "consommé",
            "share": "consommé (%)",
            "monthly_rate": "rythme mensuel",
            "months_remaining": "mois projetés",
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
        decimals={"studies_share": 1, "amount_share": 1},
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
