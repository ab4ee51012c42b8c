"""The data-quality checks of `staged.stg_dicom_instances` on a synthetic table of N instance rows.

    .venv/bin/python bench/quality.py [--rows 2000000]

Builds an in-memory DuckDB table with the columns the rules read (SQL generators, deterministic), then times the
table's row-level rules (counted in DuckDB, the verdicts by GX), then the same rules all through Great Expectations on
pulled column chunks (the baseline, same run; --no-baseline skips it), and the aggregate rules (DuckDB SQL, result
validated by GX), after one warm-up validation that pays GX's import. Figures: docs/data-quality.md.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

import duckdb

from analytics.quality import expectations
from analytics.quality import rules as quality_rules
from analytics.quality.contracts import DEFAULT_RULES_DIR, load_rules
from analytics.quality.rules import AGGREGATES, ROW_LEVEL, RunContext, run_aggregate, run_row_level

TABLE = "staged.stg_dicom_instances"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--no-baseline", action="store_true", help="skip the GX-only baseline (slow above 10 M rows)")
    args = parser.parse_args()
    rows = args.rows
    con = duckdb.connect()
    con.execute("create schema staged; create schema ref; create schema raw")
    con.execute("create table ref.establishment_ae_titles as select 'CT' || i as ae_title_key from range(50) t(i)")
    con.execute("create table ref.platform_ae_titles as select 'RSF_ARCHIVE' as ae_title_key")
    con.execute("create table raw.harvest_runs (finished_at timestamptz)")
    con.execute("insert into raw.harvest_runs values (timestamptz '2013-01-01 02:00:00+01')")
    con.execute(f"""create table {TABLE} as select
        '1.2.250.1.999.' || (i // 50) || '.' || (i % 50) as sop_instance_uid,
        '1.2.250.1.999.' || (i // 50) as study_instance_uid,
        ['CT', 'MR', 'US', 'DX'][1 + (hash(i) % 4)::bigint] as modality,
        (100000 + hash(i) % 400000)::bigint as size_bytes,
        timestamptz '2012-01-01 00:00:00+01' + to_seconds((hash(i) % 31000000)::bigint) as received_at,
        'CT' || (hash(i) % 50) as source_ae_title,
        case when i % 1000 = 0 then 'UNATTRIBUTED' else '750000015' end as establishment_id
        from range({rows}) t(i)""")
    rules = [r for r in load_rules(DEFAULT_RULES_DIR.parent) if r.table == TABLE]
    start = datetime(2010, 4, 1, tzinfo=timezone(timedelta(hours=2)))
    ctx = RunContext(con, start, None)
    started = time.perf_counter()
    expectations.validate(
        con.sql("select 1 as x").df(), [expectations.build("expect_column_values_to_not_be_null", {"column": "x"})]
    )
    print(f"GX import and first validation: {time.perf_counter() - started:.1f} s")
    row_level = [r for r in rules if r.kind in ROW_LEVEL]
    started = time.perf_counter()
    results = run_row_level(ctx, TABLE, row_level)
    seconds = time.perf_counter() - started
    engines = sorted({r.details["computed_by"] for r in results})
    print(
        f"{len(row_level)} row-level rules on {rows:,} rows, counted in DuckDB ({', '.join(engines)}): "
        f"{seconds:.2f} s ({rows / seconds / 1e6:.2f} M rows/s)"
    )
    if not args.no_baseline:  # the baseline, same rules, same rows: every rule through GX on pulled chunks
        quality_rules.sql_condition = lambda *_: None
        started = time.perf_counter()
        baseline = run_row_level(ctx, TABLE, row_level)
        gx_seconds = time.perf_counter() - started
        print(
            f"the same through Great Expectations on pulled chunks: {gx_seconds:.1f} s "
            f"({rows / gx_seconds / 1e6:.2f} M rows/s); DuckDB {gx_seconds / seconds:.0f}x faster"
        )
        same = [(r.passed, r.observed) for r in results] == [(r.passed, r.observed) for r in baseline]
        print(f"same verdicts and counts: {same}")
    for rule in (r for r in rules if r.kind in AGGREGATES):
        started = time.perf_counter()
        result = run_aggregate(ctx, rule, AGGREGATES[rule.kind])
        print(f"{rule.name} ({rule.kind}, SQL): {time.perf_counter() - started:.2f} s, passed={result.passed}")
    print("failed:", [r.name for r in results if not r.passed])


if __name__ == "__main__":
    main()
