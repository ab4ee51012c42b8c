"""What every page starts with: the viewer and the shared filters (set by app.py)."""

from __future__ import annotations

import streamlit as st

from analytics.reporting.scope import Filters, Viewer


def context() -> tuple[Viewer, Filters]:
    viewer = st.session_state.get("viewer")
    if viewer is None:
        st.stop()
    return viewer, st.session_state.get("filters", Filters())
