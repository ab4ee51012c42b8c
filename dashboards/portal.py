"""The community portal's adoption (analytics/reporting/portal.py): for the ARS and the GCS on the regional page,
practitioners and views per month for the region and by département; for an establishment, its own per month. A
distinct count is never summed: a month's figure comes from the query, the département lines are not stacked."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics.reporting import labels as fr
from analytics.reporting import portal
from analytics.reporting.scope import Filters, Viewer
from dashboards import charts, data

LABELS = {"month": "mois", "departement": "département", "practitioners": "médecins", "views": "consultations"}


def regional_section(viewer: Viewer, filters: Filters) -> None:
    """Adoption over time for the region (or what the filters keep) and per département."""
    months = _monthly(viewer, filters, "Portail ville : médecins et consultations")
    if months is None:
        return
    st.caption(
        "Médecins : médecins de ville distincts (numéro RPPS pseudonymisé) ayant consulté au moins un examen par le "
        "portail dans le mois ; un médecin vu dans deux établissements ou deux départements compte une fois. "
        "Consultations : une par examen et par accès."
        + (
            " Secret statistique : toute case de moins de 10 médecins ou de 10 consultations est masquée, ainsi "
            "que les cases qui permettraient de la retrouver, y compris par recoupement des comptes de médecins."
            if viewer.suppresses_small_cells
            else ""
        )
    )
    _metrics(months)
    charts.show(
        "portal_months",
        months,
        charts.line(months, "month", "practitioners", labels=LABELS) if months.height else None,
        labels=LABELS,
    )
    by_departement = data.cached("portal_adoption", viewer, filters, True).with_columns(
        pl.col("departement").map_elements(fr.departement, return_dtype=pl.String)
    )
    st.markdown("**Par département** (département de l'établissement détenteur de l'examen)")
    charts.show(
        "portal_departements",
        by_departement,
        charts.line(by_departement, "month", "practitioners", "departement", LABELS) if by_departement.height else None,
        labels=LABELS,
    )


def _monthly(viewer: Viewer, filters: Filters, title: str) -> pl.DataFrame | None:
    """The section's title, then its figures per month; None (and one line saying so) before the portal's metering."""
    st.subheader(title)
    months = data.cached("portal_adoption", viewer, filters)
    if months is None:
        st.info(portal.NOT_METERED)
    return months


def _metrics(months: pl.DataFrame) -> None:
    """The last month's figures, and the views over the months whose views are published (practitioners are not
    summed: a doctor active in two months is one doctor). Only a hidden cell is null."""
    last = months.tail(1).row(0, named=True) if months.height else None
    hidden = months["views"].null_count()
    published = months["views"].drop_nulls()
    cols = st.columns(3)
    if last:
        month = charts.fr_month(last["month"])
        cols[0].metric(f"Médecins en {month}", _shown(last["practitioners"]))
        cols[1].metric(f"Consultations en {month}", _shown(last["views"]))
    cols[2].metric(
        "Consultations sur la période",
        charts.SUPPRESSED if published.is_empty() and hidden else charts.fr_number(int(published.sum())),
    )
    if hidden:
        cols[2].caption(f"Hors {hidden} mois masqué{'s' if hidden > 1 else ''} (secret statistique).")


def _shown(value: int | None) -> str:
    return charts.SUPPRESSED if value is None else charts.fr_number(value)


def establishment_section(viewer: Viewer, filters: Filters) -> None:
    """An establishment's own portal use per month (its figures, exact: they are its own)."""
    months = _monthly(viewer, filters, "Portail ville")
    if months is None:
        return
    st.caption("Médecins de ville distincts ayant consulté vos examens par le portail, et leurs consultations.")
    charts.show(
        "mine_portal",
        months,
        charts.bar(months, "month", "views", labels=LABELS) if months.height else None,
        labels=LABELS,
    )
