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
- Cost: the same answers as two integer programs per check, for fewer solves. Every solution found is kept as the
  set of cells it changes: it proves open, without a solve, any cell it changes while none of its changed cells is
  published. Each remaining optimum is first solved as a linear relaxation: within half a unit of the truth, the
  integer optimum is the truth (pinned on that side); integral, it is the integer optimum; only otherwise is the
  integer program solved; the complements to try are first checked all at once (pinned with all of them hidden,
  pinned with any one: the cheapest is taken). bench/disclosure.py measures both ways (`shortcuts=False`).
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

    def __init__(self, cells: Iterable[int], atoms: list[int], shortcuts: bool = True) -> None:
        self.atoms = atoms
        self.shortcuts = shortcuts  # witnesses and relaxations; without them (bench/disclosure.py's baseline) every
        # check is two integer programs, as first written
        self.live = [i for i, a in enumerate(atoms) if a > 0]  # atoms known to be zero are left out
        column = {i: k for k, i in enumerate(self.live)}
        self.cells = sorted({c for c in cells if c})
        self.row = {c: r for r, c in enumerate(self.cells)}
        entries = [(r, column[i]) for r, c in enumerate(self.cells) for i in positions(c) if i in column]
        rows, cols = zip(*entries, strict=True) if entries else ((), ())
        self.matrix = csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(self.cells), len(self.live)))
        self.values = np.array([value(c, atoms) for c in self.cells], dtype=float)
        # witnesses: for each cell, the sets of cells that an integer solution found so far changes (a solution
        # agreeing with every published cell but `target` opens `target` while none of its changed cells is published)
        self.witnesses: dict[int, list[frozenset[int]]] = {}

    def _witness(self, solution: np.ndarray | None) -> None:
        """Keep what a non-negative integer solution changes: it proves open every cell it changes, as long as none of
        its changed cells is published (checked exactly at each use: hiding more only keeps it valid)."""
        if solution is None or not self.shortcuts:
            return
        x = np.maximum(np.round(solution), 0)
        changed = frozenset(self.cells[r] for r in np.flatnonzero(np.abs(self.matrix @ x - self.values) > 0.5))
        for cell in changed:
            self.witnesses.setdefault(cell, []).append(changed)

    def witnessed(self, target: int, published: set[int]) -> bool:
        """A solution already found changes `target` and no published cell: `target` is open, no solve needed."""
        return any(published.isdisjoint(changed) for changed in self.witnesses.get(target, ()))

    def interval(self, target: int, published: Iterable[int], bound: int = 2) -> tuple[float, float]:
        """(min, max) of `target` over every non-negative integer solution agreeing with the `published` cells.
        `bound=1` stops after the max when it already exceeds the true value (min is then given as the truth).
        Each side is first solved as a linear program (the relaxation, a few times cheaper): its optimum within half
        a unit of the truth proves the integer optimum is the truth, and an integral optimum is the integer one;
        otherwise the integer program decides."""
        rows = [self.row[c] for c in published if c]
        objective = self.matrix[[self.row[target]], :].toarray()[0] if target in self.row else self._row(target)
        ceiling = sum(self.atoms) + 1  # stands for "no bound" (HiGHS cannot always tell unbounded from infeasible)
        problem = {
            "bounds": Bounds(0, ceiling),
            "constraints": LinearConstraint(self.matrix[rows, :], self.values[rows], self.values[rows]) if rows else (),
        }
        truth = value(target, self.atoms)
        high = -self._optimum(-objective, problem, -truth)
        if bound == 1 and high > truth:
            return truth, high
        return self._optimum(objective, problem, truth), high

    def _optimum(self, objective: np.ndarray, problem: dict, truth: int) -> int:
        """The integer minimum of `objective` (whose value at the true atoms is `truth`)."""
        if self.shortcuts:
            relaxed = milp(objective, **problem)  # no integrality: the linear relaxation, a lower bound
            if relaxed.fun is None:  # the truth is a solution: this is a bug, not a secret kept
                raise RuntimeError(f"disclosure check failed: {relaxed.message}")
            if relaxed.fun > truth - 0.5:
                return truth
            if np.allclose(relaxed.x, np.round(relaxed.x), atol=1e-6):
                self._witness(relaxed.x)
                return round(relaxed.fun)
        exact = milp(objective, integrality=np.ones(len(self.live)), **problem)
        if exact.fun is None:
            raise RuntimeError(f"disclosure check failed: {exact.message}")
        self._witness(exact.x)
        return round(exact.fun)

    def _row(self, target: int) -> np.ndarray:
        wanted = set(positions(target))
        return np.array([1.0 if i in wanted else 0.0 for i in self.live])

    def pinned(self, target: int, published: Iterable[int]) -> bool:
        published = set(published)
        if self.witnessed(target, published):
            return False
        covered = 0
        for cell in published:
            covered |= cell
        if any(self.atoms[i] > 0 for i in positions(target & ~covered)):  # an atom no published cell bounds: open
            return False
        low, high = self.interval(target, published, bound=1)
        return low == high


def protect(cells: Iterable[int], atoms: list[int], secondary: bool = True, shortcuts: bool = True) -> set[int]:
    """The cells to hide: primary ones, then (with `secondary`) complements until none is pinned: for a pinned cell,
    the first of its `TRIES` cheapest complements that opens it alone, else the cheapest (and look again)."""
    cells = {c for c in cells if c}
    hidden = primary(cells, atoms)
    if not secondary:
        return hidden
    attacker = Attacker(cells, atoms, shortcuts)
    values: Mapping[int, int] = {c: value(c, atoms) for c in cells}
    nesting = Nesting(cells)
    queue = sorted(hidden, key=lambda c: (values[c], c))
    while queue:
        target = queue.pop(0)
        while attacker.pinned(target, cells - hidden):
            pool = nesting.complements(target, hidden, values)
            if not pool:
                break  # nothing left to hide around it: cannot happen while a published total contains it
            tries, published = pool[:TRIES], cells - hidden
            # one check first: if hiding all of them leaves it pinned, hiding any one does (the cheapest is taken)
            opens = not shortcuts or len(tries) > 1 and not attacker.pinned(target, published - set(tries))
            extra = next((c for c in tries if opens and not attacker.pinned(target, published - {c})), pool[0])
            hidden.add(extra)
            queue.append(extra)
    return hidden


TRIES = 4


class Nesting:
    """Which cells contain which (computed once: the complements are looked for at every step)."""

    def __init__(self, cells: set[int]) -> None:
        self.inside: dict[int, list[int]] = {c: [] for c in cells}  # the other cells a cell contains
        self.around: dict[int, list[int]] = {c: [] for c in cells}  # the other cells containing it
        for outer in cells:
            for inner in cells:
                if inner != outer and inner & outer == inner:
                    self.inside[outer].append(inner)
                    self.around[inner].append(outer)

    def complements(self, target: int, hidden: set[int], values: Mapping[int, int]) -> list[int]:
        """Published cells whose hiding may open `target`, cheapest first: cells disjoint from it (or from a hidden
        cell overlapping it) inside a published cell containing it (or that hidden cell); else the published cells
        containing it."""
        totals = [t for t in self.around[target] if t not in hidden]
        near = {target, *(h for h in hidden if h != target and h & target)}
        near |= {h for t in totals for h in self.inside[t] if h in hidden and h != target}
        pool: set[int] = set()
        for cell in near:
            for total in self.around[cell]:
                if total not in hidden:
                    pool.update(c for c in self.inside[total] if c not in hidden and not c & cell)
        pool = {
            c for c in pool or totals if values[c]
        }  # a cell of zeros is known (its atoms are): hiding it opens nothing
        return sorted(pool, key=lambda c: (values[c], c))
