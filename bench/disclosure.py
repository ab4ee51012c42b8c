"""Time the ARS's statistical disclosure control (analytics/reporting/disclosure.py, regional.py) for one period.

    .venv/bin/python bench/disclosure.py [--config sansfilm.toml] [--period 2012-01 2012-12] [--period ...]

Without --config, the committed sample is copied to a temporary folder, harvested, built and published (as the
dashboards' tests do). For each period and each kind of atoms (studies, shares):
- baseline: `protect(..., shortcuts=False)`, the method as first written: every check solved as two integer programs,
  each complement tried alone;
- now: `protect(...)`, with witnesses and linear relaxations (same cells hidden: checked);
- first view / stored: `regional.protection` as a page calls it, with the process cache empty, before and after the
  pattern was stored beside the published file (a server restart, another server process).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import operations, samples, warehouse
from analytics.config import load_settings
from analytics.reporting import disclosure, regional
from analytics.reporting.scope import Filters, Viewer, query

ROOT = Path(__file__).resolve().parents[1]
ARS = Viewer("bench", "ars")
KINDS = {
    "studies": ("regional_atoms", "studies", regional.STUDY_TABLES),
    "shares": ("regional_share_atoms", "shares", regional.SHARE_TABLES),
}


def sample(folder: Path):
    shutil.copytree(
        ROOT / "data" / "samples",
        folder,
        ignore=shutil.ignore_patterns("warehouse", "lake", ".dagster", "*.duckdb", "*.sqlite"),
    )
    samples.restore_reception_times(folder)
    settings = load_settings(folder / "sansfilm.toml")
    operations.harvest(settings)
    operations.build_warehouse(settings)
    operations.meter_and_draft(settings)
    operations.publish(settings)
    return settings


def timed(run):
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start


def measure(settings, first: str, last: str) -> None:
    con = warehouse.connect_published(settings.published_path)
    filters = Filters(first, last)
    for kind, (sql, column, tables) in KINDS.items():
        atoms, cells = regional.cells_of(query(con, sql, ARS, filters), tables)
        values, every = atoms[column].to_list(), set(cells.values())
        slow, baseline = timed(lambda: disclosure.protect(every, values, shortcuts=False))  # noqa: B023
        fast, now = timed(lambda: disclosure.protect(every, values))  # noqa: B023
        assert slow == fast, "the shortcuts changed the cells hidden"
        shutil.rmtree(Path(f"{settings.published_path}.secret"), ignore_errors=True)
        regional.PROTECTION_CACHE.clear()
        _, first_view = timed(lambda: regional.protection(con, ARS, filters, kind))  # noqa: B023
        regional.PROTECTION_CACHE.clear()
        _, stored = timed(lambda: regional.protection(con, ARS, filters, kind))  # noqa: B023
        print(
            f"| {first} to {last} | {kind} | {atoms.height} | {len(every)} | {len(fast)} | {baseline:.1f} s | "
            f"{now:.1f} s | {baseline / now:.1f}x | {first_view:.1f} s | {stored * 1000:.0f} ms |",
            flush=True,
        )
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="a corpus already published (default: a fresh copy of the sample)")
    parser.add_argument("--period", nargs=2, action="append", metavar=("FIRST", "LAST"))
    args = parser.parse_args()
    periods = args.period or [("2012-10", "2012-12"), ("2012-01", "2012-12")]
    with tempfile.TemporaryDirectory() as scratch:
        settings = load_settings(args.config) if args.config else sample(Path(scratch) / "corpus")
        print("| period | atoms of | atoms | distinct cells | hidden | baseline (2 MILPs a check) | now | speed-up "
              "| first view (page, nothing stored) | first view, pattern stored |")  # fmt: skip
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for first, last in periods:
            measure(settings, first, last)


if __name__ == "__main__":
    main()
