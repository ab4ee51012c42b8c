"""Rules of the code base that a review misses and a test does not: no import cycle, no use of another module's
private names, one function numbering a DICOM UID. They read the source; nothing is imported."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("analytics", "pipelines", "dashboards")
OURS = (*PACKAGES, "tests")


def sources(*packages: str) -> Iterator[tuple[str, Path]]:
    """(dotted module name, path) of every module of the packages."""
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imported(module: str, path: Path, tree: ast.Module) -> Iterator[tuple[str, ast.stmt]]:
    """Every (dotted name, statement) an import statement of the module names, at any depth: `from a.b import c`
    gives a.b.c (a module or a name in a.b), relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                yield f"{base}.{alias.name}", node


def import_graph() -> dict[str, dict[str, int]]:
    """Module -> {module it imports: first line}. Imports inside functions count as much as those at the top: a
    lazy import that only dodges a cycle at import time keeps the two modules unable to stand apart."""
    modules = dict(sources(*PACKAGES))
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges = graph.setdefault(module, {})
        for name, node in imported(module, path, ast.parse(path.read_text(encoding="utf-8"))):
            while name and name not in modules:  # a.b.c where c is a name, not a module: the edge is to a.b
                name = name.rpartition(".")[0]
            if name and name != module:
                edges.setdefault(name, node.lineno)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as one cycle through them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                found.append(cycle_through(graph, set(component)))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def cycle_through(graph: dict[str, dict[str, int]], component: set[str]) -> list[str]:
    """One path that leaves the component's first module and comes back to it, inside the component."""
    start = min(component)
    paths = {start: [start]}
    todo = [start]
    while todo:
        module = todo.pop(0)
        for other in sorted(graph[module]):
            if other == start:
                return paths[module] + [start]
            if other in component and other not in paths:
                paths[other] = paths[module] + [other]
                todo.append(other)
    raise AssertionError(f"no cycle through {sorted(component)}")


def describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:], strict=False)) + f" -> {cycle[-1]}"


def test_no_import_cycle():
    graph = import_graph()
    assert graph["analytics.billing.service"], "the graph is empty: the scan reads nothing"
    found = [describe(graph, cycle) for cycle in cycles(graph)]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b": 3}, "b": {"c": 5}, "c": {"a": 7}, "d": {"a": 1}}
    assert [describe(graph, c) for c in cycles(graph)] == ["a (line 3) -> b (line 5) -> c (line 7) -> a"]


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def private_names_defined(tree: ast.Module) -> set[str]:
    """The private names a module defines: functions, classes, assigned names and attributes (`self._x = ...`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and is_self(node.value):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {n for n in names if private(n)}


def private_uses(module: str, path: Path, tree: ast.Module, ours: set[str]) -> Iterator[tuple[int, str]]:
    """(line, what) for each private name of another of our modules this one uses: imported (`from m import _x`),
    read off an imported module (`m._x`, `monkeypatch.setattr(m._X, ...)`) or off any object when only another of
    our modules defines it (`ledger._engine`)."""
    own = private_names_defined(tree)
    for name, node in imported(module, path, tree):
        if name.split(".")[0] in OURS and any(private(part) for part in name.split(".")):
            yield node.lineno, f"imports {name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in own and node.attr in ours:
            if not is_self(node.value):
                yield node.lineno, f"uses {ast.unparse(node)}"


def test_no_module_uses_another_modules_private_names():
    trees = {module: (path, ast.parse(path.read_text(encoding="utf-8"))) for module, path in sources(*OURS)}
    ours = set().union(*(private_names_defined(tree) for _, tree in trees.values()))
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for module, (path, tree) in trees.items()
        for line, what in private_uses(module, path, tree, ours)
    ]
    assert not found, "private names of another module (make them public, or give the caller a public seam):\n" + (
        "\n".join(found)
    )


def test_the_private_check_finds_each_kind_of_use(tmp_path):
    source = (
        "from analytics.x import _hidden\nfrom analytics import x\nx._inner()\nledger._engine.dispose()\nX._f = g\n"
    )
    path = tmp_path / "m.py"
    tree = ast.parse(source)
    assert sorted(line for line, _ in private_uses("tests.m", path, tree, {"_engine", "_inner", "_f"})) == [1, 3, 4, 5]


# Where a DICOM UID becomes its 128-bit number: raw stores it (study_hash, sop_hash), the models compute it (the dbt
# macro uid_hash, which numbers the studies too: stg_study_numbers), the benchmark's generator writes it. Were one
# spelled otherwise alone, every lookup by number would find nothing: events UNATTRIBUTED, studies built twice.
AS_HASH = r"(\w+)\(\w+_instance_uid\) as \w+_hash"
UID_NUMBERINGS = {  # path: (the spelling, how many times it stands there)
    "analytics/raw_batches.py": (r'"\w+_hash": "(\w+)\(\w+_instance_uid\)"', 2),
    "analytics/dbt/macros/build_seq.sql": (r"macro uid_hash\(column\) -%}\s*(\w+)\(\{\{ column \}\}\)", 1),
    "analytics/sql/raw/migrations/0006_uid_numbers.sql": (AS_HASH, 2),  # rows stored before: numbered the same way
    "bench/metering.py": (AS_HASH, 2),
}


def uid_numberings(texts: dict[str, str]) -> dict[str, list[str]]:
    """The functions each text numbers a UID with, one per place found."""
    return {path: re.findall(UID_NUMBERINGS[path][0], text) for path, text in texts.items()}


def test_a_uid_is_numbered_by_one_function_everywhere():
    found = uid_numberings({path: (ROOT / path).read_text(encoding="utf-8") for path in UID_NUMBERINGS})
    moved = {path: names for path, names in found.items() if len(names) != UID_NUMBERINGS[path][1]}
    assert not moved, f"a UID's numbering is no longer spelled where this check looks, as often: {moved}"
    assert len({name for names in found.values() for name in names}) == 1, f"numbered by different functions: {found}"


# A key's hint: the harvest writes it, a migration computed it for the records stored before (0008: a file key's,
# 0009: a SOP Instance UID's), the models find a deleted file's copies (an instance's copies) by it. Spelled otherwise
# in one place, those copies would be found nowhere: storage billed on, an instance left as it was.
HINTS = {  # the hinted column: {path: the spelling, found once}
    "file_key": {
        "analytics/raw_batches.py": r'"file_key_hint": "(.+?)",',
        "analytics/dbt/macros/build_seq.sql": r"macro file_key_hint\(column\) -%}\s*(.+?)\n",
        "analytics/sql/raw/migrations/0008_file_numbers.sql": r"select \*, (.+?) as file_key_hint",
    },
    "sop_instance_uid": {
        "analytics/raw_batches.py": r'"sop_hint": "(.+?)",',
        "analytics/sql/raw/migrations/0009_sop_hints.sql": r"select \*, (.+?) as sop_hint",
    },
}


@pytest.mark.parametrize("column", sorted(HINTS))
def test_a_keys_hint_is_spelled_alike_everywhere(column):
    found = {
        path: re.findall(spelling, (ROOT / path).read_text(encoding="utf-8"))
        for path, spelling in HINTS[column].items()
    }
    assert all(len(spellings) == 1 for spellings in found.values()), f"not found once where this check looks: {found}"
    alike = {spellings[0].replace("{{ column }}", column) for spellings in found.values()}
    assert len(alike) == 1, f"spelled differently: {found}"


def test_the_numbering_check_reads_each_spelling():
    texts = {
        "analytics/raw_batches.py": '"study_hash": "md5_number(study_instance_uid)",',
        "analytics/dbt/macros/build_seq.sql": "{% macro uid_hash(column) -%}\n    hash({{ column }})\n",
        "bench/metering.py": "md5(sop_instance_uid) as sop_hash, md5_number(trim(study_instance_uid)) as study_hash",
    }
    assert uid_numberings(texts) == {
        "analytics/raw_batches.py": ["md5_number"],
        "analytics/dbt/macros/build_seq.sql": ["hash"],
        "bench/metering.py": ["md5"],  # the other is no longer found: one place fewer than expected
    }
