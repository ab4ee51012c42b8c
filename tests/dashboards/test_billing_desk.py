"""The Factures page's acts (issue 15): only `finance` gets the buttons and only `finance` may act (the data layer
refuses the others whatever the page shows); the page's "Émettre" is `sansfilm bill --month M --issue`, refused with
its reason; an establishment sees its own invoices, credit notes, statuses and balance. On a copy of the published
sample (January 2012 issued), so the other dashboard tests keep theirs."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import date

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import analytics.quality
from analytics.billing.model import Month
from analytics.config import Settings, load_settings
from analytics.errors import SansfilmError
from analytics.quality.contracts import CheckResult
from analytics.quality.runner import DataQualityFailed
from analytics.reporting import billing_desk
from analytics.reporting.scope import Forbidden, Viewer
from tests.dashboards.conftest import ELOI
from tests.dashboards.test_pages import APP

TODAY = date(2012, 12, 31)
FINANCE = Viewer("fabienne", "finance")


@pytest.fixture
def desk(published, tmp_path, monkeypatch) -> Iterator[Settings]:
    """A copy of the published sample (its warehouse, ledger and documents), the clock on 31 December 2012. The
    dashboards' caches are emptied before and after: the copy's files have the sample's times, so what the pages
    cached of the copy (a month issued here) would be served to the other tests' pages of the sample."""
    shutil.copytree(published.root, tmp_path / "corpus")
    settings = load_settings(tmp_path / "corpus" / "sansfilm.toml")
    monkeypatch.setenv("SANSFILM_CONFIG", str(settings.config_path))
    monkeypatch.setenv("SANSFILM_NOW", "2012-12-31T12:00:00")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield settings
    st.cache_resource.clear()
    st.cache_data.clear()


def page(role: str, file: str = "pages/finance.py") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["viewer"] = Viewer("test", role)
    at.run()
    at.switch_page(file).run()
    assert not at.exception, at.exception[0].value
    return at


@pytest.mark.parametrize("role", ["gcs", "ars", "operator", f"establishment:{ELOI}"])
def test_only_finance_may_act_in_the_data_layer(desk, role):
    viewer = Viewer("someone", role)
    acts = [
        lambda: billing_desk.issue_month(desk, viewer, Month(2012, 2), TODAY),
        lambda: billing_desk.credit(desk, viewer, "RSF-000024", reason="x", today=TODAY),
        lambda: billing_desk.send(desk, viewer, "RSF-000024", "outbox"),
        lambda: billing_desk.pay(desk, viewer, "RSF-000024", amount="1", paid_on=TODAY, reference="x", today=TODAY),
    ]
    for act in acts:
        with pytest.raises(Forbidden):
            act()
    if role in ("ars", "operator"):
        with pytest.raises(Forbidden):
            billing_desk.accounts(desk, viewer, TODAY, {})
    mine = billing_desk.accounts(desk, viewer, TODAY, {}) if role not in ("ars", "operator") else None
    if role.startswith("establishment:"):
        assert mine is not None and mine.height and set(mine["establishment_id"]) == {ELOI}


def test_finance_acts_through_the_data_layer_are_the_cli_acts(desk, monkeypatch):
    # refused with the reason: an earlier month not issued, the month not over, the data-quality gate
    with pytest.raises(SansfilmError, match="2012-03 cannot be issued before 2012-02"):
        billing_desk.issue_month(desk, FINANCE, Month(2012, 3), TODAY)
    with pytest.raises(SansfilmError, match="2012-12 has not ended"):
        billing_desk.issue_month(desk, FINANCE, Month(2012, 12), date(2012, 12, 15))
    failed = CheckResult("ledger_chain_verified", "ledger", "error", False, 1, {"problems": ["row 3 altered"]})

    def gate(_settings, _price):
        raise DataQualityFailed([failed])

    monkeypatch.setattr(analytics.quality, "require_error_checks_pass", gate)
    with pytest.raises(DataQualityFailed, match="ledger_chain_verified"):
        billing_desk.issue_month(desk, FINANCE, Month(2012, 2), TODAY)
    monkeypatch.undo()
    monkeypatch.setenv("SANSFILM_CONFIG", str(desk.config_path))
    # two clicks at once: one issues, the other is told it is done
    answers: list = []
    clicks = [
        threading.Thread(target=lambda: answers.append(billing_desk.issue_month(desk, FINANCE, Month(2012, 2), TODAY)))
        for _ in range(2)
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    assert sorted(a.issued for a in answers) == [False, True], answers
    assert any("est déjà émis" in a.message for a in answers)
    from analytics.billing.workflow import statuses

    found = {a.number: a for a in statuses(desk, TODAY)}
    february = [a for a in found.values() if a.month == "2012-02"]
    assert february and all(a.issue_date == TODAY for a in february)
    from analytics.billing.followup import acts
    from analytics.billing.ledger import Ledger

    with Ledger(desk.ledger.url) as ledger:
        trail = acts(ledger, "2012-02")
    assert [(a["kind"], a["actor"]) for a in trail] == [("issue", "dashboards:fabienne")]


def test_buttons_for_finance_only_and_an_establishment_sees_its_own(desk):
    finance = page("finance")
    assert [b.label for b in finance.button if b.key == "desk_issue"] == ["Émettre"]
    assert finance.button(key="desk_issue").disabled  # until the confirmation is ticked
    gcs = page("gcs")
    assert not [b for b in gcs.button if (b.key or "").startswith("desk_")]
    assert "Reste dû" in [m.label for m in gcs.metric]
    mine = page(f"establishment:{ELOI}", "pages/establishment.py")
    assert not [b for b in mine.button if (b.key or "").startswith("desk_")]
    assert "Reste dû" in [m.label for m in mine.metric]


def test_finance_issues_from_the_page_and_a_refusal_says_why(desk):
    at = page("finance")
    at.selectbox(key="desk_issue_month").set_value("2012-03").run()
    at.checkbox(key="desk_issue_confirm").check().run()
    at.button(key="desk_issue").click().run()
    assert [e.value for e in at.error] == [
        "2012-03 cannot be issued before 2012-02: months are issued in order from "
        "the agreement's first month (2010-04); issue 2012-02 first"
    ]
    at.selectbox(key="desk_issue_month").set_value("2012-02").run()
    at.checkbox(key="desk_issue_confirm").check().run()
    at.button(key="desk_issue").click().run()
    assert not at.exception, at.exception[0].value
    assert [s.value for s in at.success][0].startswith("2012-02 émis : ")
