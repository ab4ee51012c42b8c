"""A dashboard reading a ledger left at another schema version, or out of reach, says in one line what to do: no
traceback."""

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


def test_the_finance_page_with_a_ledger_folder_that_does_not_exist_says_so(
    published, accounts_file, monkeypatch, tmp_path
):
    """A [ledger] url mistyped (or a volume not mounted) is no empty ledger: the page would show issued months as
    drafts to issue again. It says, in one line, which folder is missing and what to check."""
    missing = tmp_path / "nowhere" / "ledger.sqlite"
    config = published.root / f"nowhere-{tmp_path.name}.toml"
    text = published.config_path.read_text()
    assert 'url = "sqlite:///ledger.sqlite"' in text
    config.write_text(text.replace('url = "sqlite:///ledger.sqlite"', f'url = "sqlite:///{missing}"'))
    monkeypatch.setenv("SANSFILM_CONFIG", str(config))
    monkeypatch.setenv("SANSFILM_ACCOUNTS", accounts_file)
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["viewer"] = Viewer("t", "finance")
        at.run()
        at.switch_page("pages/finance.py").run()
        assert not at.exception, "\n".join(at.exception[0].stack_trace) if at.exception else ""
        errors = [e.value for e in at.error]
        assert errors == [
            f"Registre inaccessible : no ledger at sqlite:///{missing}: its folder {missing.parent} does not exist "
            "(cannot tell which months were issued); check [ledger] url in the configuration"
        ]
        assert not missing.parent.exists()  # reading never creates it
    finally:
        config.unlink()
        st.cache_resource.clear()
        st.cache_data.clear()
