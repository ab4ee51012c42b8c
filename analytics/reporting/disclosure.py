"""Statistical disclosure control ("secret statistique"): primary and complementary (secondary) cell suppression.

Every number a table shows is a sum of atoms (the finest counts, e.g. one establishment's studies of one modality in
one month), so a cell is a set of atoms, held as a bit mask over the atoms' positions. Two cells of different tables
with the same atoms are the same number: they are published or hidden together.

- Primary rule (INSEE practice, the threshold `SMALL_CELL`): a cell of 1 to 9 is hidden. Zero is not sensitive.
- Secondary rule: no hidden cell may be pinned by an attacker who knows every published cell (all tables at once),
  that counts are non-negative integers, and which atoms are non-zero. For each hidden cell, an integer program
  (HiGHS, `scipy.optimize.milp`) maximises then minimises its value over everything published; if both equal its true
  value, the cheapest published "sibling" is hidden too (a cell disjoint from it inside a published cell that contains
  it: hiding it opens the equation `total = sum of parts`; cost = the cell's value, as tau-ARGUS's default), and the
  cell is checked again. Hiding more never narrows an interval, so a cell found open stays open: the loop ends with
  every hidden cell open (its min < its max), which is what `tests/dashboards/test_disclosure.py` proves from the
  pages' own numbers. The greedy choice is not the optimum of tau-ARGUS's ILP (it may hide more than needed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

SMALL_CELL = 10  # ARS publications withhold any cell of 1 to 9


def mask(positions: Iterable[int]) -> int:
    out = 0
    for position in positions:
        out |= 1 << position
    return out


def positions(cell: int) -> list[int]:
    return [i for i in range(cell.bit_length()) if cell >> i & 1]


def value(cell: int, atoms: list[int]) -> int:
    return sum(atoms[i] for i in positions(cell))


def primary(cells: Iterable[int], atoms: list[int]) -> set[int]:
    return {c for c in cells if 0 < value(c, atoms) < SMALL_CELL}


class Attacker:
    """Everything published about a set of cells (a sparse cell x atom matrix built once), and what can be inferred."""

    def __init__(self, cells: Iterable[int], atoms: list[int]) -> None:
        self.atoms = atoms
        self.live = [i for i, a in enumerate(atoms) if a > 0]  # atoms known to be zero are left out
        column = {i: k for k, i in enumerate(self.live)}
        self.cells = sorted({c for c in cells if c})
        self.row = {c: r for r, c in enumerate(self.cells)}
        entries = [(r, column[i]) for r, c in enumerate(self.cells) for i in positions(c) if i in column]
        rows, cols = zip(*entries, strict=True) if entries else ((), ())
        self.matrix = csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(self.cells), len(self.live)))
        self.values = np.array([value(c, atoms) for c in self.cells], dtype=float)

    def interval(self, target: int, published: Iterable[int], bound: int = 2) -> tuple[float, float]:
        """(min, max) of `target` over every non-negative integer solution agreeing with the `published` cells.
        `bound=1` stops after the max when it already exceeds the true value (min is then given as the truth)."""
        rows = [self.row[c] for c in published if c]
        objective = self.matrix[[self.row[target]], :].toarray()[0] if target in self.row else self._row(target)
        ceiling = sum(self.atoms) + 1  # stands for "no bound" (HiGHS cannot always tell unbounded from infeasible)
        problem = {
            "integrality": np.ones(len(self.live)),
            "bounds": Bounds(0, ceiling),
            "constraints": LinearConstraint(self.matrix[rows, :], self.values[rows], self.values[rows]) if rows else (),
        }
        most = milp(-objective, **problem)
        if most.fun is None:  # the truth is a solution: this is a bug, not a secret kept
            raise RuntimeError(f"disclosure check failed: {most.message}")
        high, truth = round(-most.fun), value(target, self.atoms)
        if bound == 1 and high > truth:
            return truth, high
        return round(milp(objective, **problem).fun), high

    def _row(self, target: int) -> np.ndarray:
        wanted = set(positions(target))
        return np.array([1.0 if i in wanted else 0.0 for i in self.live])

    def pinned(self, target: int, published: Iterable[int]) -> bool:
        published = list(published)
        covered = 0
        for cell in published:
            covered |= cell
        if any(self.atoms[i] > 0 for i in positions(target & ~covered)):  # an atom no published cell bounds: open
            return False
        low, high = self.interval(target, published, bound=1)
        return low == high


def protect(cells: Iterable[int], atoms: list[int], secondary: bool = True) -> set[int]:
    """The cells to hide: primary ones, then (with `secondary`) complements until none is pinned: for a pinned cell,
    the first of its `TRIES` cheapest complements that opens it alone, else the cheapest (and look again)."""
    cells = {c for c in cells if c}
    hidden = primary(cells, atoms)
    if not secondary:
        return hidden
    attacker = Attacker(cells, atoms)
    values: Mapping[int, int] = {c: value(c, atoms) for c in cells}
    queue = sorted(hidden, key=lambda c: (values[c], c))
    while queue:
        target = queue.pop(0)
        while attacker.pinned(target, cells - hidden):
            pool = _complements(target, cells, hidden, values)
            if not pool:
                break  # nothing left to hide around it: cannot happen while a published total contains it
            extra = next((c for c in pool[:TRIES] if not attacker.pinned(target, cells - hidden - {c})), pool[0])
            hidden.add(extra)
            queue.append(extra)
    return hidden


TRIES = 4


def _complements(target: int, cells: set[int], hidden: set[int], values: Mapping[int, int]) -> list[int]:
    """Published cells whose hiding may open `target`, cheapest first: cells disjoint from it (or from a hidden cell
    overlapping it) inside a published cell containing it (or that hidden cell); else the published cells
    containing it."""
    published = cells - hidden
    near = [target, *(h for h in hidden if h != target and h & target)] + [
        h for h in hidden if h != target and any(t & h == h and t & target == target for t in published)
    ]
    pool: set[int] = set()
    for cell in near:
        totals = [t for t in published if t != cell and t & cell == cell]
        pool |= {c for c in published if not c & cell and any(c | t == t for t in totals)}
    pool = pool or {t for t in published if t != target and t & target == target}
    return sorted(pool, key=lambda c: (values[c], c))
