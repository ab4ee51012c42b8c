"""sansfilm dashboards: `sansfilm dashboards` (or `streamlit run dashboards/app.py`) with $SANSFILM_CONFIG set.

One navigation section per audience; a viewer only gets the sections of its role, and every query is scoped by the
viewer anyway (analytics.reporting).
"""

from __future__ import annotations

import logging

import streamlit as st

from analytics.reporting.scope import Filters, Viewer
from dashboards import auth, charts, data
from dashboards.ui import PAGES


def sections(viewer: Viewer) -> dict[str, list[st.Page]]:
    return {
        section: [st.Page(path, title=title, icon=icon) for path, title, icon, roles in pages if viewer.kind in roles]
        for section, pages in PAGES.items()
        if any(viewer.kind in p[3] for p in pages)
    }


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
            departement = st.selectbox(
                "Département",
                [None, *choices["departement"]],
                key="f_departement",
                format_func=lambda d: "tous" if d is None else d,
            )
            offer = st.selectbox(
                "Offre", [None, *choices["offer"]], key="f_offer", format_func=lambda o: "toutes" if o is None else o
            )
            picked = st.selectbox(
                "Établissement",
                [None, *choices["establishment"]],
                key="f_establishment",
                format_func=lambda e: "tous" if e is None else e,
            )
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
    problem = data.missing()
    if problem is not None:  # every page would fail on what is missing: say what it is and which command makes it
        with st.sidebar:
            st.markdown(f"**{viewer.name}** · {viewer.role}")
            st.button("Se déconnecter", on_click=auth.logout, key="logout")
        st.title(navigation.title)
        st.info(problem)
        return
    st.session_state["filters"] = sidebar_filters(viewer)
    month_to_date = data.month_to_date(data.version())
    if month_to_date is not None:
        month, through = month_to_date
        st.caption(
            f"{charts.fr_month(month)} : mois en cours, chiffres arrêtés au {charts.fr_date(through)} "
            "(ils augmentent jusqu'à la fin du mois ; pas de facture avant)."
        )
    try:
        navigation.run()
    except Exception as exc:  # noqa: BLE001  a page never shows a traceback: what went wrong, and what to run
        logging.getLogger("sansfilm.dashboards").exception("page %s failed", navigation.title)
        st.error(
            f"Cette page n'a pas pu être affichée ({type(exc).__name__} : {' '.join(str(exc).split())[:300]}). "
            "Relancez `sansfilm run` ; si l'erreur persiste, le détail est dans le journal du serveur."
        )


main()
