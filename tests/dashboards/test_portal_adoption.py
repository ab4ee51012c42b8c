"""The community portal's adoption figures (analytics/reporting/portal.py) on a real DuckDB warehouse holding the
worked example of docs/dashboards.md: distinct doctors across establishments, the roles' scopes, the ARS's secret
cells checked by an attacker written apart from the protector, and a warehouse from before the portal's metering.

The attacker knows every figure the page's functions return to the ARS, under every combination of its filters, and
nothing else: not which establishments a doctor visits (every set of establishments may hold doctors), only that
counts are non-negative integers. A distinct count over establishments E is the number of doctors whose set meets E.
"""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from analytics.reporting import portal
from analytics.reporting.scope import Filters, Forbidden, Viewer
from tests.dashboards import portal_data
from tests.dashboards.portal_data import LETTERS, A, B, C

ARS, GCS = Viewer("ars", "ars"), Viewer("gcs", "gcs")
PERIOD = Filters("2012-11", "2012-12")
REGION = "région"


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory):
    return portal_data.build(tmp_path_factory.mktemp("portal") / "warehouse.duckdb")


@pytest.fixture
def con(warehouse_file):
    connection = duckdb.connect(str(warehouse_file), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def fresh_patterns():
    """Each test solves its own patterns (the process cache is keyed on the atoms, not on SECONDARY's caller)."""
    portal.regional.PROTECTION_CACHE.clear()
    yield
    portal.regional.PROTECTION_CACHE.clear()


def table(con, viewer: Viewer, filters: Filters = PERIOD) -> dict[str, dict[str, list]]:
    """month -> {département or région: [doctors, views]}, 'secret' for a hidden value, as the doc writes it."""
    out: dict[str, dict[str, list]] = {}
    shown = lambda row, k: "secret" if row[k] is None else row[k]  # noqa: E731
    for row in portal.adoption(con, viewer, filters, per_departement=True).iter_rows(named=True):
        out.setdefault(row["month"], {})[row["departement"]] = [shown(row, "practitioners"), shown(row, "views")]
    for row in portal.adoption(con, viewer, filters).iter_rows(named=True):
        out.setdefault(row["month"], {})[REGION] = [shown(row, "practitioners"), shown(row, "views")]
    return out


def test_the_worked_example_of_the_doc(con):
    example = portal_data.example()
    assert table(con, GCS) == example["gcs"]
    assert table(con, ARS) == example["ars"]
    for name, expected in example["ars_filtered"].items():
        filters = Filters("2012-11", "2012-12", offer=name) if name == "PACS" else Filters(establishment=LETTERS[name])
        assert {m: v[REGION] for m, v in table(con, ARS, filters).items()} == expected, name


def test_a_doctor_seen_at_two_establishments_of_a_departement_counts_once(con):
    def doctors(**filters) -> int:
        frame = portal.adoption(con, GCS, Filters("2012-11", "2012-11", **filters))
        return frame["practitioners"].item()

    assert (doctors(establishment=A), doctors(establishment=B), doctors(establishment=C)) == (4, 11, 10)
    assert doctors(departement="94") == 14 < 4 + 11  # the doctor seen at A and B is one doctor of the 94
    assert doctors() == 24 == 14 + 10  # nobody crosses from the 94 to the 75 in November
    assert doctors(offer="PACS") == 14  # A and C
    views = portal.adoption(con, GCS, Filters("2012-11", "2012-11", departement="94"))["views"].item()
    assert views == 14 + 13  # views add up: 3 x 4 + 2 at A, 3 + 10 x 1 at B


def test_an_establishment_sees_its_own_figures_only(con):
    """B's own doctors and views, exact (they are its own); filters aimed at another establishment get nothing."""
    mine = Viewer("b", f"establishment:{B}")
    assert portal.adoption(con, mine, PERIOD).rows() == [("2012-11", 11, 13), ("2012-12", 10, 10)]
    assert portal.adoption(con, mine, PERIOD, per_departement=True)["departement"].to_list() == ["94", "94"]
    for filters in (Filters("2012-11", "2012-12", departement="75"), Filters("2012-11", "2012-12", establishment=A)):
        assert portal.adoption(con, mine, filters).rows() == [("2012-11", 0, 0), ("2012-12", 0, 0)]
        assert portal.adoption(con, mine, filters, per_departement=True).is_empty()


@pytest.mark.parametrize("role", ["finance", "operator"])
def test_other_roles_are_refused(con, role):
    with pytest.raises(Forbidden):
        portal.adoption(con, Viewer("x", role), PERIOD)


def test_a_warehouse_from_before_the_portal_metering_gives_nothing_and_no_error(tmp_path):
    path = portal_data.build(tmp_path / "old.duckdb", metered=False)
    with duckdb.connect(str(path), read_only=True) as old:
        for viewer in (ARS, GCS, Viewer("b", f"establishment:{B}")):
            assert portal.adoption(old, viewer, PERIOD) is None
            assert portal.adoption(old, viewer, PERIOD, per_departement=True) is None
    assert "pas encore mesuré" in portal.NOT_METERED and "`sansfilm run`" in portal.NOT_METERED


# ---- the attacker -------------------------------------------------------------------------------------------------


class Attacker:
    """Unknowns per month: doctors for every non-empty set of establishments (x), views per establishment (v)."""

    def __init__(self, establishments: list[str], months: list[str]) -> None:
        self.sets = [frozenset(s) for n in range(1, 4) for s in itertools.combinations(establishments, n)]
        self.columns = {("x", m, s): i for i, (m, s) in enumerate(itertools.product(months, self.sets))}
        views = itertools.product(months, establishments)
        self.columns |= {("v", m, e): len(self.columns) + i for i, (m, e) in enumerate(views)}
        self.equations: list[tuple[np.ndarray, int]] = []
        self.hidden: dict[tuple, np.ndarray] = {}

    def row(self, measure: str, month: str, kept: frozenset[str]) -> np.ndarray:
        row = np.zeros(len(self.columns))
        for (kind, m, what), i in self.columns.items():
            if m != month:
                continue
            if measure == "practitioners" and kind == "x" and what & kept:  # doctors whose set meets the cell's
                row[i] = 1.0
            if measure == "views" and kind == "v" and what in kept:
                row[i] = 1.0
        return row

    def cell(self, measure: str, month: str, kept: frozenset[str], value: int | None) -> None:
        row = self.row(measure, month, kept)
        if value is None:
            self.hidden[(measure, month, kept)] = row
        else:
            self.equations.append((row, value))

    def bounds(self, row: np.ndarray) -> tuple[int, int]:
        matrix = np.array([r for r, _ in self.equations])
        values = np.array([v for _, v in self.equations], dtype=float)
        problem = {
            "integrality": np.ones(len(row)),
            "bounds": Bounds(0, 1000),
            "constraints": LinearConstraint(matrix, values, values),
        }
        low, high = milp(row, **problem), milp(-row, **problem)
        assert low.fun is not None and high.fun is not None, low.message
        return round(low.fun), round(-high.fun)

    def pinned(self) -> dict[tuple, int]:
        found = {}
        for key, row in self.hidden.items():
            low, high = self.bounds(row)
            if low == high:
                found[key] = low
        return found


def attack(con) -> Attacker:
    """Every figure the portal section shows the ARS under every filter combination of the sidebar."""
    sites = portal_data.example()["establishments"]
    attacker = Attacker(sorted(LETTERS.values()), ["2012-11", "2012-12"])
    departements = sorted({d for d, _ in sites.values()})
    offers = sorted({o for _, o in sites.values()})
    for departement, offer, establishment in itertools.product(
        [None, *departements], [None, *offers], [None, *LETTERS.values()]
    ):
        kept = frozenset(
            LETTERS[letter]
            for letter, (d, o) in sites.items()
            if departement in (None, d) and offer in (None, o) and establishment in (None, LETTERS[letter])
        )
        if not kept:
            continue
        filters = Filters("2012-11", "2012-12", departement, offer, establishment)
        for row in portal.adoption(con, ARS, filters).iter_rows(named=True):
            for measure in ("practitioners", "views"):
                attacker.cell(measure, row["month"], kept, row[measure])
        for row in portal.adoption(con, ARS, filters, per_departement=True).iter_rows(named=True):
            inside = frozenset(e for e in kept if sites[_letter(e)][0] == row["departement"])
            for measure in ("practitioners", "views"):
                attacker.cell(measure, row["month"], inside, row[measure])
    return attacker


def _letter(finess: str) -> str:
    return next(letter for letter, f in LETTERS.items() if f == finess)


def test_no_secret_cell_can_be_recovered(con):
    attacker = attack(con)
    assert ("practitioners", "2012-11", frozenset({A})) in attacker.hidden  # A's 4 doctors are secret
    assert ("views", "2012-12", frozenset({C})) in attacker.hidden  # C's single view too
    assert attacker.pinned() == {}
    low, high = attacker.bounds(attacker.hidden[("practitioners", "2012-11", frozenset({A}))])
    assert (low, high) == (0, 14)  # what the published figures leave of A's November doctors (docs/dashboards.md)


def test_without_complementary_suppression_the_doc_s_recovery_works(con, monkeypatch):
    """The attacker can fail: primary suppression alone gives A's 4 doctors back, as docs/dashboards.md derives."""
    monkeypatch.setattr(portal, "SECONDARY", False)
    pinned = attack(con).pinned()
    assert pinned[("practitioners", "2012-11", frozenset({A}))] == 4
    assert pinned[("views", "2012-12", frozenset({C}))] == 1  # 13 in the region - 12 in the 94
