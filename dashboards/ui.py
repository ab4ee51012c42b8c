"""What every page starts with: the viewer and the shared filters (set by app.py); the pages and their roles."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import streamlit as st

from analytics.reporting.scope import Filters, Viewer

PAGES = {  # section -> (file, title, icon, roles)
    "Programme (GCS)": [("pages/rollout.py", "Déploiement", ":material/flag:", ("gcs", "operator"))],
    "Finance": [
        ("pages/finance.py", "Factures", ":material/euro:", ("finance", "gcs")),
        ("pages/proposals.py", "Prochain accord", ":material/request_quote:", ("finance", "gcs")),
    ],
    "Région (ARS)": [("pages/regional.py", "Activité régionale", ":material/map:", ("ars", "gcs"))],
    "Opérateur": [("pages/operator.py", "Stockage et service", ":material/storage:", ("operator", "gcs"))],
    "Mon établissement": [
        ("pages/establishment.py", "Mon établissement", ":material/local_hospital:", ("establishment",))
    ],
    "Télé-avis (pilote)": [("pages/opinions.py", "Télé-avis", ":material/forum:", ("gcs", "establishment"))],
    "Qualité des données": [
        ("pages/quality.py", "Qualité des données", ":material/fact_check:", ("operator", "gcs", "finance"))
    ],
}
PILOT_PAGES = frozenset({"pages/opinions.py"})  # offered to an establishment only when it is in the pilot


_headless = threading.local()


class PageStopped(Exception):  # noqa: N818 - a stop, not an error: what st.stop() is in a visitor's run
    """A page run headless (the cache warmer) stopped where a visitor's run would; `reason`: the one line the visitor
    reads when it stopped on an error (None: a normal end, such as nothing to show)."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "stopped")
        self.reason = reason


def is_headless() -> bool:
    return getattr(_headless, "viewer", None) is not None


def stop(reason: str | None = None) -> NoReturn:
    """End the page here: st.stop() in a visitor's run; in a headless one, where Streamlit's stop does nothing and the
    page would run on, PageStopped."""
    if is_headless():
        raise PageStopped(reason)
    st.stop()
    raise AssertionError("st.stop() returned")  # unreachable: it raises in a session


def context() -> tuple[Viewer, Filters]:
    if is_headless():
        return _headless.viewer, _headless.filters
    viewer = st.session_state.get("viewer")
    if viewer is None:
        st.stop()
    return viewer, st.session_state.get("filters", Filters())


@contextmanager
def headless(viewer: Viewer, filters: Filters) -> Iterator[None]:
    """Pages run in this thread for this viewer and filters, outside any session (the cache warmer): in a thread
    without a session, Streamlit draws nothing and every widget keeps its default."""
    _headless.viewer, _headless.filters = viewer, filters
    try:
        yield
    finally:
        _headless.viewer = _headless.filters = None
