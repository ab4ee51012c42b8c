"""Ctrl-C during `sansfilm run`, as a terminal sends it (SIGINT to the whole process group: Dagster's helper processes
and the parsing workers included): one line saying what to do, no other process's traceback, and the next run
finishes the job with nothing lost or counted twice. Through the command a user types, on a corpus of its own (seed,
size)."""

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


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


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
    # one parsing worker and small batches: the workers live through many batches
    config.write_text(config.read_text() + "\n[harvest]\nworkers = 1\nbatch_files = 300\n")
    untouched = tmp_path / "untouched"
    shutil.copytree(corpus, untouched)  # the same files, reception times (mtimes) included, never interrupted

    running = subprocess.Popen(
        [SANSFILM, "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    deadline = time.monotonic() + 120
    while not children(running.pid) and running.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert children(running.pid), "the run ended before its harvest's parsing workers started"
    time.sleep(0.2)  # the workers at work
    os.killpg(running.pid, signal.SIGINT)  # Ctrl-C: every process of the group
    _, stderr = running.communicate(timeout=120)
    assert running.returncode == 130 and stderr == "error: interrupted: run the same command again to finish it\n", (
        stderr
    )

    again = sansfilm("--config", str(config), "run")
    assert again.returncode == 0, again.stderr
    full = sansfilm("--config", str(untouched / "sansfilm.toml"), "harvest")  # the raw layer, never interrupted
    assert full.returncode == 0, full.stderr
    assert counts(config) == counts(untouched / "sansfilm.toml")  # nothing lost, nothing twice
    assert counts(config)["instances"][0] > 300
