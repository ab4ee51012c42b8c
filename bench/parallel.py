"""Harvest of many sources: one process, one source after the other, against one Dagster run fanning out over them.

    .venv/bin/python bench/parallel.py [--establishments 12] [--months 6] [--image-side 512] [--volume-scale 3]

Takes bench/harvest.py's corpus (generated once, cached under bench/out/), configures it as one `dicom_files`
source per establishment folder plus the audit source, warms the page cache, then harvests it into a fresh
warehouse three ways, each in its own process:

* cli:          `operations.harvest` (what `sansfilm harvest` does): sources one after the other, the warehouse held
                for the whole harvest, `[harvest] workers` parsing processes beside the writer;
* dagster x1:   the harvest assets in one Dagster run, in-process executor (steps one after the other, each opening
                the warehouse per batch): the cost of taking turns, without the parallelism;
* dagster xN:   the same run with the multiprocess executor (the production definitions' executor), N steps at once.

Every mode must store the same records; the script checks it and prints wall seconds, files/s and the CPU seconds
of the measuring process and everything it started (Python start-up and imports included: on a machine shared with
other work the wall time says little about parallelism, the CPU seconds say what the work costs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harvest import corpus, dicom_files, warm  # noqa: E402

JOB = "harvest_sources"


def write_config(corpus_dir: Path, folder: Path, workers: int, batch_files: int, groups: int) -> Path:
    from analytics.samples.tariff import write_tariff

    contracts = folder / "contracts"  # the corpus's registry, and the tariff the definitions load
    shutil.copytree(corpus_dir / "contracts", contracts)
    if not (contracts / "framework.yaml").exists():
        write_tariff(contracts)
    lines = [
        f'[warehouse]\npath = "{folder}/warehouse/sansfilm.duckdb"\n[contracts]\ndir = "{contracts}"\n',
        '[archive]\nae_titles = ["RSF_ARCHIVE"]\n[privacy]\nallow_development_key = true\n',
        f"[harvest]\nworkers = {workers}\nbatch_files = {batch_files}\n",
    ]
    sites = sorted(p for p in (corpus_dir / "dicom").iterdir() if p.is_dir())
    if not groups:
        for site in sites:
            lines.append(f'[[sources]]\nname = "dicom-{site.name}"\nkind = "dicom_files"\npath = "{site}"\n')
    for i in range(groups):  # a source is a folder: a group is a folder of hard links to some sites' files
        group = folder / "sources" / f"group-{i}"
        for site in sites[i::groups]:
            shutil.copytree(site, group / site.name, copy_function=os.link)  # same inodes: same mtimes
        lines.append(f'[[sources]]\nname = "dicom-{i}"\nkind = "dicom_files"\npath = "{group}"\n')
    lines.append(f'[[sources]]\nname = "audit"\nkind = "audit_syslog"\npath = "{corpus_dir / "audit"}"\n')
    config = folder / "sansfilm.toml"
    config.write_text("".join(lines), encoding="utf-8")
    return config


def harvest_job():
    """The production definitions with a job of the harvest assets (reconstructable: the steps import it)."""
    import dagster as dg

    from analytics.config import load_settings
    from pipelines.definitions import build_definitions

    job = dg.define_asset_job(JOB, selection=dg.AssetSelection.groups("harvest"))
    return dg.Definitions.merge(build_definitions(load_settings()), dg.Definitions(jobs=[job])).resolve_job_def(JOB)


def measure(mode: str, processes: int) -> dict:
    import dagster as dg

    from analytics import operations, warehouse
    from analytics.config import load_settings

    settings = load_settings()
    started = time.perf_counter()
    if mode in ("cli", "turns"):
        operations.harvest(settings, concurrent=mode == "turns")
    else:
        with dg.DagsterInstance.get() as instance:
            if mode == "inprocess":
                result = harvest_job().execute_in_process(instance=instance)
            else:
                result = dg.execute_job(
                    dg.reconstructable(harvest_job),
                    instance=instance,
                    run_config={"execution": {"config": {"max_concurrent": processes}}},
                )
            assert result.success
    seconds = time.perf_counter() - started
    con = warehouse.connect(settings.warehouse.path, read_only=True)
    try:
        counts = con.execute(
            "select (select count(*) from raw.dicom_instances), (select count(*) from raw.audit_events),"
            " (select count(*) from raw.harvest_files)"
        ).fetchone()
    finally:
        con.close()
    return {"seconds": seconds, "instances": counts[0], "audit": counts[1], "files": counts[2]}


def child(mode: str, processes: int, config: Path, home: Path) -> dict:
    env = {**os.environ, "SANSFILM_CONFIG": str(config), "DAGSTER_HOME": str(home)}
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    cmd = [sys.executable, __file__, "--measure", mode, "--processes", str(processes)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=REPO).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)  # the child and all it waited for
    return json.loads(out.strip().splitlines()[-1]) | {"cpu_seconds": cpu}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--establishments", type=int, default=12)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--image-side", type=int, default=512)
    parser.add_argument("--volume-scale", type=float, default=3.0)
    parser.add_argument("--batch-files", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=0, help="dicom_files sources (0: one per establishment)")
    parser.add_argument("--measure")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.processes)))
        return
    corpus_dir = corpus(args.establishments, args.months, args.image_side, args.volume_scale)
    files = dicom_files(corpus_dir)
    warm(files)
    runs = [
        ("cli", 1, 1, "cli, workers=1"),
        ("turns", 1, 1, "cli, warehouse opened per batch, workers=1"),
        ("inprocess", 1, 1, "dagster in-process, workers=1"),
        ("multiprocess", args.processes, 0, f"dagster multiprocess x{args.processes}, workers=0"),
        ("multiprocess", args.processes, 1, f"dagster multiprocess x{args.processes}, workers=1"),
    ]
    results = {}
    for mode, processes, workers, label in runs:
        with tempfile.TemporaryDirectory(prefix="sansfilm-parallel-") as tmp:
            config = write_config(corpus_dir, Path(tmp), workers, args.batch_files, args.groups)
            result = child(mode, processes, config, Path(tmp) / "dagster")
        results[label] = result
        print(
            f"{label:<44} {result['seconds']:6.1f} s  {len(files) / result['seconds']:6.0f} files/s  "
            f"CPU {result['cpu_seconds']:6.1f} s (imports included)  "
            f"({result['instances']} instances, {result['audit']} audit rows, {result['files']} files)"
        )
    assert len({(r["instances"], r["audit"], r["files"]) for r in results.values()}) == 1, "modes stored different data"
    print(json.dumps({"files": len(files), "results": results}))


if __name__ == "__main__":
    main()
