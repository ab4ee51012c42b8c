"""Every command in every state of the warehouse, as a user types it (the installed `sansfilm` script, a subprocess):
a failure is exactly one line on stderr saying what is wrong, never a traceback, and a non-zero exit.

States: absent (never harvested, no file), an empty file, a warehouse with no table built, a harvest stopped
halfway (raw only), after a failed `run` (a blocking data contract refused an audit event dated 2099), built,
read-only, locked by a writing process, a SQLite ledger in a folder that does not exist, and `--config` naming a
folder, a missing file or a file that is not UTF-8. One small corpus (`sansfilm samples`) for the module; each
command gets its own copy of the state, so commands run side by side.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from analytics import operations, warehouse
from analytics.config import load_settings

SANSFILM = str(Path(sys.executable).with_name("sansfilm"))
MONTH = "2014-03"
COMMANDS = {
    "harvest": ["harvest"],
    "harvest json": ["harvest", "--format", "json"],
    "usage": ["usage", "--month", MONTH],
    "usage csv": ["usage", "--month", MONTH, "--format", "csv"],
    "usage json": ["usage", "--month", MONTH, "--format", "json"],
    "bill": ["bill", "--month", MONTH],
    "bill csv": ["bill", "--month", MONTH, "--format", "csv"],
    "bill json": ["bill", "--month", MONTH, "--format", "json"],
    "bill future month": ["bill", "--month", "2099-01"],
    "bill malformed issue date": ["bill", "--month", MONTH, "--issue", "--issue-date", "2014-02-30"],
    "check": ["check"],
    "check json": ["check", "--format", "json"],
    "governance": ["governance", "--as-of", "2014-05-01"],
    "governance json": ["governance", "--as-of", "2014-05-01", "--format", "json"],
    "users": ["users", "list"],
    "samples malformed start": ["samples", "--out", "{root}/other", "--start", "2014-13"],
}
SLOW = {"run": ["run"], "demo": ["demo", "--no-serve"], "dashboards": ["dashboards", "--port", "1"]}
TABLE = {
    "harvest",
    "usage",
    "bill",
    "bill future month",
    "bill malformed issue date",
    "check",
    "governance",
    "users",
    "samples malformed start",
}
FORMATS = set(COMMANDS) - TABLE  # every other output format: where the issue saw tracebacks, and once built
READERS = {
    "usage",
    "usage csv",
    "usage json",
    "bill",
    "bill csv",
    "bill json",
    "check",
    "check json",
    "governance",
    "governance json",
}
ALWAYS_FAIL = {"bill future month", "bill malformed issue date", "samples malformed start"}
CONFIG_STATES = ("config is a folder", "config missing", "config not UTF-8")  # a tuple: xdist needs one order
BILLING_FORMATS = {"usage csv", "usage json", "bill csv", "bill json"}
# state -> (commands run there, commands that must fail; the others must succeed, None: either way). Commands that
# would do a whole harvest or run every data contract again run where they tell something new, to keep this quick.
HEAVY = {"harvest", "check"}
STATES: dict[str, tuple[set[str], set[str] | None]] = {
    "absent": (TABLE | FORMATS, READERS | ALWAYS_FAIL),
    "empty file": (TABLE, TABLE - {"users"}),
    "never harvested": (TABLE - HEAVY | BILLING_FORMATS, None),
    "half built": (TABLE - HEAVY, None),
    "after a failed run": (TABLE | BILLING_FORMATS | {"run"}, TABLE - {"users"} | BILLING_FORMATS | {"run"}),
    "built": ((TABLE | FORMATS) - {"harvest", "harvest json"}, ALWAYS_FAIL),
    "read-only": (TABLE | {"run"}, {"harvest", "run", "usage", "bill", "check"} | ALWAYS_FAIL),
    "locked by a writer": (TABLE | {"run"}, TABLE - {"users", "governance"} | {"run"}),
    # a ledger out of reach is no empty ledger: governance cannot tell what was issued
    "ledger folder missing": (TABLE - {"harvest"}, {"bill", "check", "governance"} | ALWAYS_FAIL),
    **{state: (TABLE | set(SLOW), TABLE | set(SLOW)) for state in CONFIG_STATES},
}


def sansfilm(*args: str, env: dict[str, str] | None = None, user: list[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*user, SANSFILM, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SANSFILM_LOCK_WAIT": "1", **(env or {})},
    )


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    """Each state once, as a folder holding the corpus and its config (copied for each command)."""
    root = tmp_path_factory.mktemp("states")
    base = root / "absent"
    made = sansfilm(
        "samples", "--out", str(base), "--seed", "11", "--establishments", "2", "--months", "2", "--start", MONTH
    )
    assert made.returncode == 0, made.stderr

    def state(name: str) -> Path:
        path = root / name.replace(" ", "_")
        shutil.copytree(base, path, symlinks=True)
        return path

    empty = state("empty file")
    (empty / "warehouse").mkdir()
    (empty / "warehouse" / "sansfilm.duckdb").write_bytes(b"")
    never = state("never harvested")
    with warehouse.open_warehouse(load_settings(never / "sansfilm.toml").warehouse.path):
        pass  # the raw schema, nothing else
    operations.harvest(load_settings(state("half built") / "sansfilm.toml"))  # raw filled, no model built
    failed = state("after a failed run")
    log = next((failed / "audit").rglob("*.log"))
    first = log.read_text(encoding="utf-8").splitlines()[0]
    (log.parent / "2099-01.log").write_text(first.replace(first[first.index(" ") + 1 :][:10], "2099-01-24") + "\n")
    assert sansfilm("--config", str(failed / "sansfilm.toml"), "run").returncode != 0
    built = state("built")
    assert sansfilm("--config", str(built / "sansfilm.toml"), "harvest").returncode == 0
    for name in ("read-only", "locked by a writer", "ledger folder missing"):
        shutil.copytree(built, root / name.replace(" ", "_"), symlinks=True)
    config = root / "ledger_folder_missing" / "sansfilm.toml"
    config.write_text(config.read_text().replace("sqlite:///ledger.sqlite", "sqlite:///nowhere/ledger.sqlite"))
    (root / "not_utf8.toml").write_bytes("# configuration écrite en Latin-1\n".encode("latin-1"))
    return {
        "absent": base,
        **{n: root / n.replace(" ", "_") for n in STATES if n not in {*CONFIG_STATES, "absent"}},
        "config is a folder": root,
        "config missing": root / "missing.toml",
        "config not UTF-8": root / "not_utf8.toml",
    }


@contextmanager
def prepared(state: str, template: Path, work: Path) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """A private copy of the state; yields (config, extra environment, command prefix) while the state holds."""
    if state in CONFIG_STATES:
        yield str(template), {}, []
        return
    shutil.copytree(template, work, symlinks=True)  # the lake's tables are symlinks
    config, env, user = str(work / "sansfilm.toml"), {}, []
    if state == "read-only":
        if os.geteuid() == 0:  # root writes through file modes: run the command as nobody instead
            user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
            env = {"DAGSTER_HOME": str(work.parent / "dagster_home")}
            os.makedirs(env["DAGSTER_HOME"], mode=0o777)
            os.chmod(env["DAGSTER_HOME"], 0o777)
        for path in [work, *work.rglob("*")]:
            mode = path.stat().st_mode
            path.chmod((mode | stat.S_IRGRP | stat.S_IROTH | (0o055 if path.is_dir() else 0)) & ~0o222)
    if state == "locked by a writer":
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); sys.stdin.read()",
                str(work / "warehouse" / "sansfilm.duckdb"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline().strip() == "locked"
        try:
            yield config, env, user
        finally:
            holder.stdin.close()
            holder.wait(30)
        return
    try:
        yield config, env, user
    finally:
        for path in [work, *work.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """Copies of the states live where `nobody` can read them (pytest's own folders are private to their owner)."""
    path = Path(tempfile.mkdtemp(prefix="sansfilm-states-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("state", list(STATES))
def test_every_command_answers_in_one_line(state, templates, workspace):
    commands, must_fail = STATES[state]
    root = workspace / state.replace(" ", "_")
    root.mkdir()
    root.chmod(0o755)

    def one(name: str) -> tuple[str, subprocess.CompletedProcess]:
        work = root / name.replace(" ", "_")
        work.mkdir()
        work.chmod(0o755)
        with prepared(state, templates[state], work / "corpus") as (config, env, user):
            args = [a.format(root=work) for a in {**COMMANDS, **SLOW}[name]]
            return name, sansfilm("--config", config, *args, env=env, user=user)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(one, sorted(commands)))
    problems = []
    for name, result in sorted(results.items()):
        said = f"{state} / {name}: exit {result.returncode}, stderr {result.stderr!r}"
        if "Traceback" in result.stderr + result.stdout or "╭" in result.stderr:
            problems.append(f"traceback or panel: {said}")
        elif result.returncode != 0 and (
            len(result.stderr.splitlines()) != 1 or not result.stderr.startswith("error: ")
        ):
            problems.append(f"not one line: {said}")
        elif must_fail is not None and (result.returncode != 0) != (name in must_fail):
            problems.append(f"expected {'a failure' if name in must_fail else 'success'}: {said}")
    assert not problems, "\n".join(problems)
