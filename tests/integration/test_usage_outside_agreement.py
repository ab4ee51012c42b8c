"""`sansfilm usage` of a month outside the framework agreement bills nobody (`bill` refuses the month): every row is
`unbilled`, with the agreement's dates as the reason, never `billed`. Through the commands a user types, on a corpus
whose last month falls after the agreement (another seed, size and start month than the sample)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.commands import sansfilm as run_sansfilm

NOW = "2015-06-10T12:00"  # the corpus: February to April 2015; the agreement ends on 2015-03-31


def sansfilm(config: Path | None, *args: str) -> subprocess.CompletedProcess:
    return run_sansfilm(*args, config=config, now=NOW)


def test_a_month_after_the_agreement_is_billed_to_nobody(tmp_path):
    out = tmp_path / "corpus"
    shape = ["--seed", "43", "--months", "3", "--establishments", "3", "--start", "2015-02"]
    assert sansfilm(None, "samples", "--out", str(out), *shape).returncode == 0
    config = out / "sansfilm.toml"
    assert sansfilm(config, "run").returncode == 0

    inside = json.loads(sansfilm(config, "usage", "--month", "2015-03", "--format", "json").stdout)
    assert inside["establishments"] and all("reason" not in e for e in inside["establishments"])
    done = sansfilm(config, "usage", "--month", "2015-04", "--format", "json")
    assert done.returncode == 0, done.stderr
    outside = json.loads(done.stdout)
    assert outside["establishments"] == []
    assert {e["reason"] for e in outside["unbilled"]} == {"outside the agreement (2010-04-01 to 2015-03-31)"}
    assert sum(e["studies_archived"] for e in outside["unbilled"]) > 0  # the month's usage is shown, not lost
    table = sansfilm(config, "usage", "--month", "2015-04").stdout
    assert " billed" not in table and "unbilled: outside the agreement (2010-04-01 to 2015-03-31)" in table
    refused = sansfilm(config, "bill", "--month", "2015-04")
    assert refused.returncode != 0  # what bill does with the month, which usage now says
