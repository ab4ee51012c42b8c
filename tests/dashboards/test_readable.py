"""Every page of every role, on the sample with a département filter and a short period: no English or internal name,
no `nan`/`inf`/`None`, no exception, in any text, table cell, chart label or download (AppTest: every value, including
those a browser draws on a canvas)."""

from __future__ import annotations

import json

import pytest

from analytics.reporting.scope import Viewer
from tests.dashboards.forbidden import offences
from tests.dashboards.test_pages import PAGES, app  # noqa: F401  the AppTest fixture

FILTERS = {"_link": {"period": ("2012-10", "2012-12"), "departement": "94"}}  # as a link sets them


def page_texts(at) -> list[str]:
    """Everything the page says: texts, metrics, every table cell and header, selectbox choices, chart labels."""
    texts = [
        e.value
        for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error", "success")
        for e in getattr(at, kind)
    ]
    texts += [f"{m.label} {m.value} {m.proto.delta}" for m in at.metric]
    for frame in [d.value for d in at.dataframe] + [t.value for t in at.table]:
        texts.append(" | ".join(map(str, frame.columns)))
        texts += [" | ".join(map(str, row)) for row in frame.astype(str).itertuples(index=True)]
    texts += [f"{s.label}: {' | '.join(map(str, s.options))}" for s in at.selectbox]
    for chart in at.get("plotly_chart"):
        figure = json.loads(chart.proto.spec)
        layout = figure.get("layout", {})
        texts += [str(layout.get(axis, {}).get("title", {}).get("text", "")) for axis in ("xaxis", "yaxis")]
        for trace in figure.get("data", []):
            texts.append(str(trace.get("name", "")))
            texts += [str(v) for key in ("x", "y") for v in (trace.get(key) or []) if isinstance(v, str)]
    return texts


def filtered(app, role: str):
    at = app(None)
    at.session_state["viewer"] = Viewer("test", role)
    for key, value in FILTERS.items():
        at.session_state[key] = value
    return at.run()


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_reads_french_with_a_filter_and_a_short_period(app, role):  # noqa: F811
    found = {}
    for page in PAGES[role]:  # a fresh session per page (AppTest cannot carry formatted selectboxes across pages)
        at = filtered(app, role)
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception[0].value if at.exception else "")
        assert not [e for e in at.error if "n'a pas pu être affichée" in e.value], page
        bad = {text: offences(text) for text in page_texts(at) if offences(text)}
        if bad:
            found[page] = bad
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)[:6000]
