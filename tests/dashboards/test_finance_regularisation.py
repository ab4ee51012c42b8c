"""The Finance page drafts a month as `sansfilm bill --month M` previews it: after March is issued and a late March
study arrives, April's draft carries the regularisation lines, on the page and through the finance query function."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analytics import operations, warehouse
from analytics.billing import service
from analytics.billing.contracts import load_contracts
from analytics.reporting import finance
from analytics.reporting.scope import Filters, Viewer
from dashboards import charts
from tests.billing_history import TODAY
from tests.dicom_factory import make_dicom
from tests.integration.test_billing import A_MARCH, APRIL, MARCH, A, B, at, fresh_corpus  # noqa: F401  (fixture)

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
PERIOD = Filters("2012-03", "2012-04")
# one more study (under the minimum commitment: the top-up shrinks by as much) and a few more bytes stored; the
# amounts are the tariff's (tests/integration/test_billing.py checks them): here, that the page shows the CLI's
REGUL_CODES = {"REGUL:studies_archived:T1", "REGUL:MINIMUM", "REGUL:storage_gb_month"}


@pytest.fixture
def late(fresh_corpus):  # noqa: F811
    """March issued; then an April study and a late March study of A's harvested, April metered and published."""
    corpus = fresh_corpus  # harvested again below
    service.issue(corpus, MARCH, issue_date=date(2012, 4, 2), today=TODAY)
    dicom = corpus.sources[0].path
    at(
        make_dicom(dicom / "late" / "IM9", study_uid="1.2.250.1.999.77", sop_uid="1.2.250.1.999.2.77"),
        "2012-03-28T16:00:00+02:00",
    )
    at(
        make_dicom(dicom / "april" / "IM10", study_uid="1.2.250.1.999.78", sop_uid="1.2.250.1.999.2.78"),
        "2012-04-10T10:00:00+02:00",
    )
    operations.harvest(corpus)
    operations.build_warehouse(corpus)
    service.meter(corpus, [MARCH, APRIL])  # what the monthly pipeline does, then it publishes
    with warehouse.open_warehouse(corpus.warehouse.path) as con:
        warehouse.publish(con, corpus.published_path)
    return corpus


def _regul(invoice) -> dict[str, str]:
    return {line.code: str(line.amount) for line in invoice.lines if line.code.startswith("REGUL:")}


def _drafts(settings, viewer: Viewer) -> dict[tuple[str, str], object]:
    con = warehouse.connect_published(settings.published_path)
    try:
        drafts = finance.draft_invoices(con, load_contracts(settings), viewer, PERIOD, settings.ledger.url)
    finally:
        con.close()
    return {(str(d.month), d.establishment_id): d for d in drafts}


def test_the_next_draft_carries_the_cli_previews_regularisation_lines(late):
    drafts = _drafts(late, Viewer("f", "finance"))
    april_a = drafts[("2012-04", A)]
    preview = {i.establishment_id: i for i in service.preview(late, APRIL)}
    assert set(_regul(preview[A])) == REGUL_CODES and _regul(preview[A])["REGUL:studies_archived:T1"] != "0.00"
    assert april_a.lines == preview[A].lines and drafts[("2012-04", B)].lines == preview[B].lines
    assert all(line.reference == A_MARCH for line in april_a.lines if line.code.startswith("REGUL:"))
    assert not _regul(drafts[("2012-03", A)])  # the issued month itself is not regularised by its own draft


def test_regularisation_lines_stay_in_their_establishments_scope(late):
    mine = _drafts(late, Viewer("a", f"establishment:{A}"))
    assert set(mine) == {("2012-03", A), ("2012-04", A)} and set(_regul(mine[("2012-04", A)])) == REGUL_CODES
    other = _drafts(late, Viewer("b", f"establishment:{B}"))
    assert {e for _, e in other} == {B}
    assert not [line for d in other.values() for line in d.lines if line.reference == A_MARCH]


@pytest.fixture
def fresh_caches():
    """Streamlit's caches live in the process: no other test's settings here, none of ours left for the next."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def test_the_finance_page_shows_the_regularisation_lines(late, monkeypatch, fresh_caches):
    monkeypatch.setenv("SANSFILM_CONFIG", str(late.config_path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["viewer"] = Viewer("f", "finance")
    at.run()
    at.switch_page("pages/finance.py").run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    (site,) = [o for o in at.selectbox(key="finance_pick_establishment").options if o.endswith(f"({A})")]
    at.selectbox(key="finance_pick_establishment").set_value(site).run()
    pick = at.selectbox(key="finance_pick")
    assert pick.options == [f"mars 2012 · {A_MARCH}", "avr. 2012 · brouillon"]
    pick.set_value("avr. 2012 · brouillon").run()
    lines = next(t.value for t in at.table if "désignation" in t.value.columns)
    shown = dict(zip(lines["désignation"], lines["montant HT"], strict=True))
    draft = next(i for i in service.preview(late, APRIL) if i.establishment_id == A)
    expected = _regul(draft)
    assert set(expected) == REGUL_CODES
    regul = {line.description: line.amount for line in draft.lines if line.code.startswith("REGUL:")}
    assert {d: shown.get(d) for d in regul} == {d: charts.fr_money(a) for d, a in regul.items()}
    assert set(lines["facture corrigée"]) >= {A_MARCH}  # the corrected invoice, named on its lines
