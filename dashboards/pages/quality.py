"""Data quality: freshness per source, quarantine counts and reasons, unattributed volume."""

import polars as pl
import streamlit as st

from dashboards import charts, data
from dashboards.ui import context

viewer, filters = context()
st.title("Qualité des données")
freshness = data.cached("source_freshness", viewer, filters)
st.subheader("Fraîcheur par source")
charts.show("quality_freshness", freshness,
            labels={"source": "source", "kind": "nature", "harvests": "moissons", "last_harvest_at": "dernière moisson",
                    "newest_record_at": "donnée la plus récente", "records_added": "enregistrements",
                    "quarantined": "en quarantaine"})  # fmt: skip

st.subheader("Quarantaine")
quarantine = data.cached("quarantine", viewer, filters)
st.metric("Fichiers et enregistrements en quarantaine",
          charts.fr_number(int(quarantine["files"].sum() + quarantine["records"].sum()) if quarantine.height else 0))
charts.show("quality_quarantine", quarantine,
            labels={"source": "source", "reason": "motif", "files": "fichiers", "records": "enregistrements",
                    "last_date": "dernier"})  # fmt: skip

st.subheader("Volume non attribué")
unbilled = data.cached("unbilled", viewer, filters)
unattributed = unbilled.filter(pl.col("establishment_id") == "UNATTRIBUTED")
st.metric("Examens non attribués sur la période", charts.fr_number(unattributed["studies_archived"].sum()))
charts.show("quality_unattributed", unattributed.drop("establishment_id", "name"),
            charts.bar(unattributed, "month", "instances_archived", labels={"month": "mois", "instances_archived": "instances"}),
            labels={"month": "mois", "reason": "motif", "studies_archived": "examens", "instances_archived": "instances",
                    "bytes_archived": "octets", "retrievals": "récupérations", "shares": "partages", "views": "consultations"})  # fmt: skip
