"""Size of a published turn updated in place night after night, against a fresh copy of the same rows.

    .venv/bin/python bench/turn_growth.py                                   # 2 M rows, 200 nights of 6,000 + 300
    .venv/bin/python bench/turn_growth.py --rows 1000000 --nights 300 --new 3000 --rewritten 3000

A publish updates the turn readers do not hold with the rows written since (analytics/publish.py): it deletes the
rows a build replaced by their key and appends the new and replaced ones. This script does the same to one table of
a study-like shape (a 128-bit random key, a UID, an establishment, a size, the build's stamp) in a DuckDB file, each
night in one transaction then detached (checkpointed) as a publish does: `--new` rows appended, `--rewritten` rows
drawn at random from all rows (seeded) and replaced. It prints the file's size every tenth of the run, then writes a
fresh copy of the final rows and prints the ratio: what in-place updating costs in disk, measured in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    import duckdb

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the first copy")
    parser.add_argument("--nights", type=int, default=200)
    parser.add_argument("--new", type=int, default=6_000, help="rows appended a night")
    parser.add_argument("--rewritten", type=int, default=300, help="rows replaced a night, drawn from all rows")
    parser.add_argument("--seed", type=int, default=2012)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sansfilm-turn-") as tmp:
        turn, fresh = Path(tmp) / "turn.duckdb", Path(tmp) / "fresh.duckdb"
        work = duckdb.connect()  # the warehouse's table, in memory
        work.execute(
            """create table t as select hash(i)::uhugeint * 1234567 as k, i as n, md5(i::varchar) as uid,
                   (i % 500)::varchar as establishment_id, i * 1000 as size_bytes, 0 as build_seq from range(?) r(i)""",
            [args.rows],
        )

        def publish(night: int) -> None:
            work.execute("attach ? as copy", [str(turn)])
            work.execute("begin transaction")
            if night == 0:
                work.execute("create table copy.t as select * from t")
            else:
                work.execute("delete from copy.t where k in (select k from t where build_seq = ?)", [night])
                work.execute("insert into copy.t select * from t where build_seq = ?", [night])
            work.execute("commit")
            work.execute("detach copy")

        publish(0)
        top = args.rows
        print(f"{'night':>6} {'rows':>11} {'turn MB':>9}")
        for night in range(1, args.nights + 1):
            if args.rewritten:
                work.execute(
                    f"""update t set build_seq = ? where n in (select n from t
                        using sample reservoir({args.rewritten} rows) repeatable ({args.seed + night}))""",
                    [night],
                )
            work.execute(
                """insert into t select hash(i)::uhugeint * 1234567, i, md5(i::varchar), (i % 500)::varchar, i * 1000, ?
                   from range(?, ?) r(i)""",
                [night, top, top + args.new],
            )
            top += args.new
            publish(night)
            if night % max(1, args.nights // 10) == 0:
                print(f"{night:>6} {top:>11,} {turn.stat().st_size / 1e6:>9.1f}")
        work.execute("attach ? as copy", [str(fresh)])
        work.execute("create table copy.t as select * from t")
        work.execute("detach copy")
        rewritten_first = work.execute(
            "select count(*) filter (where build_seq > 0) / count(*) from t where n < ?", [args.rows]
        ).fetchone()[0]
        ratio = turn.stat().st_size / fresh.stat().st_size
        turn_mb, fresh_mb = turn.stat().st_size / 1e6, fresh.stat().st_size / 1e6
        print(
            f"after {args.nights} nights: turn {turn_mb:.1f} MB, a fresh copy of the same {top:,} rows {fresh_mb:.1f} "
            f"MB: {ratio:.2f}x ({rewritten_first:.0%} of the first rows rewritten)"
        )


if __name__ == "__main__":
    main()
