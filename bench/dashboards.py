"""Time the query layer of each dashboard page, cold (no Streamlit cache), on a published warehouse.

    .venv/bin/python bench/dashboards.py [--config sansfilm.toml] [--published PATH] [--repeat 3]

Each page's queries run as the page's role, through `analytics.reporting`, on a fresh read-only connection; the
figure is the best of --repeat runs (warm OS page cache). Point --published at a large warehouse (e.g. one built by
bench/metering.py under bench/out/ and metered) for the >= 10 M studies figures of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from analytics import warehouse
from analytics.billing.service import load_contracts
from analytics.config import load_settings
from analytics.reporting import finance, programme
from analytics.reporting.scope import Filters, Viewer


def pages(settings, contracts):
    gcs, ars, mine = Viewer("b", "gcs"), Viewer("b", "ars"), Viewer("b", "establishment:750238172")
    return {
        "rollout": lambda c, f: [programme.rollout_sites(c, gcs, f), programme.adoption(c, gcs, f),
                                 programme.silent_sites(c, gcs, f)],
        "finance": lambda c, f: [finance.draft_invoices(c, contracts, gcs, f),
                                 finance.issued_invoices(settings.ledger.url, gcs, f), programme.unbilled(c, gcs, f)],
        "regional": lambda c, f: [programme.volumes(c, ars, f, d) for d in ("region", "departement", "modality")]
                                 + [programme.sharing(c, ars, f)],
        "operator": lambda c, f: [programme.storage(c, gcs, f), programme.ingestion_delay(c, gcs, f),
                                  programme.failure_rates(c, gcs, f), programme.busiest_hours(c, gcs, f)],
        "quality": lambda c, f: [programme.source_freshness(c, gcs, f), programme.quarantine(c, gcs, f),
                                 programme.unbilled(c, gcs, f)],
        "establishment": lambda c, f: [programme.usage_monthly(c, mine, f), finance.draft_invoices(c, contracts, mine, f),
                                       programme.sharing(c, mine, f)],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="sansfilm.toml")
    parser.add_argument("--published", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings(args.config)
    published = args.published or settings.published_path
    contracts = load_contracts(settings)
    con = warehouse.connect_published(published)
    studies = con.execute("select count(*) from staged.int_studies").fetchall()[0][0]
    months = [m for (m,) in con.execute("select distinct month from marts.fct_usage_daily order by 1").fetchall()]
    con.close()
    filters = Filters(months[0], months[-1]) if months else Filters()
    print(f"{published}: {studies:,} studies, {len(months)} metered months")
    for name, run in pages(settings, contracts).items():
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            con = warehouse.connect_published(published)
            try:
                run(con, filters)
            finally:
                con.close()
            best = min(best, time.perf_counter() - started)
        print(f"  {name:<14} {best * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
