"""Shared fixtures: a private copy of the committed sample corpus, harvested once per session where tests only read."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
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


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """A folder `make` fills once per test run, however many xdist workers ask for it: the first makes it under a
    lock, the others wait for it and reuse it. For a session fixture's costly state (a corpus built, metered), which
    each worker then copies (`copy_made`): a DuckDB file is opened by one writer at a time. Not for a corpus whose
    tests harvest it again or read its file paths: the copies' raw tables name the made folder's paths."""
    base = tmp_path_factory.getbasetemp()
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # the same for every worker of one run, and only for them
    shared = base.parent if run and os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's folder, above theirs
    folder, done = shared / f"once-{name}-{run}", shared / f"once-{name}-{run}.done"
    with open(shared / f"once-{name}-{run}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, by this worker or by its death
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


def copy_made(made: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """This worker's own copy of a folder once_per_run made (files, mtimes, relative links). Its raw tables name the
    made folder's file paths: a harvest of the copy reads every file again."""
    root = tmp_path_factory.mktemp(name)
    shutil.copytree(made, root, symlinks=True, dirs_exist_ok=True)
    return root


@pytest.fixture(scope="session")
def harvested(tmp_path_factory) -> tuple[Settings, list]:
    """The sample harvested and built once per worker, in place (its raw tables name its own file paths, which some
    tests read or harvest again); tests using it must not write to it."""
    settings = copy_sample(tmp_path_factory.mktemp("harvested") / "corpus")
    reports = operations.harvest(settings)
    operations.build_warehouse(settings)
    return settings, reports


@pytest.fixture
def tiny(tmp_path) -> Settings:
    return make_tiny_corpus(tmp_path)


@pytest.fixture(scope="session")
def _tiny_built_template(tmp_path_factory) -> Path:
    def make(folder: Path) -> None:
        settings = make_tiny_corpus(folder)
        operations.harvest(settings)
        operations.build_warehouse(settings)

    return once_per_run(tmp_path_factory, "tiny_built", make)


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
