"""Time the query layer of each dashboard page, cold (no Streamlit cache), on a published warehouse.

    .venv/bin/python bench/dashboards.py [--config sansfilm.toml] [--published PATH] [--repeat 3]
    .venv/bin/python bench/dashboards.py --regional [--studies 10000000]

Each page's queries run as the page's role, through `analytics.reporting`, on a fresh read-only connection; the
figure is the best of --repeat runs (warm OS page cache), and the first (cold) run is shown too.

--regional: the synthetic region of bench/metering.py (its builder, `ensure_warehouse`, cached under bench/out/),
copied to bench/out/dashboards-<shape>/, its marts built, every month of 2012 metered, then published: the
dashboards' view of a >= 10 M-study warehouse.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import warehouse
from analytics.billing.service import load_contracts
from analytics.config import load_settings
from analytics.reporting import finance, programme
from analytics.reporting.scope import Filters, Viewer


def pages(settings, contracts, establishment_id: str):
    gcs, ars, mine = Viewer("b", "gcs"), Viewer("b", "ars"), Viewer("b", f"establishment:{establishment_id}")
    return {
        "rollout": lambda c, f: [programme.rollout_sites(c, gcs, f), programme.adoption(c, gcs, f),
                                 programme.silent_sites(c, gcs, f)],
        "finance": lambda c, f: [finance.draft_invoices(c, contracts, gcs, f, settings.ledger.url),
                                 finance.issued_invoices(settings.ledger.url, gcs, f), programme.unbilled(c, gcs, f)],
        "regional": lambda c, f: [programme.volumes(c, ars, f, d) for d in ("region", "departement", "modality")]
                                 + [programme.sharing_departements(c, ars, f)],
        "operator": lambda c, f: [programme.storage(c, gcs, f), programme.ingestion_delay(c, gcs, f),
                                  programme.failure_rates(c, gcs, f), programme.busiest_hours(c, gcs, f)],
        "quality": lambda c, f: [programme.source_freshness(c, gcs, f), programme.quarantine(c, gcs, f),
                                 programme.unbilled(c, gcs, f)],
        "establishment": lambda c, f: [programme.usage_monthly(c, mine, f), finance.draft_invoices(c, contracts, mine, f, settings.ledger.url),
                                       programme.sharing(c, mine, f)],
    }  # fmt: skip


READ_TABLES = ("marts.fct_usage_daily", "marts.fct_share_flows_monthly", "marts.mart_archive_daily")


def _published_tables(path: Path) -> set[str]:
    import duckdb

    if not path.exists():
        return set()
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {f"{s}.{t}" for s, t in con.execute("select table_schema, table_name from information_schema.tables")
                .fetchall()}  # fmt: skip
    finally:
        con.close()


def build_regional(studies: int) -> Path:
    """A published copy of bench/metering.py's synthetic region with every mart and month; returns its config."""
    import duckdb
    import metering as region  # bench/metering.py

    from analytics import metering, warehouse
    from analytics.billing.model import Month

    shape = region.Shape(studies=studies, events=studies * 10)
    db, contracts_dir, _ = region.ensure_warehouse(shape)
    folder = region.OUT / f"dashboards-{shape.name}"
    config = folder / "sansfilm.toml"
    if config.exists() and _published_tables(folder / "warehouse.published.duckdb") >= set(READ_TABLES):
        return config
    started = time.perf_counter()
    if not config.exists():
        folder.mkdir(parents=True, exist_ok=True)
        # a read-only connection held during the copy: fails if bench/metering.py is writing it, and keeps writers out
        source = duckdb.connect(str(db), read_only=True)
        try:
            shutil.copyfile(db, folder / "warehouse.duckdb")
        finally:
            source.close()
        shutil.copytree(contracts_dir, folder / "contracts", dirs_exist_ok=True)
        (folder / "sansfilm.toml").with_suffix(".tmp").write_text(
            f'[warehouse]\npath = "warehouse.duckdb"\n[contracts]\ndir = "contracts"\n'
            f'[ledger]\nurl = "sqlite:///ledger.sqlite"\n[archive]\nae_titles = {list(region.PLATFORM_AE_TITLES)!r}\n'.replace("'", '"'),
            encoding="utf-8")  # fmt: skip
    # a copy built by an older version lacks a mart the pages now read: marts and metering are idempotent, run again
    con = warehouse.connect(folder / "warehouse.duckdb")
    try:
        warehouse.ensure_schema(con)
        warehouse.build_models(con, [m for m in warehouse.MODELS if m[0] == "marts"])
        for month in range(1, 13):
            metering.meter_month(con, Month(region.YEAR, month))
        warehouse.publish(con, folder / "warehouse.published.duckdb")
    finally:
        con.close()
    if not config.exists():
        (folder / "sansfilm.toml").with_suffix(".tmp").rename(config)
    print(f"built {folder} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="sansfilm.toml")
    parser.add_argument("--published", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--regional", action="store_true", help="bench/metering.py's synthetic region")
    parser.add_argument("--studies", type=int, default=10_000_000)
    args = parser.parse_args()
    settings = load_settings(build_regional(args.studies) if args.regional else args.config)
    published = args.published or settings.published_path
    contracts = load_contracts(settings)
    con = warehouse.connect_published(published)
    studies = con.execute("select count(*) from staged.int_studies").fetchall()[0][0]
    months = [m for (m,) in con.execute("select distinct month from marts.fct_usage_daily order by 1").fetchall()]
    # the busiest establishment: the largest "my establishment" page
    (busiest,) = con.execute("select establishment_id from marts.fct_usage_daily where establishment_id <> "
                             "'UNATTRIBUTED' group by 1 order by sum(studies_archived) desc limit 1").fetchall()[0]  # fmt: skip
    con.close()
    filters = Filters(months[0], months[-1]) if months else Filters()
    print(f"{published}: {studies:,} studies, {len(months)} metered months")
    for name, run in pages(settings, contracts, busiest).items():
        best, times = float("inf"), []
        for _ in range(args.repeat):
            started = time.perf_counter()
            con = warehouse.connect_published(published)
            try:
                run(con, filters)
            finally:
                con.close()
            times.append(time.perf_counter() - started)
        print(f"  {name:<14} best {min(times) * 1000:8.1f} ms   first {times[0] * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
