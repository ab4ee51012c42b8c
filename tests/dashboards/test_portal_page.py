"""AppTest: the portal section of the Activité régionale page (ars, gcs) and of an establishment's own page, on a copy
of the published sample whose `marts.fct_portal_access` holds the worked example of docs/dashboards.md (A and B two
establishments of the 94, C Saint-Éloi in the 75); and on a published warehouse from before the portal's metering."""

from __future__ import annotations

import shutil

import duckdb
import pytest
import streamlit as st

from analytics import warehouse
from analytics.config import load_settings
from analytics.reporting import portal
from analytics.reporting.scope import Filters, Viewer
from dashboards import charts
from tests.dashboards import portal_data
from tests.dashboards.test_pages import APP, shown_metrics, shown_tables

SAMPLE_SITES = {portal_data.A: "940069719", portal_data.B: "940228794", portal_data.C: "750238172"}
PERIOD = Filters("2012-01", "2012-12")  # the sample's, the sidebar's default


def _copy(published, root, rows: list[tuple] | None):
    """The published sample copied, its portal fact holding `rows` (None: no such table, as an older version)."""
    shutil.copytree(published.root, root)
    settings = load_settings(root / "sansfilm.toml")
    with duckdb.connect(str(settings.published_path)) as con:
        if rows is None:
            con.execute("drop table marts.fct_portal_access")
        else:  # the sample's own portal traffic replaced by the example's
            con.execute("delete from marts.fct_portal_access")
            con.executemany(portal_data.INSERT, rows)
    return settings


@pytest.fixture(scope="module")
def with_portal(published, tmp_path_factory):
    rows = [(m, SAMPLE_SITES[e], key, views) for m, e, key, views in portal_data.rows()]
    return _copy(published, tmp_path_factory.mktemp("portal_page") / "corpus", rows)


@pytest.fixture(scope="module")
def before_portal(published, tmp_path_factory):
    return _copy(published, tmp_path_factory.mktemp("portal_page_old") / "corpus", None)


@pytest.fixture
def visit(monkeypatch):
    from streamlit.testing.v1 import AppTest

    def run(settings, role: str, page: str = "pages/regional.py") -> AppTest:
        monkeypatch.setenv("SANSFILM_CONFIG", str(settings.config_path))
        at = AppTest.from_file(APP, default_timeout=120)
        at.session_state["viewer"] = Viewer("test", role)
        at.run()
        at.switch_page(page).run()
        assert not at.exception, at.exception[0].value if at.exception else ""
        return at

    st.cache_resource.clear()  # the settings are cached per process: this test's configuration, not another's
    st.cache_data.clear()
    portal.regional.PROTECTION_CACHE.clear()
    yield run
    st.cache_resource.clear()
    st.cache_data.clear()


def _portal_tables(at) -> tuple:
    """(per month, per département): the portal section's tables as shown."""
    tables = [t for t in shown_tables(at) if "médecins" in t.columns]
    by_month = next(t for t in tables if "département" not in t.columns)
    by_departement = next(t for t in tables if "département" in t.columns)
    return by_month, by_departement


def test_the_gcs_sees_every_figure_exact(with_portal, visit):
    at = visit(with_portal, "gcs")
    metrics = shown_metrics(at)
    assert metrics["Médecins en déc. 2012"] == "11"  # one at A, ten at B
    assert metrics["Consultations en déc. 2012"] == "13"
    assert metrics["Consultations sur la période"] == "50"  # 37 in November, 13 in December
    by_month, by_departement = _portal_tables(at)
    assert len(by_month) == 12 and list(by_month["mois"])[:2] == ["janv. 2012", "févr. 2012"]  # metered months, 0
    november = by_departement[by_departement["mois"] == "nov. 2012"]
    assert dict(zip(november["département"], november["médecins"], strict=True)) == {
        "75 · Paris": "10",
        "94 · Val-de-Marne": "14",  # the doctor seen at A and at B counts once
    }
    assert at.get("plotly_chart")
    assert not any("moins de 10 médecins" in caption.value for caption in at.caption)  # no secret for the GCS


def test_the_ars_sees_the_protected_figures_with_secret_cells(with_portal, visit):
    at = visit(with_portal, "ars")
    by_month, by_departement = _portal_tables(at)
    with warehouse.connect_published(with_portal.published_path) as con:
        expected = portal.adoption(con, Viewer("ars", "ars"), PERIOD, per_departement=True)
    assert charts.SUPPRESSED in set(by_departement["médecins"]) | set(by_departement["consultations"])
    shown = list(zip(by_departement["médecins"], by_departement["consultations"], strict=True))
    assert shown == [
        (
            charts.SUPPRESSED if p is None else charts.fr_number(p),
            charts.SUPPRESSED if v is None else charts.fr_number(v),
        )
        for p, v in expected.select("practitioners", "views").rows()
    ]
    assert "€" not in " ".join(shown_metrics(at).values())
    assert any("moins de 10 médecins" in caption.value for caption in at.caption)


def test_an_establishment_sees_its_own_portal_use(with_portal, visit):
    at = visit(with_portal, "establishment:750238172", "pages/establishment.py")
    mine = next(t for t in shown_tables(at) if "médecins" in t.columns)
    rows = {m: (p, v) for m, p, v in zip(mine["mois"], mine["médecins"], mine["consultations"], strict=True)}
    assert rows["nov. 2012"] == ("10", "10") and rows["déc. 2012"] == ("0", "1")  # C's, exact: its own
    assert set(rows.values()) <= {("10", "10"), ("0", "1"), ("0", "0")}  # nobody else's


@pytest.mark.parametrize("role", ["ars", "gcs"])
def test_a_warehouse_from_before_the_portal_says_so_and_draws_the_rest(before_portal, visit, role):
    at = visit(before_portal, role)
    assert portal.NOT_METERED in [i.value for i in at.info]
    assert shown_metrics(at)["Examens sur la période"] == "479"  # the rest of the page, as before


def test_on_the_sample_each_establishment_sees_what_it_is_billed_on(published):
    """The sample's own portal traffic (not the example's): an establishment's doctors and views per month are the
    `portal_practitioners` and `portal_views` metering gives it; the region's doctors lie between the largest
    establishment's and the sum (a doctor may open several establishments' studies)."""
    from analytics import metering
    from analytics.periods import Month

    con = warehouse.connect_published(published.published_path)
    try:
        region = portal.adoption(con, Viewer("t", "gcs"), PERIOD)
        region = dict(zip(region["month"], zip(region["practitioners"], region["views"], strict=True), strict=True))
        seen = 0
        for month in ("2012-07", "2012-11", "2012-12"):
            usage = metering.monthly_usage(con, Month.parse(month))
            billed = {e: (u["portal_practitioners"], u["portal_views"]) for e, u in usage.items() if u["portal_views"]}
            assert billed, month
            for establishment, (doctors, views) in billed.items():
                own = portal.adoption(con, Viewer("t", f"establishment:{establishment}"), Filters(month, month))
                assert own.select("practitioners", "views").rows() == [(doctors, views)], (month, establishment)
                seen += 1
            doctors, views = region[month]
            assert max(d for d, _ in billed.values()) <= doctors <= sum(d for d, _ in billed.values())
            assert views == sum(v for _, v in billed.values())
        assert seen > 20
    finally:
        con.close()
