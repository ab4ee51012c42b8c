"""The attacker: everything the regional page shows the ARS, under every combination of its filters, as one linear
system over the true atoms (studies per establishment, month and modality; shares per sending establishment and
destination), with non-negative integer unknowns; for every hidden cell, its min and max over that system (HiGHS,
`scipy.optimize.milp`). No hidden cell may be pinned (min == max); with the secondary suppression switched off, one
is (the test can fail). Run on the sample and on two corpora made by `sansfilm samples` + `sansfilm run`.

The attacker is written apart from analytics/reporting/disclosure.py (its own atoms query, its own equations): it
reads only what the page's functions return, as pages/regional.py calls them.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from analytics import warehouse
from analytics.config import load_settings
from analytics.reporting import programme, regional
from analytics.reporting.scope import Filters, Viewer

ARS = Viewer("ars", "ars")
PAGE = Path(__file__).resolve().parents[2] / "dashboards" / "pages" / "regional.py"
SANSFILM = str(Path(sys.executable).with_name("sansfilm"))
# the page's calls: (function, dimension, per_month) -> the atoms' columns a row's `dimension` names
STUDY_CALLS = {
    ("departement", True): "departement",
    ("departement", False): "departement",
    ("region", True): None,
    ("modality", True): "modality",
    ("category", True): "category",
    ("sector", True): "sector",
}
CORPORA = {
    "seed 11, 6 sites, 5 months from 2014-02": ("11", "6", "5", "2014-02", "2014-07-15T12:00"),
    "seed 23, 9 sites, 4 months from 2011-11": ("23", "9", "4", "2011-11", "2012-03-15T12:00"),
}

ATOMS = """
    select e.establishment_id, e.departement as dep_filter, e.offer as offer_filter,
           coalesce(e.departement, 'non attribué') as departement, coalesce(e.category, 'non attribué') as category,
           coalesce(e.sector, 'non attribué') as sector, a.month, coalesce(a.modality, 'non attribué') as modality,
           sum(a.studies_received)::bigint as value
    from marts.mart_archive_monthly as a join marts.dim_establishments as e using (establishment_id)
    where a.month >= $first and a.month < $end
    group by all having sum(a.studies_received) > 0 order by all"""
SHARE_ATOMS = """
    select e.establishment_id, e.departement as dep_filter, e.offer as offer_filter,
           coalesce(e.departement, 'non attribué') as departement,
           case when f.destination_establishment_id is not null then coalesce(r.departement, 'non attribué')
                when f.destination ilike 'PORTAIL%' then 'portail ville' else 'hors programme' end as destination,
           sum(f.shares)::bigint as value
    from marts.fct_share_flows_monthly as f join marts.dim_establishments as e using (establishment_id)
    left join marts.dim_establishments as r on r.establishment_id = f.destination_establishment_id
    where f.month >= strftime($first, '%Y-%m') and f.month < strftime($end, '%Y-%m')
    group by all having sum(f.shares) > 0 order by all"""


def filter_combinations(con: duckdb.DuckDBPyConnection) -> list[Filters]:
    """The sidebar's choices for the ARS (from `rollout_sites`, as app.py), every combination, one per distinct set
    of establishments kept (two filters keeping the same establishments show the same numbers)."""
    sites = programme.rollout_sites(con, ARS, Filters())
    out, seen = [], set()
    for departement, offer, establishment in itertools.product(
        [None, *sorted({d for d in sites["departement"] if d})],
        [None, *sorted({o for o in sites["offer"] if o})],
        [None, *sites["establishment_id"].to_list()],
    ):
        kept = sites
        for column, wanted in (("departement", departement), ("offer", offer), ("establishment_id", establishment)):
            kept = kept if wanted is None else kept.filter(pl.col(column) == wanted)
        key = frozenset(kept["establishment_id"])
        if key and key not in seen:
            seen.add(key)
            out.append(Filters(None, None, departement, offer, establishment))
    return out


class System:
    """The attacker's equations: published cells (atom set -> value) and hidden cells (atom sets)."""

    def __init__(self, atoms: pl.DataFrame) -> None:
        self.atoms = atoms.with_row_index("i")
        self.published: dict[frozenset[int], int] = {}
        self.hidden: set[frozenset[int]] = set()

    def cell(self, filters: Filters, value: int | None, **match: object) -> None:
        rows = self.atoms
        for column, wanted in (
            ("dep_filter", filters.departement),
            ("offer_filter", filters.offer),
            ("establishment_id", filters.establishment),
            *match.items(),
        ):
            rows = rows if wanted is None else rows.filter(pl.col(column) == wanted)
        atoms = frozenset(rows["i"])
        if value is None:
            self.hidden.add(atoms)
        else:
            assert int(rows["value"].sum()) == value, (filters, match)  # the page shows the truth or nothing
            self.published[atoms] = value

    def bounds(self, target: frozenset[int]) -> tuple[float, float]:
        n = self.atoms.height
        cells = list(self.published)
        rows = [r for r, cell in enumerate(cells) for _ in cell]
        cols = [i for cell in cells for i in cell]
        matrix = csr_array((np.ones(len(rows)), (rows, cols)), shape=(max(len(cells), 1), n))
        values = np.array([self.published[c] for c in cells] or [0], dtype=float)
        objective = np.zeros(n)
        objective[list(target)] = 1
        big = float(self.atoms["value"].sum()) + 1  # "unbounded"
        problem = {
            "integrality": np.ones(n),
            "bounds": Bounds(0, big),
            "constraints": LinearConstraint(matrix, values, values) if cells else (),
        }
        low, high = milp(objective, **problem), milp(-objective, **problem)
        assert low.fun is not None and high.fun is not None, low.message
        return round(low.fun), round(-high.fun)

    def pinned(self, stop_at_first: bool = False) -> list[tuple[frozenset[int], float]]:
        out = []
        for target in sorted(self.hidden, key=sorted):
            low, high = self.bounds(target)
            if low == high:
                out.append((target, low))
                if stop_at_first:
                    break
        return out


def shown(con: duckdb.DuckDBPyConnection, first: str, last: str) -> tuple[System, System]:
    """Every number the regional page shows the ARS for the period, under every filter combination."""
    period = {"first": Filters(first).first_day, "end": Filters(None, last).end_day}
    studies, shares = (
        System(
            pl.from_arrow(
                con.sql(
                    sql.replace("$first", "$first::date").replace("$end", "$end::date"), params=period
                ).to_arrow_table()
            )
        )
        for sql in (ATOMS, SHARE_ATOMS)
    )
    for combination in filter_combinations(con):
        filters = Filters(first, last, combination.departement, combination.offer, combination.establishment)
        for (dimension, per_month), column in STUDY_CALLS.items():
            frame = programme.volumes(con, ARS, filters, dimension, per_month)
            for row in frame.iter_rows(named=True):
                match = {"month": row["month"]} if per_month else {}
                if column:
                    match[column] = row["dimension"]
                studies.cell(filters, row["studies"], **match)
            if (dimension, per_month) == ("region", True):  # the trend and the counters
                totals = programme.trend(frame)
                total, hidden_months = programme.period_total(totals)
                months = totals.filter(pl.col("studies").is_not_null())["month"].to_list()
                rows = studies.atoms.filter(pl.col("month").is_in(months))
                for col, wanted in (
                    ("dep_filter", filters.departement),
                    ("offer_filter", filters.offer),
                    ("establishment_id", filters.establishment),
                ):
                    rows = rows if wanted is None else rows.filter(pl.col(col) == wanted)
                assert hidden_months == totals["suppressed"].sum()
                if total is None:  # every month hidden: the counter says "secret"
                    assert not months
                    continue
                assert total == rows["value"].sum()
                studies.published[frozenset(rows["i"])] = total
        for row in programme.sharing_departements(con, ARS, filters).iter_rows(named=True):
            shares.cell(filters, row["shares"], departement=row["sender"], destination=row["destination"])
    return studies, shares


def test_the_attacker_reads_what_the_page_calls():
    """The calls above are the page's: a new table on the page must join the attacker's system. The page's portal
    section (dashboards/portal.py) has its own attacker, in test_portal_adoption.py."""
    calls = set(re.findall(r'data\.cached\("(\w+)"', PAGE.read_text(encoding="utf-8")))
    assert calls == {"volumes", "sharing_departements"}
    section = PAGE.parents[1] / "portal.py"
    assert set(re.findall(r'data\.cached\("(\w+)"', section.read_text(encoding="utf-8"))) == {"portal_adoption"}


def attack(settings_path: Path, first: str, last: str, secondary: bool, monkeypatch) -> list:
    monkeypatch.setattr(regional, "SECONDARY", secondary)
    con = warehouse.connect_published(load_settings(settings_path).published_path)
    try:
        studies, shares = shown(con, first, last)
    finally:
        con.close()
    assert studies.hidden, "nothing hidden: the corpus does not exercise the suppression"
    return studies.pinned(not secondary) + shares.pinned(not secondary)


def test_no_hidden_cell_of_the_sample_can_be_pinned(published, monkeypatch):
    config = published.config_path
    assert attack(config, "2012-01", "2012-12", True, monkeypatch) == []
    assert attack(config, "2012-10", "2012-12", True, monkeypatch) == []  # a short period


def test_without_secondary_suppression_the_attacker_pins_a_cell(published, monkeypatch):
    """The November 2012 case of issue 14: the month's total beside its modalities gives the hidden one away."""
    assert attack(published.config_path, "2012-01", "2012-12", False, monkeypatch)


@pytest.fixture(scope="module", params=list(CORPORA), ids=list(CORPORA))
def corpus(request, tmp_path_factory) -> tuple[Path, str, str]:
    seed, sites, months, start, now = CORPORA[request.param]
    out = tmp_path_factory.mktemp("sdc") / "corpus"
    env = {**os.environ, "SANSFILM_NOW": now}
    for args in (
        ["samples", "--out", str(out), "--seed", seed, "--establishments", sites, "--months", months, "--start", start],
        ["--config", str(out / "sansfilm.toml"), "run"],
    ):
        done = subprocess.run([SANSFILM, *args], capture_output=True, text=True, timeout=900, env=env)
        assert done.returncode == 0, done.stderr
    year, month = int(start[:4]), int(start[5:]) + int(months) - 1
    last = f"{year + (month - 1) // 12}-{(month - 1) % 12 + 1:02d}"
    return out / "sansfilm.toml", start, last


def test_no_hidden_cell_of_another_corpus_can_be_pinned(corpus, monkeypatch):
    config, first, last = corpus
    assert attack(config, first, last, True, monkeypatch) == []
    assert attack(config, first, last, False, monkeypatch)  # and the attacker would win without it


def page_text(at) -> list[str]:
    """Every value the page shows: metrics (value and delta), captions and every table cell."""
    out = [str(m.value) for m in at.metric] + [str(m.proto.delta) for m in at.metric] + [c.value for c in at.caption]
    for frame in at.dataframe:
        out += [str(v) for v in frame.value.to_numpy().ravel()]
    return out


def test_a_departement_filter_shows_hidden_values_as_secret_never_0_inf_or_nan(published, accounts_file, monkeypatch):
    """Issue 14: under a département filter the trend showed months as 0, -1,000, nan, inf and the counter inf %."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SANSFILM_CONFIG", str(published.config_path))
    monkeypatch.setenv("SANSFILM_ACCOUNTS", accounts_file)
    at = AppTest.from_file(str(PAGE.parents[1] / "app.py"), default_timeout=120)
    at.session_state["viewer"] = Viewer("test", "ars")
    at.session_state["f_departement"] = "93"
    at.session_state["f_period"] = ("2012-10", "2012-12")
    at.run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    shown = page_text(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Examens en déc. 2012"] == "secret"  # the sample's 93 has under 10 studies a month
    assert metrics["Examens sur la période"] == "secret" and "Hors 3 mois masqués (secret statistique)." in shown
    assert "secret" in shown
    for text in shown:
        assert not re.search(r"\bnan\b|\binf\b|-1,000|-100", text, re.IGNORECASE), text
    trend = next(f.value for f in at.dataframe if "évolution mensuelle" in f.value.columns)
    assert set(trend["examens"]) == {"secret"}  # not 0
    assert set(trend["évolution mensuelle"]) == {"secret"}  # no change from or to a hidden month


def test_a_pattern_is_stored_beside_the_published_file_and_a_wrong_one_is_not_trusted(published, monkeypatch):
    """The pattern of a period is kept in `<published file>.secret/` (a server restart reads it instead of solving);
    a stored file that hides less than the primary rule (stale, foreign, edited) is ignored and the pattern solved
    again."""
    con = warehouse.connect_published(published.published_path)
    filters = Filters("2012-11", "2012-12")
    try:
        regional.PROTECTION_CACHE.clear()
        first = regional.protection(con, ARS, filters, "studies")
        store = Path(f"{published.published_path}.secret")
        stored = [
            p
            for p in store.glob("*.json")
            if sorted(int(h, 16) for h in json.loads(p.read_text())) == sorted(first.hidden)
        ]
        assert len(stored) == 1 and first.hidden
        regional.PROTECTION_CACHE.clear()
        monkeypatch.setattr(regional.disclosure, "protect", lambda *a, **k: pytest.fail("solved again"))
        assert regional.protection(con, ARS, filters, "studies").hidden == first.hidden  # read back, not solved
        monkeypatch.undo()
        stored[0].write_text("[]")  # a pattern that hides nothing
        regional.PROTECTION_CACHE.clear()
        assert regional.protection(con, ARS, filters, "studies").hidden == first.hidden
        assert json.loads(stored[0].read_text())  # and stored again
    finally:
        regional.PROTECTION_CACHE.clear()
        con.close()
