"""What `sansfilm dashboards` serves: `streamlit run dashboards/server.py` runs the app (app.py) with a start-up hook
that warms the caches as soon as the server is up, not at the first visitor's page (docs/dashboards.md)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def _warm_at_start(app: st.App):
    from dashboards import data  # imported here: the pages' modules are loaded before the first visitor

    data.warm_in_background()
    yield


app = st.App("app.py", lifespan=_warm_at_start)
