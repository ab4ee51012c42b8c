"""Ctrl-C during `sansfilm run`, as a terminal sends it (SIGINT to the whole process group: Dagster's helper processes
included), while dbt builds the models: one line saying what to do, no other process's traceback, and the next run
finishes the job with nothing lost or counted twice. Through the command a user types, on a corpus of its own (seed,
size). The harvest's parsing workers leave Ctrl-C to the command too (tests/unit/test_harvest_workers.py): their
window in a run is too short to aim at."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb

from analytics.config import load_settings
from tests.commands import SANSFILM, sansfilm

COUNTS = {
    "instances": "select count(*), count(distinct sop_instance_uid) from raw.dicom_instances",
    "quarantined": "select count(*) from raw.quarantine",
    "audit": "select count(*) from raw.audit_events",
}


def counts(config: Path) -> dict[str, tuple]:
    con = duckdb.connect(str(load_settings(config).warehouse.path), read_only=True)
    try:
        return {name: con.execute(sql).fetchone() for name, sql in COUNTS.items()}
    finally:
        con.close()


def test_ctrl_c_during_a_run_is_one_line_and_the_next_run_finishes_it(tmp_path):
    corpus = tmp_path / "corpus"
    made = sansfilm("samples", "--out", str(corpus), "--seed", "53", "--months", "2", "--establishments", "4")
    assert made.returncode == 0, made.stderr
    config = corpus / "sansfilm.toml"
    untouched = tmp_path / "untouched"
    shutil.copytree(corpus, untouched)  # the same files, reception times (mtimes) included, never interrupted

    interrupt_the_build(config, corpus / "warehouse" / ".dbt-sansfilm" / "logs" / "dbt.log")

    again = sansfilm("--config", str(config), "run")
    assert again.returncode == 0, again.stderr
    full = sansfilm("--config", str(untouched / "sansfilm.toml"), "harvest")  # the raw layer, never interrupted
    assert full.returncode == 0, full.stderr
    assert counts(config) == counts(untouched / "sansfilm.toml")  # nothing lost, nothing twice
    assert counts(config)["instances"][0] > 300


def interrupt_the_build(config: Path, dbt_log: Path) -> None:
    """`sansfilm run` in its own process group (a terminal's foreground job), Ctrl-C to the whole group while dbt
    builds the models (its log written, a second in: Dagster's step helpers, dbt's threads and DuckDB's queries all
    get it): exactly the one line every command says, exit 130."""
    running = subprocess.Popen(
        [SANSFILM, "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not dbt_log.exists() and running.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert dbt_log.exists() and running.poll() is None, "the run ended before the dbt build started"
    time.sleep(1.0)  # at work
    os.killpg(running.pid, signal.SIGINT)  # Ctrl-C: every process of the group
    _, stderr = running.communicate(timeout=120)
    assert running.returncode == 130, stderr
    assert stderr == "error: interrupted: run the same command again to finish it\n"
