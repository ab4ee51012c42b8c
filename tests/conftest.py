"""Shared fixtures: a private copy of the committed sample corpus, harvested once per session where tests only read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from analytics import operations, samples
from analytics.config import Settings, load_settings
from tests.tiny_corpus import make_tiny_corpus

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "samples"


@pytest.hookimpl(optionalhook=True)  # xdist's hook: unknown to a run without it (-p no:xdist)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (`make test`): one worker more than the CPUs this process may use. Many tests wait on other
    processes (sansfilm commands, Orthanc, dbt, a browser), and with a worker per core the suite kept 1.55 of 2 cores
    busy. PYTEST_XDIST_AUTO_NUM_WORKERS, when set, still decides (None: xdist's own rule reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return usable + 1


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path_factory):
    """No test reads the developer's config or Dagster home, or a real pseudonymisation key."""
    monkeypatch.delenv("SANSFILM_CONFIG", raising=False)
    monkeypatch.delenv("SANSFILM_PSEUDO_KEY", raising=False)
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))


def copy_sample(dest: Path) -> Settings:
    """A copy of the committed corpus with its reception times (file mtimes) restored, and its settings."""
    shutil.copytree(
        SAMPLE, dest, ignore=shutil.ignore_patterns("warehouse", "lake", ".dagster", "*.duckdb", "*.sqlite")
    )
    samples.restore_reception_times(dest)
    return load_settings(dest / "sansfilm.toml")


@pytest.fixture
def sample_settings(tmp_path) -> Settings:
    """A fresh, un-harvested copy of the sample: for tests that change files or harvest themselves."""
    return copy_sample(tmp_path / "corpus")


@pytest.fixture(scope="session")
def harvested(tmp_path_factory) -> tuple[Settings, list]:
    """The sample harvested and built once; tests using it must not write to it."""
    settings = copy_sample(tmp_path_factory.mktemp("harvested") / "corpus")
    reports = operations.harvest(settings)
    operations.build_warehouse(settings)
    return settings, reports


@pytest.fixture
def tiny(tmp_path) -> Settings:
    return make_tiny_corpus(tmp_path)


@pytest.fixture(scope="session")
def _tiny_built_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny_built")
    settings = make_tiny_corpus(root)
    operations.harvest(settings)
    operations.build_warehouse(settings)
    return root


@pytest.fixture
def tiny_built(_tiny_built_template, tmp_path) -> Settings:
    """`tiny` harvested and its warehouse built: a copy (files, mtimes, warehouse, published copy, lake) of one made
    once per session, since the build is what costs. Its raw tables name the template's file paths, so a test that
    harvests again takes `tiny` and harvests it itself."""
    shutil.copytree(_tiny_built_template, tmp_path, symlinks=True, dirs_exist_ok=True)
    return load_settings(tmp_path / "sansfilm.toml")


@pytest.fixture(scope="session")
def metered(harvested, tmp_path_factory) -> Settings:
    """A copy of `harvested` with every month of the agreement metered and drafted, then published, as `make demo`
    leaves it (usage marts included). Tests using it must not change its data (re-metering a month, as a billing
    preview does, rewrites the same rows) nor issue into its ledger."""
    settings, _ = harvested
    root = tmp_path_factory.mktemp("metered") / "corpus"
    shutil.copytree(settings.root, root)
    copy = load_settings(root / "sansfilm.toml")
    operations.meter_and_draft(copy)  # meters every month in the working file, drafts the finished ones
    operations.publish(copy)
    return copy
