"""A dashboard reading a ledger left at another schema version says, in one line, what to run: no traceback."""

from __future__ import annotations

import streamlit as st
from streamlit.testing.v1 import AppTest

from analytics.reporting.scope import Viewer
from tests.dashboards.test_pages import APP
from tests.v010 import unpack


def test_pages_reading_an_old_ledger_say_to_upgrade(published, accounts_file, monkeypatch, tmp_path):
    ledger = unpack("ledger.sqlite", tmp_path / "ledger.sqlite")  # left by sansfilm v0.1.0, not upgraded
    config = published.root / f"v010-{tmp_path.name}.toml"  # beside the sample's: its relative paths still hold
    text = published.config_path.read_text()
    assert 'url = "sqlite:///ledger.sqlite"' in text
    config.write_text(text.replace('url = "sqlite:///ledger.sqlite"', f'url = "sqlite:///{ledger}"'))
    monkeypatch.setenv("SANSFILM_CONFIG", str(config))
    monkeypatch.setenv("SANSFILM_ACCOUNTS", accounts_file)
    st.cache_resource.clear()  # the app's settings are cached per process
    st.cache_data.clear()
    try:
        for page in ("pages/finance.py", "pages/quality.py", "pages/rollout.py"):
            at = AppTest.from_file(APP, default_timeout=60)
            at.session_state["viewer"] = Viewer("t", "gcs")
            at.run()
            at.switch_page(page).run()
            assert not at.exception, "\n".join(at.exception[0].stack_trace) if at.exception else ""
            errors = [e.value for e in at.error]
            assert len(errors) == 1 and "run `sansfilm upgrade`" in errors[0] and "\n" not in errors[0], errors
    finally:
        config.unlink()
        st.cache_resource.clear()
        st.cache_data.clear()
