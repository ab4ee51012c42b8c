"""`sansfilm run` as a user who may not write Dagster's home (a `.dagster` left by root, say): one line naming the
folder and what to do, before any step runs, never Dagster's SQLite error half-way through the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.commands import SANSFILM, sansfilm

NOBODY = 65534


@pytest.fixture
def shared():
    """A folder another user can work in (pytest's own are private to their owner)."""
    path = Path(tempfile.mkdtemp(prefix="sansfilm-dagster-home-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a folder another user cannot write")
def test_run_by_a_user_who_may_not_write_the_dagster_home_is_one_line(shared):
    corpus = shared / "corpus"
    made = sansfilm("samples", "--out", str(corpus), "--seed", "23", "--months", "1", "--establishments", "2")
    assert made.returncode == 0, made.stderr
    home = corpus / ".dagster"
    (home / "history").mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (home / "history" / "runs.db").write_bytes(b"")  # root's, as a run by root leaves it
    for path in [corpus, *corpus.rglob("*")]:  # the corpus is the user's to write, but for Dagster's home
        if home not in (path, *path.parents):
            path.chmod(0o777 if path.is_dir() else 0o666)

    def run_as_nobody() -> subprocess.CompletedProcess:
        return subprocess.run(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
            + [SANSFILM, "--config", str(corpus / "sansfilm.toml"), "run"],
            capture_output=True,
            text=True,
            timeout=600,
            env={k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},  # the corpus's own .dagster
        )

    ran = run_as_nobody()
    assert ran.returncode != 0 and "Traceback" not in ran.stderr, ran.stderr
    assert ran.stderr.strip().splitlines() == [
        f"error: cannot write Dagster's home {home}: {home} is not writable by this user (uid {NOBODY}); run "
        "sansfilm as the folder's owner, give it to this user, or set DAGSTER_HOME to a writable folder"
    ]
    assert not (corpus / "warehouse" / "sansfilm.duckdb").exists()  # refused before any step ran

    (home).chmod(0o777)  # the folder given, its runs index still root's
    ran = run_as_nobody()
    assert ran.returncode != 0 and f"{home / 'history'} is not writable by this user" in ran.stderr, ran.stderr
    (home / "history").chmod(0o700)  # closed too: nothing inside it can even be looked at
    ran = run_as_nobody()
    assert ran.stderr.strip().splitlines() == [
        f"error: cannot write Dagster's home {home}: {home / 'history'} is not writable by this user (uid {NOBODY}); "
        "run sansfilm as the folder's owner, give it to this user, or set DAGSTER_HOME to a writable folder"
    ]
