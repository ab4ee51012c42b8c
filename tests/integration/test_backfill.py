"""A backfill meters months in parallel through Dagster's monthly (Paris) partitions and gives the full build's figures.

Dagster's backfill launches one run of the partitioned `draft_invoices` job (meter the month, draft it) per month, side
by side; here two such runs start at once, each in its own process, on a built warehouse where no month is metered yet.
A month whose previous month has no storage snapshot yet is metered from all of history (the carry-forward's
fallback), so the order the runs take the warehouse in does not matter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from analytics import warehouse
from analytics.config import load_settings

RUN_PARTITION = """
import sys
import dagster as dg
from analytics.config import load_settings
from pipelines.billing.assets import DRAFT_JOB
from pipelines.definitions import build_definitions

job = build_definitions(load_settings()).resolve_job_def(DRAFT_JOB)
instance = dg.DagsterInstance.ephemeral()
result = job.execute_in_process(partition_key=sys.argv[1], instance=instance, raise_on_error=False)
sys.exit(0 if result.success else 1)
"""


def month_rows(settings, months: list[str]) -> dict[str, list[tuple]]:
    con = warehouse.connect(settings.warehouse.path, read_only=True)
    try:
        return {
            table: con.execute(
                f"select * exclude (month) from marts.{table} where list_contains(?::varchar[], month) order by all",
                [months],
            ).fetchall()
            for table in ("fct_usage_daily", "fct_share_flows", "fct_share_flows_monthly")
        }
    finally:
        con.close()


def test_a_two_month_partitioned_backfill_equals_the_full_build(harvested, metered, tmp_path):
    settings, _ = harvested
    root = tmp_path / "corpus"
    shutil.copytree(settings.root, root)  # built, nothing metered
    backfill = load_settings(root / "sansfilm.toml")
    months = sorted(p.name for p in (metered.billing.out_dir / "drafts").iterdir())[-2:]
    env = {**os.environ, "SANSFILM_CONFIG": str(backfill.config_path)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", RUN_PARTITION, f"{m}-01"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for m in months
    ]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs

    figures = month_rows(backfill, months)
    assert figures == month_rows(metered, months)
    assert len(figures["fct_usage_daily"]) > 0
    for month in months:
        for name in ("invoices.json", "invoice_lines.csv"):
            drafted = (backfill.billing.out_dir / "drafts" / month / name).read_bytes()
            assert drafted == (metered.billing.out_dir / "drafts" / month / name).read_bytes(), (month, name)
