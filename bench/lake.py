"""Cost of the open lake: a full export, and a re-export where nothing changed (the fingerprint scan alone).

    .venv/bin/python bench/lake.py [--warehouse PATH]   # default: bench/metering.py's 1/10 sample, if built

Opens the warehouse read-only, exports every lake table that has rows into a temporary root twice (full, then
incremental), and prints seconds, rows and Parquet bytes per table. A month that changed costs about the scan plus
its share of the full write.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
import metering  # noqa: E402  bench/metering.py: its default shape names the folder

DEFAULT = metering.OUT / metering.Shape().name / "sample-1-in-10" / "warehouse.duckdb"


def main() -> None:
    import duckdb

    from analytics import lake

    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", type=Path, default=DEFAULT)
    args = parser.parse_args()
    # the warehouse attached read-only, seen through views: bench/metering.py's staged tables have no `source`
    # column (one synthetic archive), so the views add one where it is missing
    con = duckdb.connect()
    con.execute("set TimeZone = 'Europe/Paris'")
    con.execute("attach ? as wh (read_only)", [str(args.warehouse)])
    tables = []
    for t in lake.TABLES:
        columns = {
            c
            for (c,) in con.execute(
                "select column_name from duckdb_columns() where database_name = 'wh' and schema_name = ? "
                "and table_name = ?",
                [t.schema, t.name],
            ).fetchall()
        }
        if not columns or not con.execute(f"select count(*) from wh.{t.schema}.{t.name}").fetchone()[0]:
            continue
        extra = ", 'archive' as source" if t.by_source and "source" not in columns else ""
        con.execute(f"create schema if not exists {t.schema}")
        con.execute(f"create view {t.schema}.{t.name} as select *{extra} from wh.{t.schema}.{t.name}")
        tables.append(t)
    results = {}
    with tempfile.TemporaryDirectory(prefix="sansfilm-lake-") as tmp:
        root = Path(tmp)
        for table in tables:
            started = time.perf_counter()
            full = lake.export_table(con, root, table, full=True)
            full_s = time.perf_counter() - started
            started = time.perf_counter()
            again = lake.export_table(con, root, table)
            again_s = time.perf_counter() - started
            assert again.partitions_written == 0
            size = sum(p.stat().st_size for p in lake.table_path(root, table).resolve().rglob("*.parquet"))
            results[full.table] = {
                "rows": full.rows,
                "partitions": full.partitions,
                "full_s": round(full_s, 2),
                "unchanged_s": round(again_s, 2),
                "parquet_bytes": size,
            }
            print(
                f"{full.table:<28} {full.rows:>11,} rows {full.partitions:>4} partitions  full {full_s:6.1f} s  "
                f"unchanged {again_s:5.1f} s  {size / 1e6:8.1f} MB  {size / full.rows:6.1f} B/row"
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
