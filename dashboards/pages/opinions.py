"""Tele-opinions (GCS, the pilot's establishments): requests per month and pair, the answered share, turnaround by
day and on call, the unanswered requests. Figures from analytics.reporting.opinions (those of `sansfilm opinions`);
an establishment sees only the pairs it asks or answers in, and no study is named to anyone."""

import polars as pl
import streamlit as st

from analytics.reporting import labels as fr
from analytics.reporting import opinions
from dashboards import charts, data, ui
from dashboards.ui import context

LABELS = {
    "month": "mois",
    "pair": "couple",
    "requester": "demandeur",
    "responder": "répondant",
    "requests": "demandes",
    "answered": "répondues",
    "unanswered": "sans réponse",
    "pending": "en attente",
    "on_call": "demandes en astreinte",
    "answered_share": "part répondue",
    "period": "période",
    "turnaround_p50_minutes": "délai médian (min)",
    "turnaround_p90_minutes": "délai 90e centile (min)",
    "requested_at": "demandé le",
    "late": "réponse arrivée après le délai",
}

viewer, filters = context()
viewer.require(*opinions.ROLES)  # the query layer refuses the others too; this stops the page before it
st.title("Télé-avis et astreinte")
if viewer.kind == "establishment" and viewer.scope not in data.opinion_pilot():
    st.info(
        "Votre établissement ne participe pas au pilote de télé-avis (contracts/opinion_pairs.csv) : "
        "il n'a aucune demande à voir ici."
    )
    ui.stop()
rules = data.settings().opinions
st.caption(
    "Une demande : un examen transféré par la plateforme à l'autre établissement d'un couple du pilote. "
    f"Astreinte : demande faite hors {rules.working_day_start:%H:%M}–{rules.working_day_end:%H:%M} un jour ouvré, "
    "ou un samedi, un dimanche ou un jour férié (heure de Paris). Répondue : un compte rendu structuré (SR) du "
    f"répondant dans les {rules.answer_within_hours} h ; sinon sans réponse, ou en attente tant que le délai court. "
    "Part répondue : parmi les demandes dont le délai est écoulé ou qui ont leur réponse. Les mêmes chiffres que "
    "`sansfilm opinions --month AAAA-MM`."
)
asked = data.cached("opinion_requests", viewer, filters)


def named(frame: pl.DataFrame) -> pl.DataFrame:
    """Each side as its name with the FINESS beside it, the pair as « demandeur → répondant », periods in French."""
    out = frame
    for side in ("requester", "responder"):
        if f"{side}_id" in out.columns:
            out = out.with_columns(
                pl.struct(f"{side}_id", side)
                .map_elements(lambda s, side=side: fr.establishment(s[f"{side}_id"], s[side]), return_dtype=pl.String)
                .alias(side)
            ).drop(f"{side}_id")
    if "period" in out.columns:
        out = out.with_columns(pl.col("period").replace(fr.OPINION_PERIODS))
    return out


counters = opinions.totals(asked)
cols = st.columns(4)
cols[0].metric("Demandes", charts.fr_number(counters["requests"]))
cols[1].metric("Part répondue", charts.fr_percent(counters["answered_share"]))
cols[2].metric("Sans réponse", charts.fr_number(counters["unanswered"]))
cols[3].metric("En attente de réponse", charts.fr_number(counters["pending"]))
if asked.is_empty():
    st.info("Aucune demande de télé-avis sur la période pour ces filtres.")
    ui.stop()

st.subheader("Demandes par mois et par couple")
months = named(opinions.pair_months(asked))
plotted = months.with_columns(pair=pl.format("{} → {}", "requester", "responder"))
charts.show(
    "opinions_pairs",
    months,
    charts.bar(plotted, "month", "requests", "pair", LABELS),
    decimals={"answered_share": 0},
    labels=LABELS,
)

st.subheader("Délai de réponse : jour et astreinte")
st.caption(
    "Demandes répondues seulement ; centiles au rang le plus proche, en minutes entières. Les centiles ne "
    "s'additionnent pas : le graphique (délai médian) les calcule sur toutes les demandes du mois des couples "
    "affichés, le tableau suivant couple par couple."
)
overall = named(opinions.turnaround(asked, by_pair=False))
charts.show(
    "opinions_turnaround",
    overall,
    charts.line(overall, "month", "turnaround_p50_minutes", "period", LABELS),
    labels=LABELS,
)
st.markdown("**Par couple**")
charts.show("opinions_turnaround_pairs", named(opinions.turnaround(asked)), labels=LABELS)

st.subheader("Demandes sans réponse")
missed = named(opinions.unanswered(asked)).drop("month")
if missed.is_empty():
    st.info("Toutes les demandes de la période ont eu leur réponse dans le délai (ou l'attendent encore).")
else:
    charts.show("opinions_unanswered", missed, labels=LABELS)
