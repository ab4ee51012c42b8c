"""Secondary suppression on small tables (analytics/reporting/disclosure.py), and the trend and period total of the
regional page with hidden months (analytics/reporting/programme.py): a hidden value never shows as 0, never enters a
change or a total without saying so."""

from __future__ import annotations

import math
from datetime import date

import polars as pl
import pytest

from analytics.reporting import disclosure
from analytics.reporting.programme import period_total, trend

# a 2 x 3 table (rows A, B; columns x, y, z) with its margins, as atoms 0..5 (A.x A.y A.z B.x B.y B.z)
TABLE = [20, 4, 30, 25, 40, 35]
A, B = disclosure.mask([0, 1, 2]), disclosure.mask([3, 4, 5])
COLUMNS = [disclosure.mask([j, j + 3]) for j in range(3)]
CELLS = [disclosure.mask([i]) for i in range(6)] + [A, B, *COLUMNS, A | B]


def test_primary_alone_is_pinned_by_its_margins():
    hidden = disclosure.protect(CELLS, TABLE, secondary=False)
    assert hidden == {disclosure.mask([1])}  # A.y = 4
    attacker = disclosure.Attacker(CELLS, TABLE)
    assert attacker.interval(disclosure.mask([1]), set(CELLS) - hidden) == (4, 4)  # A - A.x - A.z


def test_secondary_hides_the_cheapest_rectangle_and_nothing_is_pinned():
    hidden = disclosure.protect(CELLS, TABLE)
    # the cheapest: A.x (20) in row A, then B.x (25) and B.y (40) close the rectangle; the margins stay published
    assert hidden == {disclosure.mask([i]) for i in (0, 1, 3, 4)}
    attacker = disclosure.Attacker(CELLS, TABLE)
    for cell in hidden:
        low, high = attacker.interval(cell, set(CELLS) - hidden)
        assert low < high <= disclosure.value(cell, TABLE) + 20


def test_a_cell_two_tables_share_is_hidden_in_both():
    """The same atoms in another table (another filter's page) are the same cell: one status."""
    other = [disclosure.mask([1]) | 0, disclosure.mask([1, 4])]  # A.y again; y's column again
    hidden = disclosure.protect(CELLS + other, TABLE)
    assert disclosure.mask([1]) in hidden


def test_zero_is_not_secret_and_atoms_known_zero_stay_out():
    atoms = [0, 12, 3]
    hidden = disclosure.protect([disclosure.mask([0]), disclosure.mask([1, 2]), disclosure.mask([2])], atoms)
    assert disclosure.mask([0]) not in hidden and disclosure.mask([2]) in hidden


MONTHS = [date(2012, m, 1) for m in range(1, 7)] + [date(2013, 1, 1), date(2013, 2, 1)]


def monthly(studies: list[int | None]) -> pl.DataFrame:
    """`volumes(..., "region")` as the ARS gets it: hidden months null and flagged."""
    return pl.DataFrame(
        {
            "month": MONTHS,
            "dimension": ["Île-de-France"] * len(MONTHS),
            "studies": studies,
            "suppressed": [s is None for s in studies],
        }
    )


def test_a_hidden_month_has_no_total_and_no_change():
    totals = trend(monthly([None, 30, None, 40, 44, None, None, 50]))
    rows = {r["month"]: r for r in totals.to_dicts()}
    for hidden in (date(2012, 1, 1), date(2012, 3, 1), date(2012, 6, 1), date(2013, 1, 1)):
        assert rows[hidden]["studies"] is None and rows[hidden]["suppressed"] and rows[hidden]["mom"] is None
    assert rows[date(2012, 2, 1)]["mom"] is None  # January is hidden: no change from it
    assert rows[date(2012, 4, 1)]["mom"] is None  # March is hidden
    assert rows[date(2012, 5, 1)]["mom"] == pytest.approx(0.1)  # 44 / 40 - 1, both published
    assert rows[date(2013, 2, 1)]["yoy"] == pytest.approx(50 / 30 - 1)
    assert rows[date(2013, 2, 1)]["mom"] is None  # January 2013 is hidden
    assert rows[date(2013, 1, 1)]["yoy"] is None  # its own value is hidden
    for value in (v for row in totals.select("studies", "mom", "yoy").rows() for v in row):
        assert value is None or (not math.isnan(value) and not math.isinf(value) and value != 0 and value != -1)


def test_a_change_skips_a_missing_month_instead_of_spanning_it():
    frame = monthly([30, 40, 44, 50, 60, 70, 80, 90]).filter(pl.col("month") != date(2012, 3, 1))
    assert trend(frame).filter(pl.col("month") == date(2012, 4, 1))["mom"].to_list() == [None]


def test_the_period_total_says_how_many_hidden_months_it_leaves_out():
    assert period_total(trend(monthly([None, 30, None, 40, 44, None, 50, 12]))) == (176, 3)
    assert period_total(trend(monthly([10] * 8))) == (80, 0)
    assert period_total(trend(monthly([None] * 8))) == (None, 8)  # not 0


def test_a_month_with_one_hidden_split_cell_has_no_total():
    """The trend never sums a month's published cells when one of its cells is hidden (that sum would be a lie)."""
    frame = pl.DataFrame(
        {"month": [MONTHS[0]] * 2, "dimension": ["CT", "MR"], "studies": [30, None], "suppressed": [False, True]}
    )
    assert trend(frame)["studies"].to_list() == [None]


def test_the_shortcuts_hide_the_same_cells_as_two_integer_programs_per_check():
    """Witnesses and relaxations only skip solves: on tables with margins, two groupings of the same atoms and their
    grand total (seeded), the cells hidden are those of the method that solves every check as integer programs."""
    import random

    rows, cols = 4, 5
    for seed in range(3):
        draw = random.Random(seed)
        atoms = [draw.choice([0, 1, 2, 3, 5, 8, 12, 20, 40]) for _ in range(rows * cols)]
        cells = [disclosure.mask([i]) for i in range(rows * cols)]
        cells += [disclosure.mask(range(r * cols, (r + 1) * cols)) for r in range(rows)]  # row margins
        cells += [disclosure.mask(range(c, rows * cols, cols)) for c in range(cols)]  # column margins
        cells += [disclosure.mask([r * cols + c for r in (0, 1) for c in range(cols)])]  # another grouping of rows
        cells += [disclosure.mask(range(rows * cols))]
        fast = disclosure.protect(cells, atoms)
        assert fast == disclosure.protect(cells, atoms, shortcuts=False), seed
        attacker = disclosure.Attacker(cells, atoms, shortcuts=False)
        published = {c for c in cells if c} - fast
        assert not any(attacker.pinned(c, published) for c in fast)
