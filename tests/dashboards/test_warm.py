"""The server warms every regional role's pages after a publish: the first visitor finds them cached."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, data
from tests.dashboards.test_pages import app  # noqa: F401  (the app fixture)


class _Refused:
    def __getattr__(self, name):
        raise AssertionError(f"a page built a chart ({name}): its figure was not warmed")


def test_after_warming_no_page_of_a_regional_role_reads_the_warehouse_or_builds_a_chart(app, monkeypatch):
    st.cache_data.clear()
    data.warm()  # runs the pages headless: nothing drawn, every widget at its default

    def refuse():
        raise AssertionError("a page read the published warehouse: what it reads was not warmed")

    monkeypatch.setattr(data, "published", refuse)
    monkeypatch.setattr(charts, "go", _Refused())  # plotly's graph objects: what every figure is built from
    visited = 0
    for role, pages in data.ROLE_PAGES.items():
        for page in pages:
            at = app(role)
            at.switch_page(page).run()
            assert not at.exception, (role, page, at.exception[0].stack_trace)
            visited += 1
    assert visited == 14  # gcs 7 pages, ars 1, operator 3, finance 3
    st.cache_data.clear()  # the other tests of this worker read for themselves


def test_without_warming_the_first_visit_reads_the_warehouse(app, monkeypatch):
    """The check above can fail: a cold cache makes the page read, and the refusal shows on the page."""
    st.cache_data.clear()
    months = data.months(data.version())  # the sidebar's period: read before the refusal, as a warm server has it

    def refuse():
        raise AssertionError("read")

    monkeypatch.setattr(data, "published", refuse)
    at = app("gcs")
    at.switch_page("pages/operator.py").run()
    assert months and at.exception
    st.cache_data.clear()
