"""A code location for the multiprocess test: the production definitions, with a job of the harvest assets only.

Dagster's multiprocess executor starts each step in a fresh process that imports this module again (through
`dg.reconstructable`). When SANSFILM_TEST_BARRIER names a folder, every harvest step, right after committing its
first batch, waits (bounded) until all the steps of the run have committed theirs: the run can only succeed if the
harvests really run side by side and none keeps the warehouse locked between its batches.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg

from analytics import raw_batches
from analytics.config import load_settings
from pipelines.definitions import build_definitions

BARRIER_ENV = "SANSFILM_TEST_BARRIER"
BARRIER_PARTIES_ENV = "SANSFILM_TEST_BARRIER_PARTIES"
JOB = "harvest_sources"


def _install_barrier(folder: Path, parties: int) -> None:
    original = raw_batches.BatchWriter.write
    arrived = False

    def write(self, *args, **kwargs):
        nonlocal arrived
        original(self, *args, **kwargs)
        if not arrived:
            arrived = True
            (folder / f"{os.getpid()}-{self.source}").write_text(str(time.time_ns()))  # after the commit
            deadline = time.monotonic() + 120
            while len(list(folder.iterdir())) < parties:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.source}: the other harvests did not commit a batch meanwhile")
                time.sleep(0.05)

    raw_batches.BatchWriter.write = write


if os.environ.get(BARRIER_ENV):
    _install_barrier(Path(os.environ[BARRIER_ENV]), int(os.environ[BARRIER_PARTIES_ENV]))


def harvest_job() -> dg.JobDefinition:
    defs = build_definitions(load_settings())  # from SANSFILM_CONFIG, as `dagster` loads it in production
    job = dg.define_asset_job(JOB, selection=dg.AssetSelection.groups("harvest"))
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(JOB)
