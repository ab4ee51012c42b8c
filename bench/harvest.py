"""Header-reading throughput and harvest memory, against a naive full `pydicom.dcmread` measured in the same run.

    .venv/bin/python bench/harvest.py [--establishments 12] [--months 6] [--image-side 512] [--volume-scale 3]

Generates (once, cached under bench/out/) a corpus of realistic-size files, warms the page cache, then measures in
separate processes so that each peak memory figure is its own:

* naive:       pydicom.dcmread(path) of every file (pixels included), one process: the baseline;
* reader x1:   sansfilm's header reader (analytics.dicom_reader.read_instance) on every file, one process;
* harvest x0:  a full first harvest (walk, parse, DuckDB write) all in one process;
* harvest x1:  the same with one parsing worker process while the main process writes (the default on 2 cores);
* harvest xN:  the same with one worker per core;
* memory:      peak RSS of a harvest on the corpus and on a corpus twice as large (flat = the batching works).
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
OUT = REPO / "bench" / "out"


def corpus(establishments: int, months: int, image_side: int, volume_scale: float) -> Path:
    from analytics.samples import generate_corpus

    path = OUT / f"corpus-e{establishments}-m{months}-s{image_side}-v{volume_scale}"
    if not (path / "reception_times.csv").exists():
        shutil.rmtree(path, ignore_errors=True)
        started = time.perf_counter()
        generate_corpus(
            path, establishments=establishments, months=months, image_side=image_side, volume_scale=volume_scale
        )
        print(f"generated {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def dicom_files(corpus_dir: Path) -> list[str]:
    return sorted(str(p) for p in (corpus_dir / "dicom").rglob("*") if p.is_file())


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # ru_maxrss is in KiB on Linux


# --- measurements, each run in its own process ------------------------------------------------------------------


def measure_naive(files: list[str]) -> dict:
    import pydicom

    started = time.perf_counter()
    for path in files:
        pydicom.dcmread(path)
    return {"seconds": time.perf_counter() - started}


def measure_reader(files: list[str]) -> dict:
    from analytics.dicom_reader import read_instance
    from analytics.pseudonym import Pseudonymiser

    pseudonymise = Pseudonymiser("benchmark-key-0123456789")
    started = time.perf_counter()
    for path in files:
        read_instance(path, pseudonymise)
    return {"seconds": time.perf_counter() - started}


def measure_harvest(corpus_dir: str, workers: int) -> dict:
    from analytics import warehouse
    from analytics.config import HarvestConfig, SourceConfig
    from analytics.harvest import harvest_source
    from analytics.pseudonym import Pseudonymiser

    with tempfile.TemporaryDirectory() as tmp:
        source = SourceConfig(name="bench", kind="dicom_files", path=Path(corpus_dir) / "dicom")
        with warehouse.open_warehouse(Path(tmp) / "bench.duckdb") as con:
            started = time.perf_counter()
            report = harvest_source(
                con, source, Pseudonymiser("benchmark-key-0123456789"), HarvestConfig(workers=workers)
            )
            seconds = time.perf_counter() - started
    return {"seconds": seconds, "files": report.files_seen, "quarantined": report.quarantined}


def child(kind: str, target: str, workers: int = 1) -> dict:
    """Run one measurement in a fresh interpreter (this script with --measure); returns figures and peak memory."""
    cmd = [sys.executable, __file__, "--measure", kind, "--target", target, "--workers", str(workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_measurement(kind: str, target: str, workers: int) -> None:
    if kind == "harvest":
        result = measure_harvest(target, workers)
    else:
        files = json.loads(Path(target).read_text())
        result = measure_naive(files) if kind == "naive" else measure_reader(files)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def warm(files: list[str]) -> None:
    for path in files:
        with open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--establishments", type=int, default=12)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--image-side", type=int, default=512)
    parser.add_argument("--volume-scale", type=float, default=3.0)
    parser.add_argument("--measure", choices=["naive", "reader", "harvest"], help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        run_measurement(args.measure, args.target, args.workers)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1

    small = corpus(args.establishments, args.months, args.image_side, args.volume_scale)
    large = corpus(args.establishments, args.months * 2, args.image_side, args.volume_scale)
    files = dicom_files(small)
    warm(files)
    warm(dicom_files(large))
    listing = OUT / "files.json"
    listing.write_text(json.dumps(files))
    size_mb = sum(os.path.getsize(f) for f in files) / 1e6

    naive = child("naive", str(listing))
    reader = child("reader", str(listing))
    inline = child("harvest", str(small), workers=0)
    one = child("harvest", str(small), workers=1)
    many = child("harvest", str(small), workers=cores)
    big = child("harvest", str(large), workers=max(1, cores - 1))

    n = len(files)
    rate = lambda r, count=n: count / r["seconds"]  # noqa: E731
    results = {
        "files": n,
        "mean_file_kb": round(size_mb * 1000 / n, 1),
        "cores": cores,
        "naive_dcmread_files_per_s": round(rate(naive)),
        "reader_one_process_files_per_s": round(rate(reader)),
        "reader_vs_naive": round(rate(reader) / rate(naive), 2),
        "harvest_in_one_process_files_per_s": round(rate(inline)),
        "harvest_in_one_process_vs_naive": round(rate(inline) / rate(naive), 2),
        "harvest_1_worker_files_per_s": round(rate(one)),
        "harvest_1_worker_vs_naive": round(rate(one) / rate(naive), 2),
        f"harvest_{cores}_workers_files_per_s": round(rate(many)),
        f"harvest_{cores}_workers_vs_naive": round(rate(many) / rate(naive), 2),
        "peak_rss_mb_naive": round(naive["peak_rss_mb"]),
        "peak_rss_mb_harvest": round(many["peak_rss_mb"]),
        "files_large_corpus": big["files"],
        "peak_rss_mb_harvest_large_corpus": round(big["peak_rss_mb"]),
        "memory_growth_large_vs_small": round(big["peak_rss_mb"] / many["peak_rss_mb"], 2),
    }
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
