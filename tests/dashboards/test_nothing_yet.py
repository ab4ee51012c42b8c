"""AppTest: before the first harvest, and before any month is metered, each role's page says in French what is missing
and which command makes it, instead of failing on a missing table. (app.py says it before running whichever page is
selected; AppTest's switch_page runs a page script without app.py, so each role's first page is what is visited.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analytics import operations
from analytics.reporting.scope import Viewer
from dashboards.data import NOT_METERED, NOT_PUBLISHED
from tests.dashboards.test_e2e import TITLES
from tests.dashboards.test_pages import PAGES

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


@pytest.fixture
def visit(monkeypatch):
    def run(settings, role: str) -> AppTest:
        monkeypatch.setenv("SANSFILM_CONFIG", str(settings.config_path))
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["viewer"] = Viewer("test", role)
        return at.run()

    st.cache_resource.clear()  # the settings are cached per process: this test's configuration, not another's
    st.cache_data.clear()
    yield run
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.mark.parametrize("state", ["no harvest yet", "no month metered"])
def test_every_role_is_told_what_is_missing_and_which_command_makes_it(tiny, visit, state):
    if state == "no month metered":
        operations.harvest(tiny)
        operations.build_warehouse(tiny)  # published without metering, as a build before this version left it
    expected = NOT_PUBLISHED if state == "no harvest yet" else NOT_METERED
    assert "`sansfilm run`" in expected
    for role in PAGES:
        at = visit(tiny, role)
        assert not at.exception, (role, at.exception[0].value if at.exception else "")
        assert [i.value for i in at.info] == [expected], role
        assert at.title and at.title[0].value == TITLES[PAGES[role][0]]
