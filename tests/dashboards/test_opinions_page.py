"""The Télé-avis page (AppTest) on the sample and on a corpus nobody tuned to: its figures per month and pair are
those `sansfilm opinions --month M --format json` prints, the GCS sees every pair, a pilot establishment only the
pairs it asks or answers in, an establishment outside the pilot is not offered the page (and sees nothing if it
gets there), and no study UID is shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from analytics.config import load_settings
from analytics.opinions.pairs import load_pairs
from analytics.registry import load_registry
from analytics.reporting.scope import Viewer
from dashboards.charts import fr_month
from pipelines.cli import app as cli
from tests.dashboards.conftest import CRETEIL, ELOI
from tests.dashboards.test_pages import APP, app, shown_metrics  # noqa: F401  (the app fixture)
from tests.dashboards.test_readable import page_texts

PAGE = str(Path(APP).parent / "pages" / "opinions.py")
MEAUX = "770186443"  # in the sample's registry, not in its pilot
NOW = "2014-03-01T10:00:00+01:00"
COMPARED = ("requests", "answered", "unanswered", "on_call", "turnaround_p50_minutes", "turnaround_p90_minutes")
COLUMNS = {  # the page's column -> the CLI's key
    "demandes": "requests",
    "répondues": "answered",
    "sans réponse": "unanswered",
    "demandes en astreinte": "on_call",
    "délai médian (min)": "turnaround_p50_minutes",
    "délai 90e centile (min)": "turnaround_p90_minutes",
}


def sansfilm(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def cli_pairs(config: Path, months: list[str]) -> set[tuple]:
    """(month, requester, responder, requests, answered, unanswered, on_call, p50, p90) from `sansfilm opinions`."""
    rows = set()
    for month in months:
        printed = json.loads(sansfilm("--config", str(config), "opinions", "--month", month, "--format", "json"))
        rows |= {(month, p["requester"], p["responder"], *(p[k] for k in COMPARED)) for p in printed["pairs"]}
    return rows


def finess(cell: str) -> str:
    (found,) = re.findall(r"\((\d{9})\)$", cell)
    return found


def page_pairs(at: AppTest, months: list[str]) -> set[tuple]:
    """The page's table per month and pair, read back into the CLI's terms."""
    (table,) = [t.value for t in at.dataframe if "demandeur" in t.value.columns and "demandes" in t.value.columns]
    month_of = {fr_month(m): m for m in months}

    def number(cell: str) -> int | None:
        return None if cell == "–" else int(cell.replace("\u202f", ""))

    return {
        (month_of[r["mois"]], finess(r["demandeur"]), finess(r["répondant"]), *(number(r[c]) for c in COLUMNS))
        for r in table.to_dict("records")
    }


def visit(role: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["viewer"] = Viewer("test", role)
    at.run()
    at.switch_page("pages/opinions.py").run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def study_uids(published_path: Path) -> list[str]:
    con = duckdb.connect(str(published_path), read_only=True)
    try:
        return [u for (u,) in con.execute("select distinct study_instance_uid from marts.fct_opinions").fetchall()]
    finally:
        con.close()


# The sample: Saint-Éloi and Créteil ask each other from November 2012.
SAMPLE_MONTHS = ["2012-11", "2012-12"]


@pytest.mark.parametrize("role", ["gcs", f"establishment:{ELOI}", f"establishment:{CRETEIL}"])
def test_the_sample_page_shows_what_sansfilm_opinions_prints(app, published, role):  # noqa: F811
    at = app(role)
    at.switch_page("pages/opinions.py").run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    expected = cli_pairs(published.config_path, SAMPLE_MONTHS)
    assert page_pairs(at, SAMPLE_MONTHS) == expected  # both pairs have both establishments: each sees all
    assert shown_metrics(at)["Demandes"] == str(sum(row[3] for row in expected)) == "16"
    # day vs on call, per pair (hand-checked in marts.fct_opinions: Saint-Éloi's four answered November requests
    # took 91 and 118 min by day, 225 and 261 min on call; the CLI's 118 / 261 is their p50 / p90 together)
    (turnaround,) = [
        t.value for t in at.dataframe if {"période", "demandeur", "délai médian (min)"} <= set(t.value.columns)
    ]
    november = turnaround[(turnaround["mois"] == "nov. 2012") & turnaround["demandeur"].str.endswith(f"({ELOI})")]
    assert november[["période", "répondues", "délai médian (min)", "délai 90e centile (min)"]].values.tolist() == [
        ["jour (heures ouvrées)", "2", "91", "118"],
        ["astreinte", "2", "225", "261"],
    ]
    (missed,) = [t.value for t in at.dataframe if "demandé le" in t.value.columns]
    assert len(missed) == 4 and set(missed["période"]) == {"jour (heures ouvrées)"}
    text = " ".join(page_texts(at))
    assert not [uid for uid in study_uids(published.published_path) if uid in text]


def test_an_establishment_outside_the_sample_pilot_is_not_offered_the_page(app, published, monkeypatch):  # noqa: F811
    at = app(f"establishment:{MEAUX}")
    with pytest.raises(Exception):  # noqa: B017  (not in its navigation: whatever AppTest raises for that)
        at.switch_page("pages/opinions.py").run()
    direct = AppTest.from_file(PAGE, default_timeout=60)  # reached anyway (a stale link): it says so, shows nothing
    direct.session_state["viewer"] = Viewer("test", f"establishment:{MEAUX}")
    direct.run()
    assert not direct.exception and not direct.dataframe and not direct.metric
    assert "ne participe pas au pilote" in direct.info[0].value
    eloi = app(f"establishment:{ELOI}")
    eloi.switch_page("pages/opinions.py").run()  # a pilot establishment is offered it
    assert not eloi.exception and eloi.title[0].value == "Télé-avis et astreinte"


@pytest.mark.parametrize("role", ["ars", "finance", "operator"])
def test_other_roles_do_not_get_the_page(app, published, role):  # noqa: F811
    at = app(role)
    with pytest.raises(Exception):  # noqa: B017
        at.switch_page("pages/opinions.py").run()


# Another corpus: seed 11 from March 2013, six establishments; its pilot (a pair asking each other from May 2013)
# is widened to every other establishment asking the pilot's responder from June, but for one left outside.
OTHER_MONTHS = ["2013-05", "2013-06"]


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    out = tmp_path_factory.mktemp("opinions") / "mine"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SANSFILM_NOW", NOW)
        sansfilm("samples", "--out", str(out), "--seed", "11", "--start", "2013-03", "--months", "4",
                 "--establishments", "6")  # fmt: skip
        contracts = out / "contracts"
        (first, second), _ = sorted({(p.requester, p.responder) for p in load_pairs(contracts)})
        ids = [e.establishment_id for e in load_registry(contracts).establishments]
        others = [i for i in ids if i not in (first, second)]
        outside, joining = others[-1], others[:-1]
        with (contracts / "opinion_pairs.csv").open("a") as pairs:
            pairs.writelines(f"{i},{second},2013-06-01,\n" for i in joining)
        sansfilm("--config", str(out / "sansfilm.toml"), "run")
        expected = cli_pairs(out / "sansfilm.toml", OTHER_MONTHS)
    return {"settings": load_settings(out / "sansfilm.toml"), "expected": expected, "outside": outside,
            "pilot": [first, second, *joining]}  # fmt: skip


@pytest.fixture
def on_other(other, monkeypatch):
    """The dashboards of the other corpus; Streamlit's caches (the settings, the queries) are this process's: emptied
    before and after, so neither corpus's AppTests read the other's."""
    monkeypatch.setenv("SANSFILM_CONFIG", str(other["settings"].config_path))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield other
    st.cache_resource.clear()
    st.cache_data.clear()


def test_on_another_corpus_each_viewer_sees_its_pairs_as_sansfilm_opinions_prints_them(on_other):
    other = on_other
    expected = other["expected"]
    asking = {row[1] for row in expected} - set(other["pilot"][:2])
    assert asking, "no establishment but the first pair asked: the widened pilot proves nothing"
    assert page_pairs(visit("gcs"), OTHER_MONTHS) == expected
    seen = {}
    for finess_number in other["pilot"]:
        at = visit(f"establishment:{finess_number}")
        seen[finess_number] = page_pairs(at, OTHER_MONTHS) if at.dataframe else set()
        assert seen[finess_number] == {row for row in expected if finess_number in row[1:3]}
        assert not [uid for uid in study_uids(other["settings"].published_path) if uid in " ".join(page_texts(at))]
    assert any(0 < len(rows) < len(expected) for rows in seen.values())  # someone sees a strict part


def test_on_another_corpus_the_establishment_outside_the_pilot_sees_nothing(on_other):
    other = on_other
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["viewer"] = Viewer("test", f"establishment:{other['outside']}")
    at.run()
    assert not at.exception
    with pytest.raises(Exception):  # noqa: B017  (not in its navigation)
        at.switch_page("pages/opinions.py").run()
    from analytics import warehouse
    from analytics.reporting import opinions
    from analytics.reporting.scope import Filters

    con = warehouse.connect_published(other["settings"].published_path)
    try:
        viewer = Viewer("test", f"establishment:{other['outside']}")
        assert opinions.requests(con, viewer, Filters("2013-03", "2013-06")).is_empty()
        assert opinions.requests(con, Viewer("test", "gcs"), Filters("2013-03", "2013-06")).height == sum(
            row[3] for row in other["expected"]
        )
    finally:
        con.close()
