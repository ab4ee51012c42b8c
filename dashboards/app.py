"""sansfilm dashboards: `sansfilm dashboards` (or `streamlit run dashboards/app.py`) with $SANSFILM_CONFIG set.

One navigation section per audience; a viewer only gets the sections of its role, and every query is scoped by the
viewer anyway (analytics.reporting).
"""

from __future__ import annotations

import logging

import streamlit as st

from analytics.reporting import labels
from analytics.reporting.scope import Filters, Viewer
from dashboards import auth, charts, data
from dashboards.ui import PAGES, PILOT_PAGES


def sections(viewer: Viewer) -> dict[str, list[st.Page]]:
    def offered(path: str, roles: tuple[str, ...]) -> bool:
        if viewer.kind not in roles:
            return False
        return path not in PILOT_PAGES or viewer.kind != "establishment" or viewer.scope in data.opinion_pilot()

    menu = {
        section: [st.Page(path, title=title, icon=icon) for path, title, icon, roles in pages if offered(path, roles)]
        for section, pages in PAGES.items()
    }
    return {section: pages for section, pages in menu.items() if pages}


def who(viewer: Viewer) -> None:
    """Who is logged in, by name and role in words (not `establishment:750238172`), and the way out."""
    names = data.establishment_names(viewer) if viewer.scope is not None and data.missing() is None else {}
    st.markdown(f"**{viewer.name}** · {labels.role(viewer.role, names)}")
    st.button("Se déconnecter", on_click=auth.logout, key="logout")


def sidebar_filters(viewer: Viewer) -> Filters:
    """The filters every page shares (kept in session state across pages)."""
    version = data.version()
    months = data.months(version)
    choices = data.choices(version, viewer)
    _filters_from_link(months, choices)
    with st.sidebar:
        who(viewer)
        if not months:
            st.warning("Entrepôt publié vide : lancez `sansfilm demo` ou `sansfilm run`.")
            return Filters()
        link = st.session_state.get("_link", {})  # what a link asked for: the widgets' first values
        first, last = st.select_slider(
            "Période",
            options=months,
            value=link.get("period", (months[0], months[-1])),
            key="f_period",
            format_func=charts.fr_month,
        )
        departement = establishment = offer = None
        if viewer.scope is None:
            departements = [None, *choices["departement"]]
            departement = st.selectbox(
                "Département",
                departements,
                key="f_departement",
                index=departements.index(link.get("departement")),
                format_func=lambda d: "tous" if d is None else labels.departement(d),
            )
            offers = [None, *choices["offer"]]
            offer = st.selectbox(
                "Offre",
                offers,
                key="f_offer",
                index=offers.index(link.get("offer")),
                format_func=lambda o: "toutes" if o is None else labels.label(labels.OFFERS, o),
            )
            picked = st.selectbox(
                "Établissement",
                [None, *choices["establishment"]],
                key="f_establishment",
                format_func=lambda e: "tous" if e is None else labels.establishment(*e.split(" · ", 1)),
            )
            establishment = picked.split(" · ")[0] if picked else None
    return Filters(first, last, departement, offer, establishment)


def _filters_from_link(months: list[str], choices: dict[str, list[str]]) -> None:
    """A link carries filters (`?du=2012-10&au=2012-12&departement=94&offre=PACS`): they are the sidebar's first
    values in a session, when they are among its choices (anything else is ignored), so a view can be shared."""
    if "_link" in st.session_state or not months:
        return
    params, link = st.query_params, {}
    first, last = params.get("du", months[0]), params.get("au", months[-1])
    if first in months and last in months and first <= last:
        link["period"] = (first, last)
    if params.get("departement") in choices["departement"]:
        link["departement"] = params["departement"]
    if params.get("offre") in choices["offer"]:
        link["offer"] = params["offre"]
    st.session_state["_link"] = link


def main() -> None:
    st.set_page_config(page_title="sansfilm", page_icon=":material/radiology:", layout="wide")
    charts.french_document()
    data.warm_in_background()  # started at server start by server.py; here for `streamlit run dashboards/app.py`
    viewer = auth.current_viewer()
    if viewer is None:
        st.navigation([st.Page(auth.login_page, title="Connexion", icon=":material/login:")]).run()
        return
    navigation = st.navigation(sections(viewer))
    problem = data.missing()
    if problem is not None:  # every page would fail on what is missing: say what it is and which command makes it
        with st.sidebar:
            who(viewer)
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
