"""Several sources harvested in one Dagster run by the multiprocess executor: each record lands exactly once."""

from __future__ import annotations

import os
import re
import shutil

import dagster as dg
import duckdb

from analytics.config import load_settings
from tests.conftest import copy_sample
from tests.integration import multiprocess_job

GROUPS = 3  # dicom_files sources, each a share of the establishments' folders; plus the audit source


def split_config(settings) -> str:
    """The same corpus as several dicom_files sources: the establishments' folders moved into GROUPS folders."""
    folders = sorted(p for p in (settings.root / "dicom").iterdir() if p.is_dir())
    lines = [
        '[warehouse]\npath = "split-warehouse/sansfilm.duckdb"\n[contracts]\ndir = "contracts"\n',
        '[archive]\nae_titles = ["RSF_ARCHIVE"]\n[privacy]\nallow_development_key = true\n',
        "[harvest]\nworkers = 0\nbatch_files = 200\n",
    ]
    for i in range(GROUPS):
        group = settings.root / "dicom-split" / f"group-{i}"
        group.mkdir(parents=True)
        for folder in folders[i::GROUPS]:
            os.rename(folder, group / folder.name)  # a rename keeps the reception times (mtimes)
        lines.append(f'[[sources]]\nname = "dicom-{i}"\nkind = "dicom_files"\npath = "dicom-split/group-{i}"\n')
    lines.append('[[sources]]\nname = "audit"\nkind = "audit_syslog"\npath = "audit"\n')
    config = settings.root / "split.toml"
    config.write_text("".join(lines), encoding="utf-8")
    return str(config)


_QUARANTINED_PATH = """(select f.path from raw.harvest_files f
                        where f.source = quarantine.source and f.file_key = quarantine.file_key)"""


def raw_keys(settings) -> dict[str, set]:
    """Record keys, and the paths of quarantined and known files as in the original layout of the corpus."""
    root = f"{settings.root}/"
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        return {
            table: {
                re.sub(r"^dicom-split/group-\d/", "dicom/", k.removeprefix(root))
                for (k,) in con.execute(f"select {key} from raw.{table}").fetchall()
            }
            for table, key in (
                ("dicom_instances", "record_key"),
                ("audit_events", "record_key"),
                ("quarantine", _QUARANTINED_PATH),
                ("harvest_files", "path"),
            )
        } | {
            "rows": {
                con.execute("select count(*) from raw.dicom_instances").fetchone()[0],
                con.execute("select count(*) from raw.audit_events").fetchone()[0],
            }
        }


def test_sources_harvested_in_parallel_processes_land_exactly_once(harvested, tmp_path, monkeypatch):
    # reference: the committed sample harvested by one process, one source after the other (the session's copy)
    single, reports = harvested
    reference = {r.name: r for r in reports}
    expected = raw_keys(single)

    split = copy_sample(tmp_path / "split")
    shutil.rmtree(split.root / "warehouse", ignore_errors=True)
    monkeypatch.setenv("SANSFILM_CONFIG", split_config(split))
    settings = load_settings()
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    monkeypatch.setenv(multiprocess_job.BARRIER_ENV, str(barrier))
    monkeypatch.setenv(multiprocess_job.BARRIER_PARTIES_ENV, str(len(settings.sources)))

    job = multiprocess_job.harvest_job()
    assert job.executor_def is dg.multiprocess_executor  # the production definitions' executor
    with dg.DagsterInstance.get() as instance:  # a persistent instance in the test's DAGSTER_HOME
        assert not instance.is_ephemeral
        result = dg.execute_job(
            dg.reconstructable(multiprocess_job.harvest_job),
            instance=instance,
            # the default is one step per core (2 here): allow every source at once, or the barrier cannot fill
            run_config={"execution": {"config": {"max_concurrent": len(settings.sources)}}},
        )
        assert result.success
        logs = [r for r in instance.all_logs(result.run_id) if r.dagster_event is not None]
    starts = {r.dagster_event.step_key: r for r in logs if r.dagster_event.event_type == dg.DagsterEventType.STEP_START}
    ends = {r.dagster_event.step_key: r for r in logs if r.dagster_event.event_type == dg.DagsterEventType.STEP_SUCCESS}
    reports = {
        r.dagster_event.asset_key.path[-1]: r.dagster_event.event_specific_data.materialization.metadata
        for r in logs
        if r.dagster_event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    }

    assert len(starts) == len(ends) == len(settings.sources) == GROUPS + 1
    pids = {r.dagster_event.pid for r in starts.values()}
    assert len(pids) == len(starts) and os.getpid() not in pids  # one process per harvest step
    assert len(list(barrier.iterdir())) == len(settings.sources)
    # every step started before any finished: they overlapped in time
    assert max(r.timestamp for r in starts.values()) < min(r.timestamp for r in ends.values())

    assert raw_keys(settings) == expected  # every record, quarantine entry and file state, once
    dicom = [m for name, m in reports.items() if name.startswith("harvest_dicom_")]
    assert sum(m["records_added"].value for m in dicom) == reference["archive-files"].records_added
    assert sum(m["files_seen"].value for m in dicom) == reference["archive-files"].files_seen
    assert reports["harvest_audit"]["records_added"].value == reference["audit"].records_added
    for m in reports.values():
        assert m["files_seen"].value == (
            m["files_parsed"].value + m["files_unchanged"].value + m["files_quarantined"].value
        )
