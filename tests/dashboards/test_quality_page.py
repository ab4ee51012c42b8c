"""The data-quality page shows the checks' latest results and the history of failures; only regional roles that
have the page may read them."""

from __future__ import annotations

import pytest
import streamlit as st

from analytics.quality import CheckResult, history
from analytics.reporting import quality
from analytics.reporting.scope import Forbidden, Viewer
from tests.dashboards.test_pages import app, shown_metrics  # noqa: F401  (the app fixture)


def test_page_shows_latest_results_and_failures(app, published):
    # the fixture issued January 2012: its gate recorded every check, all passed
    before = quality.latest_checks(published.ledger.url, Viewer("t", "operator"))
    assert before.height >= 27 and before["passed"].all()
    assert set(before["trigger"]) == {"issue"}
    broken = CheckResult(
        "sizes_positive",
        "staged.stg_dicom_instances",
        "error",
        False,
        3,
        {"description": "every stored instance has a size in bytes above zero", "examples": ["0"]},
    )
    history.record(published.ledger.url, [broken], trigger="check")
    # the page caches what it read for a minute, in this process: another test of this worker may have shown it
    st.cache_data.clear()
    at = app("operator")
    at.switch_page("pages/quality.py").run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert shown_metrics(at)["Contrôles bloquants en échec"] == "1"
    tables = [t.value for t in at.dataframe]
    latest, failures = tables[0], tables[1]
    assert latest.iloc[0]["contrôle"] == "sizes_positive" and latest.iloc[0]["observé"] == "3"
    assert list(failures["contrôle"]) == ["sizes_positive"]


@pytest.mark.parametrize("role", ["establishment:750238172", "ars"])
def test_other_roles_may_not_read_them(published, role):
    with pytest.raises(Forbidden):
        quality.latest_checks(published.ledger.url, Viewer("t", role))
    with pytest.raises(Forbidden):
        quality.failed_checks(published.ledger.url, Viewer("t", role))
