"""The next-agreement page (gcs, finance): a proposal picked from contracts/proposals/, its figures the ones
analytics.reporting computes, and no other role gets it, in the navigation or in the query layer."""

from __future__ import annotations

import polars as pl
import pytest

from analytics.billing.contracts import load_contracts
from analytics.periods import Month
from analytics.reporting import projection, proposals
from analytics.reporting.scope import Forbidden, Viewer
from dashboards import charts
from tests.dashboards.test_pages import app, shown_metrics, shown_tables  # noqa: F401  app is a fixture

FILES = ["a_storage_cut.yaml", "b_bundle.yaml"]


@pytest.mark.parametrize("role", ["gcs", "finance"])
def test_the_page_shows_the_simulation_and_projection_of_the_picked_proposal(app, published, con, role):  # noqa: F811
    at = app(role)
    at.switch_page("pages/proposals.py").run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert at.selectbox(key="proposal_file").options == FILES
    at.selectbox(key="proposal_file").select("b_bundle.yaml").run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    contracts = load_contracts(published)
    tariff = proposals.load_proposal(contracts, published.contracts.dir / "proposals" / "b_bundle.yaml")
    viewer = Viewer("t", role)
    simulation = proposals.simulate_published(
        con, contracts, tariff, published.ledger.url, viewer, Month(2012, 1), Month(2012, 12)
    )
    metrics = shown_metrics(at)
    assert metrics["Facturé ou rédigé (tarif actuel)"] == charts.fr_money(simulation.current_net)
    assert metrics["Avec le tarif proposé"] == charts.fr_money(simulation.simulated_net)
    assert simulation.simulated_net < simulation.current_net  # the bundle drops the minimum the sample's sites pay
    tables = shown_tables(at)
    per_site = next(t for t in tables if "FINESS" in t.columns and "catégorie" in t.columns)
    assert len(per_site) == len(proposals.bill_changes(simulation, contracts))
    assert any("catégorie" in t.columns and "établissements" in t.columns for t in tables)
    assert any("offre" in t.columns and "établissements" in t.columns for t in tables)
    summary = next(t for t in tables if "scénario" in t.columns and "total 5 ans HT" in t.columns)
    _, expected = projection.projection_for(con, contracts, tariff, viewer)
    assert list(summary["scénario"]) == ["bas", "central", "haut"]
    assert list(summary["total 5 ans HT"]) == [charts.fr_money(v) for v in expected["total"]]
    assert list(summary["plafond HT"]) == [charts.fr_money("1600000.00")] * 3


@pytest.mark.parametrize("role", ["ars", "operator", "establishment:750238172"])
def test_other_roles_neither_see_the_page_nor_get_its_figures(app, published, con, role):  # noqa: F811
    at = app(role)
    with pytest.raises(Exception):  # noqa: B017  (not in its navigation: whatever AppTest raises for that)
        at.switch_page("pages/proposals.py").run()
    contracts = load_contracts(published)
    tariff = proposals.load_proposal(contracts, published.contracts.dir / "proposals" / "a_storage_cut.yaml")
    viewer = Viewer("t", role)
    with pytest.raises(Forbidden):
        proposals.simulate_published(con, contracts, tariff, published.ledger.url, viewer)
    with pytest.raises(Forbidden):
        projection.projection_for(con, contracts, tariff, viewer)


def test_the_issued_month_is_compared_as_billed(published, con):
    """January 2012 is issued in this fixture: it counts as billed, and the current tariff gives zero deltas."""
    contracts = load_contracts(published)
    simulation = proposals.simulate_published(
        con, contracts, contracts.tariff, published.ledger.url, Viewer("t", "finance")
    )
    january = [b for b in simulation.bills if b.month == Month(2012, 1)]
    assert january and {b.status for b in january} == {"issued"}
    assert {b.status for b in simulation.bills if b.month > Month(2012, 1)} == {"draft"}
    assert all(b.delta == 0 for b in simulation.bills)
    changes = proposals.bill_changes(simulation, contracts)
    assert changes.filter(pl.col("delta") != 0).is_empty()
