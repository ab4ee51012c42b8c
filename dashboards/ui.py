"""What every page starts with: the viewer and the shared filters (set by app.py); the pages and their roles."""

from __future__ import annotations

import streamlit as st

from analytics.reporting.scope import Filters, Viewer

PAGES = {  # section -> (file, title, icon, roles)
    "Programme (GCS)": [("pages/rollout.py", "Déploiement", ":material/flag:", ("gcs", "operator"))],
    "Finance": [("pages/finance.py", "Factures", ":material/euro:", ("finance", "gcs"))],
    "Région (ARS)": [("pages/regional.py", "Activité régionale", ":material/map:", ("ars", "gcs"))],
    "Opérateur": [("pages/operator.py", "Stockage et service", ":material/storage:", ("operator", "gcs"))],
    "Mon établissement": [("pages/establishment.py", "Mon établissement", ":material/local_hospital:",
                           ("establishment",))],
    "Qualité des données": [("pages/quality.py", "Qualité des données", ":material/fact_check:",
                             ("operator", "gcs", "finance"))],
}  # fmt: skip


def context() -> tuple[Viewer, Filters]:
    viewer = st.session_state.get("viewer")
    if viewer is None:
        st.stop()
    return viewer, st.session_state.get("filters", Filters())
