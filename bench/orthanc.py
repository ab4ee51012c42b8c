"""Instances/s harvested from a local Orthanc, against a naive one-request-per-tag-set client in the same run.

    .venv/bin/python bench/orthanc.py [--volume-scale 5.2] [--months 12] [--naive-limit 0]

Generates (once, cached under bench/out/) a sample corpus of small files (8 x 8 images: the headers are what is
read), starts a throwaway Orthanc (the tests' fixture: loopback, authentication, DICOMweb plugin, TCP_NODELAY) whose
storage is cached beside the corpus, loads it by C-STORE under each sender's AE title (storescu, 4 associations at a
time) if it does not hold it yet, then measures, each into a fresh DuckDB file:

* naive:    the same change feed pages, but per instance `GET /instances/{id}` (stored size),
            `GET /instances/{id}/metadata?expand` (ReceptionDate, RemoteAET, TransferSyntax) and
            `GET /instances/{id}/simplified-tags` (the header), one after the other; same records, same writes;
* sansfilm: `analytics.harvest.harvest_source` on an orthanc source (bulk metadata, DICOMweb per series, 4 threads).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"


def corpus(months: int, volume_scale: float) -> Path:
    from analytics.samples import generate_corpus

    path = OUT / f"orthanc-corpus-e12-m{months}-s8-v{volume_scale}"
    if not (path / "reception_times.csv").exists():
        shutil.rmtree(path, ignore_errors=True)
        started = time.perf_counter()
        generate_corpus(path, establishments=12, months=months, image_side=8, volume_scale=volume_scale)
        print(f"generated {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def loaded_server(corpus_dir: Path, extra_config: dict | None = None):
    """The cached Orthanc holding the corpus (loaded on first use), started; `extra_config` is merged into its
    configuration (bench/dimse.py declares its calling AE title there)."""
    from tests.orthanc import OrthancServer, files_by_calling_ae, installed

    if not installed():
        sys.exit("Orthanc, its DICOMweb plugin and dcmtk are needed: apt-get install orthanc orthanc-dicomweb dcmtk")
    files = sorted(p for p in (corpus_dir / "dicom").rglob("*") if p.is_file())
    server = OrthancServer(corpus_dir.with_name(corpus_dir.name + "-orthanc"), extra_config=extra_config or {})
    server.start()
    with server.api() as api:
        held = api.get("/statistics").json()["CountInstances"]
    if held != len(files):
        server.stop()
        shutil.rmtree(server.root / "storage", ignore_errors=True)
        server.start()
        started = time.perf_counter()
        server.store(files_by_calling_ae(files))
        print(f"loaded {len(files)} instances by C-STORE in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return server, len(files)


def source_for(server, page_size: int):
    from analytics.config import OrthancSourceConfig
    from tests.orthanc import PASSWORD, USER

    os.environ["BENCH_ORTHANC_USER"], os.environ["BENCH_ORTHANC_PASSWORD"] = USER, PASSWORD
    return OrthancSourceConfig(
        name="bench",
        kind="orthanc",
        url=server.url,
        username_env="BENCH_ORTHANC_USER",
        password_env="BENCH_ORTHANC_PASSWORD",
        page_size=page_size,
    )


def naive_harvest(source, con, pseudonymise, limit: int) -> int:
    """One request per tag set and instance, sequentially; the same records and page transactions as sansfilm's."""
    from analytics import raw_batches
    from analytics.orthanc.client import OrthancClient
    from analytics.orthanc.harvest import TAGS, instance_path, record_fields

    zone = ZoneInfo(source.timezone)
    report = raw_batches.SourceReport(name=source.name, kind=source.kind)
    writer = raw_batches.BatchWriter(con, source.name, "naive", report)
    cursor, seen = 0, 0
    with OrthancClient(source) as client:
        while not limit or seen < limit:
            page = client.changes(cursor, source.page_size)
            if not page.changes:
                break
            records = []
            for change in page.changes:
                if change.change_type != "NewInstance" or (limit and seen >= limit):
                    continue
                seen += 1
                orthanc_id = change.resource_id
                resource = client.get(f"/instances/{orthanc_id}")
                resource["Metadata"] = client.get(f"/instances/{orthanc_id}/metadata", params={"expand": ""})
                tags = client.get(f"/instances/{orthanc_id}/simplified-tags")
                values = {
                    tag: tags[name] for name, tag in TAGS.items() if isinstance(tags.get(name), str) and tags[name]
                }
                records.append((instance_path(source, orthanc_id), record_fields(values, resource, pseudonymise, zone)))
            writer.write("dicom_instances", raw_batches.instance_frame(records, writer), [], [])
            cursor = max(c.seq for c in page.changes)
            if page.done:
                break
    return report.records_added


def sansfilm_harvest(source, con, pseudonymise) -> int:
    from analytics.harvest import harvest_source

    return harvest_source(con, source, pseudonymise).records_added


def measure(name: str, run, source) -> dict:
    from analytics import warehouse
    from analytics.pseudonym import Pseudonymiser

    with tempfile.TemporaryDirectory(prefix="bench-orthanc-") as tmp:
        with warehouse.open_warehouse(Path(tmp) / "w.duckdb") as con:
            started = time.perf_counter()
            added = run(source, con, Pseudonymiser("bench-key-" + "x" * 16))
            seconds = time.perf_counter() - started
    return {"client": name, "instances": added, "seconds": round(seconds, 2), "instances_per_s": round(added / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--volume-scale", type=float, default=5.2, help="about 20,600 instances at 12 months")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--naive-limit", type=int, default=0, help="stop the naive client after N instances (0: all)")
    args = parser.parse_args()
    server, count = loaded_server(corpus(args.months, args.volume_scale))
    try:
        source = source_for(server, args.page_size)
        naive = measure("naive", lambda s, c, p: naive_harvest(s, c, p, args.naive_limit), source)
        ours = measure("sansfilm", sansfilm_harvest, source)
    finally:
        server.stop()
    print_comparison(count, naive, ours)


def print_comparison(count: int, naive: dict, ours: dict) -> None:
    ours["vs_naive"] = round(ours["instances_per_s"] / naive["instances_per_s"], 2)
    print(json.dumps({"orthanc_instances": count, "cores": os.cpu_count(), "results": [naive, ours]}, indent=2))


if __name__ == "__main__":
    main()
