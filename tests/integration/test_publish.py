"""The readers' copy: two files take turns behind a link; a publish copies the rows written since the turn's last
update, and equals the warehouse after every publish."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb

from analytics import publish, warehouse
from tests.integration.test_incremental import PLATFORM, empty, harvest


def tables(con, catalog: str) -> dict[str, list[tuple]]:
    """Every published table's rows, from the warehouse (`catalog` = its name) or from a copy attached as `catalog`."""
    names = con.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = ? and table_schema in ?",
        [catalog, list(publish.PUBLISHED_SCHEMAS)],
    ).fetchall()
    return {f"{s}.{t}": sorted(con.execute(f"select * from {catalog}.{s}.{t}").fetchall(), key=repr) for s, t in names}


def published_tables(con, path) -> dict[str, list[tuple]]:
    con.execute("attach ? as copy (read_only)", [str(path)])
    try:
        return tables(con, "copy")
    finally:
        con.execute("detach copy")


def night(con, wh, n: int) -> None:
    """One more night: a study received, its receipt logged, harvested and built incrementally."""
    wh.instance(f"{n}.1", f"S{n}", f"2012-03-{n:02d}T10:00:00+01:00", 100 * n)
    wh.event("110104", f"2012-03-{n:02d}T10:00:00+01:00", "A_CT", PLATFORM, [f"S{n}"])
    harvest(con, wh, f"h{n}")
    warehouse.build_models(con)


def test_each_publish_equals_the_warehouse_and_copies_only_what_was_written_since(tmp_path):
    wh, con = empty(tmp_path)
    link = tmp_path / "wh.published.duckdb"
    working = con.execute("select current_database()").fetchall()[0][0]
    turns = []
    for n in (1, 2):
        night(con, wh, n)
        warehouse.publish(con, link)
        turns.append(link.resolve().name)
        assert published_tables(con, link) == tables(con, working)
    assert link.is_symlink() and turns == ["wh.published.a.duckdb", "wh.published.b.duckdb"]

    # the third publish updates turn a (left at night 1): an old row changed by hand behind the build's back is not
    # copied again (only the rows written since are), while a table without stamps (a mart) is copied whole
    s1 = "select event_type from {}.staged.stg_audit_events where study_instance_uid = 'S1'"
    before = con.execute(s1.format(working)).fetchall()
    con.execute("update staged.stg_audit_events set event_type = 'changed by hand' where study_instance_uid = 'S1'")
    con.execute("update marts.mart_archive_daily set studies_received = 99 where received_date = '2012-03-01'")
    night(con, wh, 3)
    warehouse.publish(con, link)
    assert link.resolve().name == "wh.published.a.duckdb"
    copy, work = published_tables(con, link), tables(con, working)
    assert copy["marts.mart_archive_daily"] == work["marts.mart_archive_daily"]
    assert {r[0] for r in copy["staged.stg_audit_events"]} == {r[0] for r in work["staged.stg_audit_events"]}
    assert con.execute(s1.format(working)).fetchall() == [("changed by hand",)]
    con.execute("attach ? as copy (read_only)", [str(link)])
    assert con.execute(s1.format("copy")).fetchall() == before != [("changed by hand",)]
    con.execute("detach copy")

    # a full rebuild rewrites every row: the next publish copies the tables whole, and equals the warehouse again
    warehouse.build_models(con, full_refresh=True)
    warehouse.publish(con, link)
    assert published_tables(con, link) == tables(con, working)
    con.close()


READER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    count = "select count(*) from staged.int_studies"
    print(con.execute(count).fetchall()[0][0], flush=True)
    sys.stdin.readline()  # hold the file open while the publish runs
    print(con.execute(count).fetchall()[0][0], flush=True)
    """
)


def test_a_reader_still_holding_the_turn_keeps_what_it_read_and_the_publish_writes_afresh(tmp_path):
    wh, con = empty(tmp_path)
    link = tmp_path / "wh.published.duckdb"
    for n in (1, 2):
        night(con, wh, n)
        warehouse.publish(con, link)
    turn_a = publish.turn_path(link, "a")  # left at night 1, opened by a reader before the link moved to b
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(turn_a)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout.readline().strip() == "1"
        night(con, wh, 3)
        warehouse.publish(con, link)  # turn a is locked by the reader: a fresh file takes its name
        out, _ = reader.communicate("\n", timeout=60)
    finally:
        reader.kill()
    assert out.strip() == "1"
    assert link.resolve() == turn_a.resolve()
    with duckdb.connect(str(link), read_only=True) as fresh:
        assert fresh.execute("select count(*) from staged.int_studies").fetchall()[0][0] == 3
    assert not list(tmp_path.glob(".*.tmp"))
    con.close()


def test_a_copy_published_by_an_earlier_version_gives_way_to_the_link(tmp_path):
    wh, con = empty(tmp_path)
    link = tmp_path / "wh.published.duckdb"
    duckdb.connect(str(link)).close()  # a published file of its own, as versions before the turns wrote it
    night(con, wh, 1)
    warehouse.publish(con, link)
    assert link.is_symlink() and link.resolve().name == "wh.published.a.duckdb"
    with warehouse.connect_published(link) as reader:
        assert reader.execute("select count(*) from staged.int_studies").fetchall()[0][0] == 1
    con.close()


def test_a_copy_left_by_another_warehouse_is_copied_whole(tmp_path):
    """A warehouse built again from scratch numbers its builds from 1 again: the turns it finds (stamped by the old
    one's builds) are recognised by the builds' start times and rewritten, not updated with the rows 'since'."""
    link = tmp_path / "published" / "wh.published.duckdb"
    old_wh, old = empty(tmp_path / "old")
    for n in (1, 2):
        night(old, old_wh, n)
        warehouse.publish(old, link)
    old.close()
    new_wh, new = empty(tmp_path / "new")
    night(new, new_wh, 7)
    warehouse.publish(new, link)  # turn a, left by the old warehouse's build 1
    assert link.resolve().name == "wh.published.a.duckdb"
    assert published_tables(new, link) == tables(new, new.execute("select current_database()").fetchall()[0][0])
    new.close()
