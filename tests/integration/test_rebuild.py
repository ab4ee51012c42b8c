"""`sansfilm rebuild`, as an operator types it after correcting the raw layer (or a model): every model rebuilt from
raw, then checked, metered and published as a harvest does, so that the readers' usage follows the correction at
once and a rebuild that breaks a blocking data contract publishes nothing. Both commands build under the
configuration's DuckDB memory limit (`[warehouse] memory_limit`), recorded with each build in build.runs.

On a corpus no other test uses (its own seed, size and start month), from a fresh state."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from analytics.config import load_settings
from tests.commands import generated_corpus, sansfilm

NOW = "2016-08-15T06:00"  # the corpus's three months are over: metered whole


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rebuild") / "corpus"
    config = generated_corpus(folder, seed=61, months=3, establishments=2, start="2016-05")
    text = config.read_text(encoding="utf-8")
    assert "\n[warehouse]\n" in text
    config.write_text(text.replace("\n[warehouse]\n", '\n[warehouse]\nmemory_limit = "1GB"\n'), encoding="utf-8")
    harvest = sansfilm("harvest", config=config, now=NOW)
    assert harvest.returncode == 0, harvest.stderr
    return config


def last_build(settings) -> tuple[bool, str]:
    """Whether the last build was a full refresh, and the memory limit dbt ran under."""
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    try:
        return con.execute("select full_refresh, memory_limit from build.runs order by seq desc limit 1").fetchone()
    finally:
        con.close()


def published_usage(settings) -> list[tuple]:
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        return con.execute("select * from marts.fct_usage_daily order by all").fetchall()
    finally:
        con.close()


def test_a_harvest_builds_under_the_configured_memory_limit(corpus):
    # before: the harvest's build ran under half the machine's RAM, whatever the configuration said
    assert last_build(load_settings(corpus))[1] == "1GB"


def test_a_rebuild_after_a_raw_correction_is_metered_and_published_at_once(corpus):
    settings = load_settings(corpus)
    before = published_usage(settings)
    con = duckdb.connect(str(settings.warehouse.path))
    try:  # the operator's correction: a study harvested by mistake taken out of raw (its files stay known)
        (study,) = con.execute(
            """select study_instance_uid from raw.dicom_instances
               where received_at < timestamptz '2016-06-01 00:00:00+02'
               order by study_instance_uid limit 1"""
        ).fetchone()
        con.execute("delete from raw.dicom_instances where study_instance_uid = ?", [study])
    finally:
        con.close()

    rebuilt = sansfilm("rebuild", config=corpus, now=NOW)
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = published_usage(settings)
    assert after != before  # the readers' usage lost the study's bytes with the rebuild, not a night later
    assert "staged.int_studies" in rebuilt.stdout
    assert "metered: 2016-05 to 2016-07" in rebuilt.stdout, rebuilt.stdout
    assert last_build(settings) == (True, "1GB")

    again = sansfilm("harvest", config=corpus, now=NOW)  # nothing new: nothing the rebuild left to meter
    assert again.returncode == 0, again.stderr
    assert published_usage(settings) == after


def test_a_rebuild_that_breaks_a_blocking_contract_publishes_nothing(corpus):
    settings = load_settings(corpus)
    published = hashlib.sha256(settings.published_path.read_bytes()).hexdigest()
    con = duckdb.connect(str(settings.warehouse.path))
    try:
        con.execute(
            "update raw.dicom_instances set size_bytes = 0 where rowid = (select min(rowid) from raw.dicom_instances)"
        )
    finally:
        con.close()
    refused = sansfilm("rebuild", config=corpus, now=NOW)
    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert "sizes_positive (staged.stg_dicom_instances)" in line and "was not published" in line, line
    assert hashlib.sha256(settings.published_path.read_bytes()).hexdigest() == published
