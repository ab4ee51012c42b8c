"""The Télé-avis worked example of docs/dashboards.md, recomputed from its yaml block through the page's own path:
the rules and the month's facts (record_month), the scoped query of the published warehouse's tables and the
page's figures (analytics.reporting.opinions), for every viewer the example names."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from analytics.opinions.facts import record_month
from analytics.opinions.pairs import OpinionPair
from analytics.opinions.settings import OpinionsConfig
from analytics.periods import PARIS, Month
from analytics.reporting import opinions
from analytics.reporting.scope import Filters, Forbidden, Viewer

DOC = (Path(__file__).resolve().parents[2] / "docs" / "dashboards.md").read_text(encoding="utf-8")
(BLOCK,) = [b for b in re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S) if b.startswith("opinions_page_example:")]
EXAMPLE = yaml.safe_load(BLOCK)["opinions_page_example"]
MONTH = Filters(EXAMPLE["month"], EXAMPLE["month"])


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """marts.fct_opinions of the example's month, written by the real record_month from hand-made candidates."""
    connection = duckdb.connect(str(tmp_path_factory.mktemp("opinions") / "w.duckdb"))
    connection.execute("create schema marts; create schema staged")
    connection.execute(
        "create table marts.dim_establishments (establishment_id varchar, name varchar, departement varchar, "
        "offer varchar)"
    )
    finess = sorted({str(f) for pair in EXAMPLE["pairs"] for f in pair} | {"910000021"})
    connection.executemany(
        "insert into marts.dim_establishments values (?, ?, ?, 'PACS')",
        [(f, f"Établissement {f}", f[:2]) for f in finess],
    )
    connection.execute(
        "create table staged.int_transfers_between_establishments (record_key varchar, study_instance_uid varchar, "
        "requester_id varchar, responder_id varchar, between_establishments boolean, requested_at timestamptz, "
        "requested_date date, responded_at timestamptz)"
    )
    for n, (requester, responder, asked, answered) in enumerate(EXAMPLE["requests"]):
        asked = datetime.fromisoformat(asked)
        connection.execute(
            "insert into staged.int_transfers_between_establishments values (?, ?, ?, ?, true, ?, ?, ?)",
            [f"r{n}", f"1.2.3.{n}", str(requester), str(responder), asked, asked.astimezone(PARIS).date(),
             datetime.fromisoformat(answered) if answered else None],
        )  # fmt: skip
    first = Month.parse(EXAMPLE["month"]).first_day
    pairs = [OpinionPair(str(r), str(s), first, None) for r, s in EXAMPLE["pairs"]]
    now = datetime.fromisoformat(EXAMPLE["now"])
    assert record_month(connection, Month.parse(EXAMPLE["month"]), pairs, OpinionsConfig(), now=now) == 9
    yield connection
    connection.close()


def _pairs(frame) -> list[list]:
    return [
        [int(r["requester_id"]), int(r["responder_id"]), r["requests"], r["answered"], r["unanswered"], r["pending"],
         r["on_call"], round(r["answered_share"] * 100, 1), r["turnaround_p50_minutes"], r["turnaround_p90_minutes"]]
        for r in frame.iter_rows(named=True)
    ]  # fmt: skip


def _expected(role: str) -> dict:
    view = EXAMPLE["views"][role]
    return EXAMPLE["views"][view["same_as"]] if "same_as" in view else view


@pytest.mark.parametrize("role", list(EXAMPLE["views"]))
def test_each_viewer_sees_the_documented_figures(con, role):
    expected = _expected(role)
    asked = opinions.requests(con, Viewer("doc", role), MONTH)
    totals = opinions.totals(asked)
    share = totals.pop("answered_share")
    assert totals == {k: v for k, v in expected["totals"].items() if k != "answered_share"}
    assert (None if share is None else round(share * 100, 1)) == expected["totals"]["answered_share"]
    assert _pairs(opinions.pair_months(asked)) == expected["pairs"]
    assert "study_instance_uid" not in asked.columns and "record_key" not in asked.columns
    if "turnaround" in expected:
        by_pair = opinions.turnaround(asked)
        assert [
            [int(r["requester_id"]), int(r["responder_id"]), r["period"], r["answered"],
             r["turnaround_p50_minutes"], r["turnaround_p90_minutes"]]
            for r in by_pair.iter_rows(named=True)
        ] == expected["turnaround"]  # fmt: skip
        overall = opinions.turnaround(asked, by_pair=False)
        assert [list(r)[1:] for r in overall.iter_rows()] == expected["turnaround_all"]
        missed = opinions.unanswered(asked)
        assert [
            [r["requested_at"], int(r["requester_id"]), int(r["responder_id"]), r["period"], r["late"]]
            for r in missed.iter_rows(named=True)
        ] == [[datetime.fromisoformat(a), *rest] for a, *rest in expected["unanswered"]]


@pytest.mark.parametrize("role", ["ars", "finance", "operator"])
def test_other_roles_are_refused(con, role):
    with pytest.raises(Forbidden):
        opinions.requests(con, Viewer("doc", role), MONTH)


def test_an_establishment_cannot_filter_its_way_into_another_pair(con):
    """C asking for A's rows (or A's département) still gets its own pair only."""
    c = Viewer("doc", "establishment:930000013")
    for filters in (Filters("2012-05", "2012-05", establishment="750000015"), Filters(departement="75")):
        asked = opinions.requests(con, c, filters)
        assert set(zip(asked["requester_id"], asked["responder_id"], strict=True)) <= {("930000013", "940000027")}


def test_the_pilot_is_every_side_of_the_pairs():
    pairs = [OpinionPair(str(r), str(s), datetime(2012, 5, 1).date(), None) for r, s in EXAMPLE["pairs"]]
    assert opinions.pilot_members(pairs) == {"750000015", "940000027", "930000013"}
