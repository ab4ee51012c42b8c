"""Does the nightly and monthly cost follow the night's (the month's) data, not the archive's age? A synthetic region
with 1, 3 and 5 years of history, measured in the same run.

    .venv/bin/python bench/history.py [--studies-per-year 10000000] [--years 1,3,5] [--events-per-study 10]
                                      [--establishments 500] [--seed 2012] [--memory-limit 6GB] [--cold] [--nights 3]

The region is bench/metering.py's generator (one calendar year, 2012, cached under bench/out/), turned back into the
raw layer the harvest writes (`raw.dicom_instances`, `raw.audit_events`, one finished harvest per Paris month) and
repeated year after year (identifiers suffixed, times shifted by whole years; the history ends in 2014 at the latest,
inside the generator's contract, so 5 years are 2010-2014). The last days of the history (--nights, 3 by default) are
held back: each is a night's harvest, measured one after the other (what the generator dates after them, such as
deletions weeks after a reception, is left out). Every history length is rebuilt first; then the nights are
measured interleaved (the first night of each length, then the second of each, ...), then the monthly steps, so that a
while of a slower machine weighs on every length alike (the disk then holds every length's working copy at once).
Each step runs in a fresh process (its own peak RSS, VmHWM):

* rebuild: `dbt_build.build(full_refresh=True)` of every model from raw, then every month metered in order (storage
  carried forward from the month-end snapshots), then the readers' copy published whole (both of its turns): what
  `sansfilm rebuild` and a first `sansfilm run` cost;
* nightly, for each held-back day in turn: the day appended as one more harvest, then the incremental build, the
  month to date metered and the readers' copy published (`warehouse.publish`: the turn it updates takes the rows
  written since). A single night's time varies by a quarter from run to run (disk reads, read cold): the ratio
  between two history lengths is the median of the nights' ratios, each night against the same night (the same day
  of the generator's year) of the other length; the nightly figures shown are the last night's (every night listed);
* monthly: the month just ended metered, its usage read and every establishment's draft invoice made.

Figures are printed and kept in bench/out/history-last.json; docs/benchmarks.md records them with the command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
import metering as generator  # noqa: E402  (bench/metering.py, after the path set-up)

OUT = REPO / "bench" / "out"
LAST_BILLED_YEAR = 2014  # the generator's contract ends in March 2015: the night and the month drafted fall before


def first_year(years: int) -> int:
    """The history starts with the generator's year (2012) and ends at the latest in 2014: 5 years are 2010-2014."""
    return min(generator.YEAR, LAST_BILLED_YEAR - years + 1)


def region_path(shape: generator.Shape, years: int, nights: int) -> Path:
    """Named by the raw schema's version too: a region made by a sansfilm with other raw tables is not reused."""
    from analytics import warehouse_schema

    return OUT / f"history-{shape.name}-y{years}-n{nights}-raw{warehouse_schema.latest():04d}" / "region.duckdb"


def night_harvest(night: date) -> str:
    """The harvest a held-back night's rows wait under in bench.night_* (and are appended as)."""
    return f"night-{night.isoformat()}"


def make_region(shape: generator.Shape, years: int, nights: int) -> tuple[Path, Path, list[date]]:
    """The raw layer of `years` years of the region (cached), its contracts folder and the held-back nights (the last
    `nights` days of the history, in order)."""
    from analytics import raw_batches, warehouse
    from analytics.registry import load_registry

    one_year, contracts_dir, _ = generator.ensure_warehouse(shape)
    path = region_path(shape, years, nights)
    start = first_year(years)
    last = date(start + years - 1, 12, 31)
    held_back = [last - timedelta(days=n) for n in reversed(range(nights))]
    if path.exists():
        return path, contracts_dir, held_back
    work = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    work.parent.mkdir(parents=True, exist_ok=True)
    work.unlink(missing_ok=True)
    con = warehouse.connect(work)
    warehouse.ensure_schema(con)
    warehouse.load_reference(con, load_registry(contracts_dir), generator.PLATFORM_AE_TITLES)
    con.execute("attach ? as one (read_only)", [str(one_year)])
    con.execute("create schema if not exists bench")
    # the generator writes staged rows: give each instance an AE title of its establishment (attribution by AE title)
    con.execute("""create temp table est_ae as select establishment_id, min(ae_title_key) as ae
                   from ref.establishment_ae_titles group by all""")
    for k in range(years):
        shift = f"interval '{start - generator.YEAR + k} years'"
        harvest = f"""case when timezone('Europe/Paris', {{t}} + {shift})::date > date '{held_back[-1]}' then 'later'
                          when timezone('Europe/Paris', {{t}} + {shift})::date >= date '{held_back[0]}'
                              then 'night-' || strftime(timezone('Europe/Paris', {{t}} + {shift}), '%Y-%m-%d')
                          else 'h' || strftime(timezone('Europe/Paris', {{t}} + {shift}), '%Y-%m') end"""
        con.execute(f"""
            insert into raw.dicom_instances by name
            select *{raw_batches.derived_columns("dicom_instances")} from (
            select i.sop_instance_uid || '.{k}' as record_key, 'files' as source,
                   i.study_instance_uid || '.{k}' as study_instance_uid,
                   i.series_instance_uid || '.{k}' as series_instance_uid,
                   i.sop_instance_uid || '.{k}' as sop_instance_uid, i.modality,
                   (i.study_date + {shift})::date as study_date,
                   replace(i.study_time_of_day::varchar, ':', '') as study_time,
                   coalesce(a.ae, 'UNREGISTERED_WS') as source_ae_title,
                   coalesce(a.ae, 'UNREGISTERED_WS') as source_ae_key,
                   i.size_bytes, i.received_at + {shift} as received_at, i.patient_key,
                   i.sop_instance_uid || '.{k}' as file_key, {harvest.format(t="i.received_at")} as harvest_id,
                   false as size_estimated, false as received_at_estimated
            from one.staged.stg_dicom_instances as i
            left join est_ae as a using (establishment_id))
            order by received_at  -- as the harvests appended them, month after month""")
        con.execute(f"""
            insert into raw.dicom_deletions by name
            select 'files' as source, sop_instance_uid || '.{k}' as file_key, deleted_at + {shift} as deleted_at,
                   'change_feed' as detected_by, {harvest.format(t="deleted_at")} as harvest_id
            from one.staged.stg_dicom_instances where deleted_at is not null""")
        con.execute(f"""
            insert into raw.audit_events by name
            select md5(row_number() over () || '.{k}') as record_key, 'audit' as source,
                   md5(row_number() over () || '.{k}') as message_sha256, e.event_id, e.outcome,
                   e.event_time + {shift} as event_time, e.source_ae, e.destination_ae,
                   upper(trim(e.source_ae)) as source_ae_key, upper(trim(e.destination_ae)) as destination_ae_key,
                   e.study_instance_uid || '.{k}' as study_instance_uid, 'bench-audit' as file_key,
                   row_number() over () as line, {harvest.format(t="e.event_time")} as harvest_id
            from one.staged.stg_audit_events as e
            order by e.event_time""")
    for table in (
        "dicom_instances",
        "dicom_deletions",
        "audit_events",
    ):  # the night's rows wait in bench.*, harvested by `nightly`
        con.execute(f"create table bench.night_{table} as select * from raw.{table} where harvest_id like 'night-%'")
        # and what the generator dates after the last night (deletions weeks after reception): not known yet
        con.execute(f"delete from raw.{table} where harvest_id like 'night-%' or harvest_id = 'later'")
    con.execute("""insert into raw.harvest_runs (harvest_id, source, kind, started_at, finished_at)
                   select distinct harvest_id, 'files', 'dicom_files', now(), now() from (
                       select harvest_id from raw.dicom_instances union select harvest_id from raw.audit_events)""")
    con.execute("detach one")
    con.execute("checkpoint")
    con.close()
    os.replace(work, path)
    return path, contracts_dir, held_back


def months(first: date, last: date):
    from analytics.periods import Month

    month = Month(first.year, first.month)
    while month.first_day <= last:
        yield month
        month = month.next()


def dbt_work_dir(db: Path) -> Path:
    """The build's dbt folder beside `db` (analytics.dbt_build.work_dir, imported here only where dbt is wanted)."""
    from analytics import dbt_build

    return dbt_build.work_dir(db)


def evict(folder: Path) -> None:
    """Take the DuckDB files of `folder` (the warehouse, the readers' copy) out of the page cache: the next step
    reads what it needs of them from disk, as a nightly job does on a machine whose memory went to other files that
    day. The libraries, dbt's own files included, stay cached: only the warehouse's reads are made cold."""
    for path in folder.glob("*.duckdb*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)  # written pages must reach the disk before the kernel may drop them
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def slowest_nodes(db: str, top: int = 8) -> dict[str, float]:
    """The dbt nodes (models and tests) that took longest in the last build, from dbt's run_results.json."""
    results = dbt_work_dir(Path(db)) / "target" / "run_results.json"
    if not results.is_file():
        return {}
    nodes = json.loads(results.read_text())["results"]
    nodes.sort(key=lambda n: n["execution_time"], reverse=True)
    return {n["unique_id"].split(".", 2)[-1]: round(n["execution_time"], 2) for n in nodes[:top]}


def _open(db: str, limit: str | None):
    """`limit`: --memory-limit, as [warehouse] memory_limit sets it (None: dbt_build's default, half the RAM)."""
    from analytics import warehouse

    return warehouse.connect(Path(db), memory_limit=limit)


def measure_rebuild(db: str, night: str, years: int, limit: str | None) -> dict:
    from analytics import dbt_build, metering, warehouse

    con = _open(db, limit)
    started = time.perf_counter()
    counts = dbt_build.build(con, full_refresh=True)
    built = time.perf_counter()
    last = date.fromisoformat(night) - timedelta(days=1)
    metered = list(months(date(last.year - years + 1, 1, 1), last))
    for month in metered:
        metering.meter_month(con, month, now=datetime(last.year, last.month, last.day, 23, tzinfo=generator_tz()))
    done = time.perf_counter()
    con.execute("checkpoint")
    published = Path(db).with_name("published.duckdb")
    warehouse.publish(con, published)  # both turns written whole: the nightly publish then updates the first
    published_once = time.perf_counter()
    warehouse.publish(con, published)
    con.close()
    return {
        "build_s": built - started,
        "meter_all_s": done - built,
        "publish_whole_s": published_once - done,
        "slowest_nodes": slowest_nodes(db),
        "months": len(metered),
        "studies": counts["staged.int_studies"],
        "instances": counts["staged.stg_dicom_instances"],
        "audit_rows": counts["staged.stg_audit_events"],
    }


def generator_tz():
    from analytics.periods import PARIS

    return PARIS


def measure_nightly(db: str, night: str, limit: str | None) -> dict:
    from analytics import dbt_build, metering, raw_batches, warehouse
    from analytics.periods import Month

    day = date.fromisoformat(night)
    harvest = night_harvest(day)
    con = _open(db, limit)
    started = time.perf_counter()
    con.execute(
        "insert into raw.dicom_deletions select * from bench.night_dicom_deletions where harvest_id = ?", [harvest]
    )
    for table in ("dicom_instances", "audit_events"):  # as the harvest appends a batch: only records not stored yet
        batch = f"(select * from bench.night_{table} where harvest_id = '{harvest}')"
        raw_batches.store_new_records(con, table, batch, "*")
    con.execute(
        "insert into raw.harvest_runs (harvest_id, source, kind, started_at, finished_at) "
        "values (?, 'files', 'dicom_files', now(), now())",
        [harvest],
    )
    harvested = time.perf_counter()
    counts = dbt_build.build(con)
    built = time.perf_counter()
    metering.meter_month(
        con, Month(day.year, day.month), now=datetime(day.year, day.month, day.day, 23, tzinfo=generator_tz())
    )
    metered = time.perf_counter()
    published = Path(db).with_name("published.duckdb")
    warehouse.publish(con, published)
    done = time.perf_counter()
    con.close()
    return {
        "seconds": done - harvested,
        "append_s": harvested - started,
        "build_s": built - harvested,
        "meter_mtd_s": metered - built,
        "publish_s": done - metered,
        "slowest_nodes": slowest_nodes(db),
        "stg_dicom_instances_rows": counts["staged.stg_dicom_instances"],
    }


def measure_monthly(db: str, contracts_dir: str, night: str, limit: str | None) -> dict:
    from analytics import metering
    from analytics.billing.service import draft_month
    from analytics.periods import Month

    day = date.fromisoformat(night)
    month = Month(day.year, day.month)
    contracts = generator._load_contracts(Path(contracts_dir))
    con = _open(db, limit)
    started = time.perf_counter()
    metering.meter_month(con, month, now=datetime(day.year + 1, 1, 1, 6, tzinfo=generator_tz()))
    usage = metering.monthly_usage(con, month)
    drafts = draft_month(contracts, month, usage)
    done = time.perf_counter()
    con.close()
    return {"seconds": done - started, "invoices": len(drafts), "net": str(sum((d.net for d in drafts), start=0))}


def child(kind: str, db: Path, contracts_dir: Path, night: date, years: int, limit: str | None) -> dict:
    """One measurement in a fresh process; its result and its peak resident memory."""
    result = OUT / f".history-{os.getpid()}-{kind}.json"
    cmd = [
        sys.executable,
        __file__,
        "--measure",
        kind,
        "--db",
        str(db),
        "--contracts",
        str(contracts_dir),
        "--night",
        str(night),
        "--history-years",
        str(years),
        "--result",
        str(result),
        *(["--memory-limit", limit] if limit else []),
    ]
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    figures = json.loads(result.read_text())
    result.unlink()
    figures["wall_s"] = time.perf_counter() - started
    return figures


def run_measurement(args: argparse.Namespace) -> None:
    if args.measure == "rebuild":
        figures = measure_rebuild(args.db, args.night, args.history_years, args.memory_limit)
    elif args.measure == "nightly":
        figures = measure_nightly(args.db, args.night, args.memory_limit)
    else:
        figures = measure_monthly(args.db, args.contracts, args.night, args.memory_limit)
    figures["peak_rss_mb"] = generator.peak_rss_mb()
    Path(args.result).write_text(json.dumps(figures, default=str))


@dataclass
class History:
    """One history length being measured: its working copy of the region and the figures taken so far."""

    years: int
    work: Path
    contracts_dir: Path
    held_back: list[date]
    rebuild: dict
    nights: list[dict] = field(default_factory=list)
    monthly: dict | None = None


def prepare_history(
    shape: generator.Shape, years: int, *, keep_region: bool, limit: str | None, nights: int
) -> History:
    """A working copy of the region of `years` years (the region itself moved there unless `keep_region`: at 10 M
    studies a year, 5 years of raw rows take ~25 GB, their build as much again), rebuilt in a fresh process."""
    region, contracts_dir, held_back = make_region(shape, years, nights)
    work = region.with_name("work.duckdb")
    for stale in work.parent.glob("work.duckdb*"):
        stale.unlink()
    shutil.rmtree(dbt_work_dir(work), ignore_errors=True)
    if keep_region:
        shutil.copyfile(region, work)
    else:
        os.replace(region, work)
    rebuild = child("rebuild", work, contracts_dir, held_back[0], years, limit)
    return History(years, work, contracts_dir, held_back, rebuild)


def measure_histories(histories: list[History], *, limit: str | None, cold: bool) -> None:
    """The nightly and monthly steps of every history, interleaved: each night of every history length in turn
    (the same night of the generator's year one after the other), then every monthly step, so that a machine slower
    for a while (another tenant, the disk) weighs on every length alike rather than on the one measured then.
    `cold`: the warehouse's files are taken out of the page cache before each step; without it, each step finds the
    page cache as the step before it left it: another length's (the first night, its own length's rebuild)."""
    for night in range(len(histories[0].held_back)):
        for history in histories:
            _before_step(history, cold)
            figures = child(
                "nightly", history.work, history.contracts_dir, history.held_back[night], history.years, limit
            )
            history.nights.append({"night": str(history.held_back[night]), **figures})
    for history in histories:
        _before_step(history, cold)
        history.monthly = child(
            "monthly", history.work, history.contracts_dir, history.held_back[-1], history.years, limit
        )


def _before_step(history: History, cold: bool) -> None:
    """The previous step's writes reach the disk before this step, not during it; with `cold`, the history's files
    leave the page cache."""
    os.sync()
    if cold:
        evict(history.work.parent)


def finish_history(history: History) -> dict:
    """The figures of a measured history; its working copy and published files removed. "nights" holds every night's
    figures, "nightly" the last night's (the busiest of the three by default, and the night the runs recorded before
    measured)."""
    work = history.work
    published = work.with_name("published.duckdb")
    figures = {
        "years": history.years,
        "warehouse_file_gb": round(work.stat().st_size / 1e9, 2),
        "published_file_gb": round(published.resolve().stat().st_size / 1e9, 2),
        "rebuild": history.rebuild,
        "nightly": history.nights[-1],
        "nights": history.nights,
        "monthly": history.monthly,
    }
    for done in (*work.parent.glob("work.duckdb*"), *work.parent.glob("published*.duckdb")):
        done.unlink()
    shutil.rmtree(dbt_work_dir(work), ignore_errors=True)
    return figures


def nightly_ratios(first: dict, last: dict) -> list[float]:
    """Each night of the `last` history against the same night of the `first`: the same day of the generator's year
    (the nights are days of different volume, a Saturday, a Sunday and a Monday by default)."""
    return [round(b["seconds"] / a["seconds"], 2) for a, b in zip(first["nights"], last["nights"], strict=True)]


def report(run: dict) -> None:
    print(
        f"{run['years']} year(s), warehouse {run['warehouse_file_gb']} GB, published {run['published_file_gb']} GB, "
        f"{run['rebuild']['studies']:,} studies, {run['rebuild']['audit_rows']:,} audit rows",
        flush=True,
    )
    steps = [
        ("rebuild", run["rebuild"]),
        *((f"night {n['night']}", n) for n in run["nights"]),
        ("monthly", run["monthly"]),
    ]
    for step, figures in steps:
        shown = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in figures.items() if k != "night"}
        print(f"  {step:<16} {shown}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies-per-year", type=int, default=10_000_000)
    parser.add_argument("--years", default="1,3,5", help="history lengths to measure, comma-separated")
    parser.add_argument("--events-per-study", type=int, default=10, help="audit rows per study (about)")
    parser.add_argument("--establishments", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument(
        "--keep-regions",
        action="store_true",
        help="keep each history's raw layer for the next run (disk: ~5 GB a year)",
    )
    parser.add_argument(
        "--memory-limit",
        help='DuckDB\'s memory limit, as [warehouse] memory_limit sets it (e.g. "6GB"; default: half the RAM)',
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="take the warehouse's files out of the page cache before each nightly and monthly step: what they read "
        "of the warehouse then comes from disk, not from what the rebuild left cached",
    )
    parser.add_argument(
        "--nights",
        type=int,
        default=3,
        help="the history's last days held back and measured as nights one after the other (their ratios' median)",
    )
    parser.add_argument("--measure", choices=["rebuild", "nightly", "monthly"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--contracts", help=argparse.SUPPRESS)
    parser.add_argument("--night", help=argparse.SUPPRESS)
    parser.add_argument("--history-years", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.nights < 1:
        parser.error("--nights must be 1 or more")
    if args.measure:
        run_measurement(args)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    shape = generator.Shape(
        args.establishments, args.studies_per_year, args.studies_per_year * args.events_per_study, args.seed
    )
    lengths = sorted({int(y) for y in args.years.split(",")})  # one working copy per length
    (OUT / "history-last.json").unlink(missing_ok=True)  # a run cut short leaves no other run's figures as its own
    histories = []
    # every length rebuilt first, the longest first: its rebuild spills most to disk, before the others' copies exist
    for years in sorted(lengths, reverse=True):
        histories.insert(
            0,
            prepare_history(shape, years, keep_region=args.keep_regions, limit=args.memory_limit, nights=args.nights),
        )
        print(f"{years} year(s) rebuilt: {histories[0].rebuild}", flush=True)  # as it ends: 5 years take a while
    measure_histories(histories, limit=args.memory_limit, cold=args.cold)
    runs = [finish_history(history) for history in histories]
    for run in runs:
        report(run)
    first, last = runs[0], runs[-1]
    lengths_compared = f"{last['years']}y_vs_{first['years']}y"
    each_night = nightly_ratios(first, last)
    ratio = {
        f"nightly_{lengths_compared}": statistics.median(each_night),
        f"nightly_{lengths_compared}_each_night": dict(
            zip((n["night"][5:] for n in last["nights"]), each_night, strict=True)
        ),
        f"monthly_{lengths_compared}": round(last["monthly"]["seconds"] / first["monthly"]["seconds"], 2),
    }
    results = {
        "command": " ".join(["bench/history.py", *sys.argv[1:]]),
        "cores": os.cpu_count(),
        "load_average_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "studies_per_year": args.studies_per_year,
        "memory_limit": args.memory_limit or "default (half the RAM)",
        "page_cache": "warehouse files evicted before each nightly and monthly step" if args.cold else "as left",
        "runs": runs,
        "ratios": ratio,
    }
    print(f"ratios: {ratio}")
    (OUT / "history-last.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
