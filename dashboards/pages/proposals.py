"""Next agreement (GCS, finance): a proposed tariff of contracts/proposals/ billed on the metered months, who wins and
who loses, and five years of it against the ceiling it proposes. Numbers from analytics.reporting (proposals,
projection); this page only shows them."""

import polars as pl
import streamlit as st

from analytics.errors import SansfilmError
from analytics.reporting import labels as fr
from dashboards import charts, data, ui
from dashboards.ui import context

LABELS = {
    "establishment_id": "FINESS",
    "name": "établissement",
    "category": "catégorie",
    "sector": "secteur",
    "departement": "département",
    "offer": "offre",
    "months": "mois",
    "establishments": "établissements",
    "current_net": "actuel HT",
    "simulated_net": "proposé HT",
    "delta": "écart HT",
    "change_pct": "écart (%)",
    "winners": "en baisse",
    "losers": "en hausse",
    "scenario": "scénario",
    "month": "mois",
    "net": "HT du mois",
    "cumulative": "cumul HT",
    "ceiling": "plafond HT",
    "activity_rate": "croissance activité / an",
    "storage_rate": "croissance stockage / an",
    "total": "total 5 ans HT",
    "share": "part du plafond (%)",
    "exceeded_in": "plafond dépassé en",
    "history_until": "historique jusqu'à",
}
MONEY = ("current_net", "simulated_net", "delta", "net", "cumulative", "ceiling", "total")
DECIMALS = {"change_pct": 1, "share": 1, "activity_rate": 4, "storage_rate": 4}

viewer, filters = context()
viewer.require("gcs", "finance")  # the query layer refuses the others too; this stops the page before it
st.title("Prochain accord : simuler un tarif proposé")
names = data.proposal_names()
if not names:
    st.info(
        "Aucune proposition : déposez un tarif au format de framework.yaml dans contracts/proposals/ "
        "(voir docs/billing.md, « Simulating a proposed tariff »)."
    )
    ui.stop()
name = st.selectbox("Tarif proposé (contracts/proposals/)", names, key="proposal_file")
try:
    result = data.proposal(viewer, name, filters)
except SansfilmError as error:  # an invalid proposal: the loader's message names the file, the field and the line
    st.error(f"Proposition illisible : {error}")
    ui.stop(f"Proposition illisible : {error}")

months = result["months"]
st.caption(
    f"{result['contract_id']} appliqué à chaque mois mesuré de {charts.fr_month(months[0])} à "
    f"{charts.fr_month(months[-1])} ({len(months)} mois), avec les règles de facturation en vigueur (abonnement "
    "au prorata, tranches, complément au minimum, TVA). Mois émis : la facture émise ; autres mois : le "
    "brouillon au tarif actuel. Montants hors TVA."
    + (
        " La proposition couvre d'autres dates : elle est appliquée comme si elle avait remplacé l'accord en "
        "cours (mêmes dates et même révision annuelle des prix)."
        if result["laid_over"]
        else ""
    )
)
cols = st.columns(3)
cols[0].metric("Facturé ou rédigé (tarif actuel)", charts.fr_money(result["current_net"]))
cols[1].metric("Avec le tarif proposé", charts.fr_money(result["simulated_net"]))
share = result["delta"] / result["current_net"] if result["current_net"] else None
cols[2].metric(
    "Écart",
    charts.fr_money(result["delta"]),
    charts.fr_percent(float(share) if share is not None else None),
    delta_color="inverse",
)


def readable(frame: pl.DataFrame) -> pl.DataFrame:
    """Codes as a reader names them: offer, département, category and sector in French (labels.py)."""
    named = {
        "category": pl.col("category").replace(fr.CATEGORIES),
        "sector": pl.col("sector").replace(fr.SECTORS),
    }
    return fr.french_codes(frame).with_columns(e for c, e in named.items() if c in frame.columns)


changes = readable(result["changes"])
st.subheader("Variation de la facture par établissement")
plotted = changes.with_columns(pl.col("delta").cast(pl.Float64)).sort("delta")
charts.show(
    "proposal_changes",
    changes,
    charts.bar(plotted, "delta", "name", "offer", LABELS, "h"),
    money=MONEY,
    decimals=DECIMALS,
    labels=LABELS,
)
for title, key in (("Par catégorie d'établissement", "by_category"), ("Par offre", "by_offer")):
    st.subheader(title)
    group = "category" if key == "by_category" else "offer"
    frame = readable(result[key])
    charts.show(
        f"proposal_{key}",
        frame,
        charts.bar(frame.with_columns(pl.col("delta").cast(pl.Float64)), group, "delta", labels=LABELS),
        money=MONEY,
        decimals=DECIMALS,
        labels=LABELS,
    )

left, right = st.columns(2)
with left:
    st.subheader("Gagnants (plus forte baisse)")
    charts.show("proposal_winners", readable(result["winners"]), money=MONEY, decimals=DECIMALS, labels=LABELS)
with right:
    st.subheader("Perdants (plus forte hausse)")
    charts.show("proposal_losers", readable(result["losers"]), money=MONEY, decimals=DECIMALS, labels=LABELS)

st.subheader("Projection sur les cinq ans de l'accord proposé")
st.caption(
    "Consommation des 12 derniers mois mesurés, même mois calendaire, augmentée chaque année du taux de "
    "croissance des prévisions d'activité (examens archivés) et de stockage : bas et haut = bornes de la bande "
    "de prévision à 95 %. Prix de la proposition sans révision (monnaie de sa date de base)."
)
projection = result["projection"]
summary = result["summary"]
charts.show("proposal_summary", summary, money=MONEY, decimals=DECIMALS, labels=LABELS)
figure = charts.line(
    projection.with_columns(pl.col("cumulative").cast(pl.Float64)), "month", "cumulative", "scenario", LABELS
)
if not summary.is_empty() and summary["ceiling"][0] is not None:
    figure.add_hline(y=float(summary["ceiling"][0]), line_dash="dash", annotation_text="plafond proposé")
charts.show("proposal_projection", projection, figure, money=MONEY, decimals=DECIMALS, labels=LABELS)
