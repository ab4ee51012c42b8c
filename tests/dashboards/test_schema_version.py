"""A dashboard reading a ledger left at another schema version, or out of reach, says in one line what to do: no
traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analytics.reporting.scope import Viewer
from dashboards import data
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


@contextmanager
def ledger_folder_missing(published, accounts_file, monkeypatch, tmp_path) -> Iterator[Path]:
    """The sample's configuration with its [ledger] url in a folder that does not exist (a url mistyped, a volume
    not mounted); yields the ledger's path."""
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
        yield missing
        assert not missing.parent.exists()  # reading never creates it
    finally:
        config.unlink()
        st.cache_resource.clear()
        st.cache_data.clear()


def test_the_finance_page_with_a_ledger_folder_that_does_not_exist_says_so(
    published, accounts_file, monkeypatch, tmp_path
):
    """A [ledger] url mistyped (or a volume not mounted) is no empty ledger: the page would show issued months as
    drafts to issue again. It says, in one line, which folder is missing and what to check."""
    with ledger_folder_missing(published, accounts_file, monkeypatch, tmp_path) as missing:
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


@pytest.mark.parametrize(
    "role,page",
    [
        ("gcs", "pages/quality.py"),
        ("operator", "pages/quality.py"),
        ("establishment:750238172", "pages/establishment.py"),
    ],
)
def test_pages_reading_the_checks_or_the_invoices_say_the_ledger_folder_is_missing(
    published, accounts_file, monkeypatch, tmp_path, role, page
):
    """The quality page's check history and an establishment's invoices and balances are in the ledger too: with
    its folder missing they are unknown, not empty (no check ever run, nothing owed)."""
    with ledger_folder_missing(published, accounts_file, monkeypatch, tmp_path) as missing:
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["viewer"] = Viewer("t", role)
        at.run()
        at.switch_page(page).run()
        assert not at.exception, "\n".join(at.exception[0].stack_trace) if at.exception else ""
        errors = [e.value for e in at.error]
        assert len(errors) == 1, errors
        assert errors[0].startswith(f"Registre inaccessible : no ledger at sqlite:///{missing}: its folder"), errors
        assert errors[0].endswith("check [ledger] url in the configuration") and "\n" not in errors[0], errors


def test_the_warmer_warms_every_page_the_ledger_does_not_stop(published, accounts_file, monkeypatch, tmp_path):
    """With the ledger out of reach the warmer skips the pages that read it and still warms the others: the
    regional page, which reads only the published warehouse, is then served without reading it."""
    with ledger_folder_missing(published, accounts_file, monkeypatch, tmp_path):
        skipped = data.warm()
        assert skipped and all("check [ledger] url" in why for why in skipped), skipped
        assert not [why for why in skipped if "pages/regional.py" in why], skipped

        def refuse():
            raise AssertionError("a page read the published warehouse: what it reads was not warmed")

        monkeypatch.setattr(data, "published", refuse)
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["viewer"] = Viewer("t", "ars")
        at.run()
        at.switch_page("pages/regional.py").run()
        assert not at.exception, "\n".join(at.exception[0].stack_trace) if at.exception else ""
