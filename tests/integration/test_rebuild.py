"""A build runs under the configuration's DuckDB memory limit (`[warehouse] memory_limit`), recorded with each build
in build.runs.

On a corpus no other test uses (its own seed, size and start month), from a fresh state."""

from __future__ import annotations

import re

import duckdb
import pytest

from analytics.config import load_settings
from tests.commands import sansfilm

NOW = "2016-08-15T06:00"  # the corpus's three months are over: metered whole
LIMIT = round(10**9 / 2**20) * 2**20  # [warehouse] memory_limit = "1GB" (10^9 bytes for DuckDB), to a MiB
UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


@pytest.fixture(scope="module")
def harvested(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rebuild") / "corpus"
    made = sansfilm(
        "samples", "--out", str(folder), "--seed", "61", "--months", "3", "--establishments", "2", "--start", "2016-05"
    )
    assert made.returncode == 0, made.stderr
    config = folder / "sansfilm.toml"
    text = config.read_text(encoding="utf-8")
    assert "\n[warehouse]\n" in text
    config.write_text(text.replace("\n[warehouse]\n", '\n[warehouse]\nmemory_limit = "1GB"\n'), encoding="utf-8")
    harvest = sansfilm("harvest", config=config, now=NOW)
    assert harvest.returncode == 0, harvest.stderr
    return config


def last_build(settings) -> tuple[bool, int]:
    """Whether the last build was a full refresh, and the memory limit (bytes, rounded to a MiB) dbt ran under."""
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    try:
        full, limit = con.execute(
            "select full_refresh, memory_limit from build.runs order by seq desc limit 1"
        ).fetchone()
    finally:
        con.close()
    number, unit = re.fullmatch(r"([\d.]+) (KiB|MiB|GiB)", limit).groups()
    return full, round(float(number) * UNITS[unit] / 2**20) * 2**20


def test_a_harvest_builds_under_the_configured_memory_limit(harvested):
    # before: the harvest's build ran under half the machine's RAM, whatever the configuration said
    assert last_build(load_settings(harvested))[1] == LIMIT
