"""Governance counts every month the agreement bills, not only the months that happen to be metered: a preview of a
month after the last with data (`usage --month`) used to leave the months between unmetered, and governance counted
the later month and skipped those (their subscriptions and storage). Through the commands a user types, on a corpus
nobody tuned to (seed, size and start month of its own), from a fresh state. A month with no activity at all is
billed storage and subscriptions only, which a preview says before issuing."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

from analytics import operations
from analytics.config import load_settings
from tests.commands import sansfilm as run_sansfilm

NOW = "2010-12-10T12:00"  # the corpus's data: April-June 2010; the agreement bills from April 2010


def sansfilm(config: Path | None, *args: str) -> subprocess.CompletedProcess:
    result = run_sansfilm(*args, config=config, now=NOW)
    assert result.returncode == 0, result.stderr
    return result


def governance(config: Path) -> dict:
    return json.loads(sansfilm(config, "governance", "--as-of", "2010-12-01", "--format", "json").stdout)


def months(first: int, last: int) -> list[str]:
    return [f"2010-{m:02d}" for m in range(first, last + 1)]


def test_months_between_the_data_and_a_later_preview_are_metered_and_counted(tmp_path):
    out = tmp_path / "corpus"
    shape = ["--seed", "37", "--months", "3", "--establishments", "3", "--start", "2010-04"]
    sansfilm(None, "samples", "--out", str(out), *shape)
    config = out / "sansfilm.toml"
    assert "metered: 2010-04 to 2010-06" in sansfilm(config, "harvest").stdout  # the data in (`run` named below)
    report = governance(config)
    assert (report["months_counted"], report["months_not_metered"]) == (months(4, 6), [])

    sansfilm(config, "usage", "--month", "2010-09")  # a preview meters September in the working warehouse
    operations.publish(load_settings(config))  # and a publish without a metering shows the hole
    report = governance(config)
    assert report["months_counted"] == [*months(4, 6), "2010-09"]
    assert report["months_not_metered"] == ["2010-07", "2010-08"]  # named, not silently left out
    table = sansfilm(config, "governance", "--as-of", "2010-12-01").stdout
    assert "not metered, left out (figures too low): 2010-07, 2010-08: run `sansfilm run` to meter them" in table

    assert "metered: 2010-04 to 2010-09" in sansfilm(config, "run").stdout  # the months between, metered
    # a month with no activity at all is billed storage and subscriptions only: the preview says so before issuing
    quiet = sansfilm(config, "bill", "--month", "2010-08").stderr
    assert "warning: 2010-08 holds no activity (no study archived, retrieved, shared or viewed by any" in quiet
    assert "holds no activity" not in sansfilm(config, "bill", "--month", "2010-05").stderr
    after = governance(config)
    assert (after["months_counted"], after["months_not_metered"]) == (months(4, 9), [])
    amount = {c["measure"]: c for c in report["ceiling"]}["amount"]
    filled = {c["measure"]: c for c in after["ceiling"]}["amount"]
    assert Decimal(filled["consumed"]) > Decimal(amount["consumed"])  # July's and August's subscriptions at least
