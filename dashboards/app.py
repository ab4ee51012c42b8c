"""sansfilm dashboards: `sansfilm dashboards` (or `streamlit run dashboards/app.py`) with $SANSFILM_CONFIG set.

One navigation section per audience; a viewer only gets the sections of its role, and every query is scoped by the
viewer anyway (analytics.reporting).
"""

from __future__ import annotations

import streamlit as st

from analytics.reporting.scope import Filters, Viewer
from dashboards import auth, data
from dashboards.ui import PAGES


def sections(viewer: Viewer) -> dict[str, list[st.Page]]:
    return {section: [st.Page(path, title=title, icon=icon) for path, title, icon, roles in pages if viewer.kind in roles]
            for section, pages in PAGES.items() if any(viewer.kind in p[3] for p in pages)}  # fmt: skip


def sidebar_filters(viewer: Viewer) -> Filters:
    """The filters every page shares (kept in session state across pages)."""
    version = data.version()
    months = data.months(version)
    choices = data.choices(version, viewer)
    with st.sidebar:
        st.markdown(f"**{viewer.name}** · {viewer.role}")
        st.button("Se déconnecter", on_click=auth.logout, key="logout")
        if not months:
            st.warning("Entrepôt publié vide : lancez `sansfilm demo` ou `sansfilm run`.")
            return Filters()
        first, last = st.select_slider("Période", options=months, value=(months[0], months[-1]), key="f_period")
        departement = establishment = offer = None
        if viewer.scope is None:
            departement = st.selectbox("Département", [None, *choices["departement"]], key="f_departement",
                                       format_func=lambda d: "tous" if d is None else d)  # fmt: skip
            offer = st.selectbox("Offre", [None, *choices["offer"]], key="f_offer",
                                 format_func=lambda o: "toutes" if o is None else o)  # fmt: skip
            picked = st.selectbox("Établissement", [None, *choices["establishment"]], key="f_establishment",
                                  format_func=lambda e: "tous" if e is None else e)  # fmt: skip
            establishment = picked.split(" · ")[0] if picked else None
    return Filters(first, last, departement, offer, establishment)


def main() -> None:
    st.set_page_config(page_title="sansfilm", page_icon=":material/radiology:", layout="wide")
    data.warm_in_background()  # started at server start by server.py; here for `streamlit run dashboards/app.py`
    viewer = auth.current_viewer()
    if viewer is None:
        st.navigation([st.Page(auth.login_page, title="Connexion", icon=":material/login:")]).run()
        return
    navigation = st.navigation(sections(viewer))
    st.session_state["filters"] = sidebar_filters(viewer)
    navigation.run()


main()
