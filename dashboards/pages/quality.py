"""Data quality: the data contracts' latest results and failures, freshness per source, quarantine, unattributed
volume."""

import polars as pl
import streamlit as st

from analytics.reporting import labels as fr
from dashboards import charts, data
from dashboards.ui import context

viewer, filters = context()
st.title("Qualité des données")

st.subheader("Contrôles des données")
latest, failures = data.quality_checks(viewer)
labels = {
    "checked_at": "vérifié le",
    "trigger": "origine",
    "name": "contrôle",
    "table_name": "table",
    "severity": "sévérité",
    "passed": "réussi",
    "observed": "observé",
    "details": "détails",
}
if latest.is_empty():
    st.info("Aucun contrôle enregistré : lancez `sansfilm check`.")
else:
    failed = latest.filter(~pl.col("passed"))
    blocking, warnings = st.columns(2)
    blocking.metric(
        "Contrôles bloquants en échec", charts.fr_number(failed.filter(pl.col("severity") == "error").height)
    )
    warnings.metric("Avertissements", charts.fr_number(failed.filter(pl.col("severity") == "warn").height))
    charts.show("quality_checks", fr.french_checks(latest.drop("run_id")), labels=labels)
st.caption("Un contrôle bloquant en échec bloque l'émission des factures (docs/data-quality.md).")
st.markdown("**Historique des échecs**")
charts.show("quality_failures", fr.french_checks(failures), labels={**labels, "run_id": "exécution"})
freshness = data.cached("source_freshness", viewer, filters)
st.subheader("Fraîcheur par source")
charts.show(
    "quality_freshness",
    freshness.with_columns(pl.col("kind").replace(fr.SOURCE_KINDS)),
    labels={
        "source": "source",
        "kind": "nature",
        "harvests": "moissons",
        "last_harvest_at": "dernière moisson",
        "newest_record_at": "donnée la plus récente",
        "records_added": "enregistrements",
        "quarantined": "en quarantaine",
    },
)

st.subheader("Quarantaine")
quarantine = data.cached("quarantine", viewer, filters)
st.metric(
    "Fichiers et enregistrements en quarantaine",
    charts.fr_number(int(quarantine["files"].sum() + quarantine["records"].sum()) if quarantine.height else 0),
)
charts.show(
    "quality_quarantine",
    quarantine,
    labels={
        "source": "source",
        "reason": "motif",
        "files": "fichiers",
        "records": "enregistrements",
        "last_date": "dernier",
    },
)

st.subheader("Volume non attribué")
unbilled = data.cached("unbilled", viewer, filters)
unattributed = unbilled.filter(pl.col("establishment_id") == "UNATTRIBUTED")
st.metric("Examens non attribués sur la période", charts.fr_number(unattributed["studies_archived"].sum()))
charts.show(
    "quality_unattributed",
    unattributed.drop("establishment_id", "name"),
    charts.bar(
        unattributed, "month", "instances_archived", labels={"month": "mois", "instances_archived": "instances"}
    ),
    labels={
        "month": "mois",
        "reason": "motif",
        "studies_archived": "examens",
        "instances_archived": "instances",
        "bytes_archived": "octets",
        "retrievals": "récupérations",
        "shares": "partages",
        "views": "consultations",
    },
)
