"""The readers' copy: two files take turns behind a link; a publish copies the rows written since the turn's last
update, and equals the warehouse after every publish."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime

import duckdb
import pytest

from analytics import dbt_build, metering, publish, warehouse
from analytics.metrics import MONTHLY_FACTS
from analytics.periods import PARIS, Month
from tests.integration.test_incremental import PLATFORM, empty, harvest, move_instances_to_other_studies

NOW = datetime(2012, 4, 2, 6, tzinfo=PARIS)  # metering's clock: both months ended


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


@pytest.mark.parametrize("few_keys", [publish.FEW_KEYS, 0], ids=["keys-named", "keys-by-subquery"])
def test_each_publish_equals_the_warehouse_and_copies_only_what_was_written_since(tmp_path, monkeypatch, few_keys):
    monkeypatch.setattr(publish, "FEW_KEYS", few_keys)
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

    # the third publish updates turn a (left at night 1): old rows changed by hand behind the build's back are not
    # copied again (only the rows written since are: night 3 recounts March 3rd, not the 1st), while a table without
    # stamps (the establishments) is copied whole
    s1 = "select event_type from {}.staged.stg_audit_events where study_instance_uid = 'S1'"
    day1 = "select studies_received from {}.marts.mart_archive_daily where received_date = '2012-03-01'"
    before = con.execute(s1.format(working)).fetchall() + con.execute(day1.format(working)).fetchall()
    con.execute("update staged.stg_audit_events set event_type = 'changed by hand' where study_instance_uid = 'S1'")
    con.execute("update marts.mart_archive_daily set studies_received = 99 where received_date = '2012-03-01'")
    con.execute("update marts.dim_establishments set name = 'changed by hand'")
    night(con, wh, 3)
    warehouse.publish(con, link)
    assert link.resolve().name == "wh.published.a.duckdb"
    copy, work = published_tables(con, link), tables(con, working)
    assert copy["marts.dim_establishments"] == work["marts.dim_establishments"]
    assert {r[0] for r in copy["staged.stg_audit_events"]} == {r[0] for r in work["staged.stg_audit_events"]}
    assert {r[1] for r in copy["marts.mart_archive_daily"]} == {r[1] for r in work["marts.mart_archive_daily"]}
    assert con.execute(s1.format(working)).fetchall() + con.execute(day1.format(working)).fetchall() == [
        ("changed by hand",),
        (99,),
    ]
    con.execute("attach ? as copy (read_only)", [str(link)])
    assert con.execute(s1.format("copy")).fetchall() + con.execute(day1.format("copy")).fetchall() == before
    assert before[0] != ("changed by hand",) and before[1] == (1,)
    con.execute("detach copy")

    # a full rebuild rewrites every row: the next publish copies the tables whole, and equals the warehouse again
    warehouse.build_models(con, full_refresh=True)
    warehouse.publish(con, link)
    assert published_tables(con, link) == tables(con, working)
    con.close()


class Recorded:
    """A connection that keeps the statements it runs (a publish's deletes, here)."""

    def __init__(self, con) -> None:
        self.con, self.statements = con, []

    def execute(self, sql, *args):
        self.statements.append(" ".join(sql.split()))
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


def deletes(recorded: Recorded) -> dict[str, str]:
    """The publish's deletes in the copy, by table."""
    prefix = "delete from publish_target."
    return {d[len(prefix) :].split()[0]: d for d in recorded.statements if d.startswith(prefix)}


@pytest.mark.parametrize("few_keys", [publish.FEW_KEYS, 0], ids=["keys-named", "keys-by-subquery"])
def test_a_copy_looks_for_a_replaced_key_only_among_the_rows_of_the_builds_that_wrote_it(
    tmp_path, monkeypatch, few_keys
):
    """Each turn is two builds behind. A night of new studies replaces no row of the studies or the instances: the
    publish deletes nothing there. A late instance of a study written on night 1 replaces that study: the copy's
    delete reads only night 1's rows (`build_seq in (...)`) of the study's storage day. A warehouse built before the
    replacements were kept (its log dropped) publishes the old way until its copies have caught up with the log; a
    full rebuild starts the log again. A late instance received before its study moves the study to an earlier
    day: the copy's row is looked for on the day it holds. The copy equals the warehouse after every publish, with
    the keys named or read by a subquery."""
    monkeypatch.setattr(publish, "FEW_KEYS", few_keys)
    wh, con = empty(tmp_path)
    link = tmp_path / "wh.published.duckdb"
    working = con.execute("select current_database()").fetchall()[0][0]

    def publish_night(n: int, *late: tuple[str, str], received: str | None = None) -> dict[str, str]:
        for sop, study in late:
            wh.instance(sop, study, received or f"2012-03-{n:02d}T09:00:00+01:00", 7)
        night(con, wh, n)
        recorded = Recorded(con)
        warehouse.publish(recorded, link)
        assert published_tables(con, link) == tables(con, working)
        return deletes(recorded)

    def written(study: str) -> int:
        query = "select build_seq from staged.int_studies where study_instance_uid = ?"
        return con.execute(query, [study]).fetchall()[0][0]

    def among(*builds: int, days: tuple[str, ...] = ("2012-03-01",)) -> str:
        on_days = ", ".join(f"date '{day}'" for day in days)
        return (
            f"delete from publish_target.staged.int_studies where build_seq in ({', '.join(map(str, builds))}) "
            f"and first_received_date in ({on_days}) and study_hash in ("
        )

    for n in (1, 2, 3):
        publish_night(n)
    night1, night2 = written("S1"), written("S2")
    quiet = publish_night(4)  # turn b, up to night 2: nights 3 and 4 only added
    studies = ("int_studies", "int_study_owners", "stg_audit_studies", "stg_dicom_instances", "stg_audit_events")
    assert not {f"staged.{t}" for t in studies} & set(quiet), quiet
    late = publish_night(5, ("1.9", "S1"))  # turn a, up to night 3: S1 replaced on night 5
    assert late["staged.int_studies"].startswith(among(night1))
    assert "staged.stg_dicom_instances" not in late  # a new instance replaces none
    night5 = written("S1")

    con.execute("drop table build.replacements")  # as a warehouse built by an earlier version left it
    before_log = publish_night(6)  # turn b, up to night 4, before the log's first build (night 6)
    assert "build_seq in" not in before_log["staged.int_studies"]
    first = publish_night(7, ("1.8", "S1"))  # turn a, up to night 5: the log starts with the next build, night 6
    assert first["staged.int_studies"].startswith(among(night5))
    caught_up = publish_night(8, ("2.9", "S2"))  # turn b, up to night 6: S1 replaced on night 7, S2 on night 8
    assert caught_up["staged.int_studies"].startswith(
        among(*sorted({night2, night5}), days=("2012-03-01", "2012-03-02"))
    )
    night8 = written("S2")
    # turn a, up to night 7: S2, on March 2nd there, received on February 27th by a late copy
    earlier = publish_night(9, ("2.8", "S2"), received="2012-02-27T09:00:00+01:00")
    assert earlier["staged.int_studies"].startswith(among(night2, night8, days=("2012-03-02",)))
    assert con.execute(
        "select first_received_date::varchar from staged.int_studies where study_hash = md5_number('S2')"
    ).fetchall() == [("2012-02-27",)]

    warehouse.build_models(con, full_refresh=True)  # every row rewritten: the next publish of each turn copies whole
    rebuilt = written("S3")
    assert dbt_build.replacements_logged_from(con) == rebuilt
    assert deletes_of_a_publish(con, link) == {} and deletes_of_a_publish(con, link) == {}
    # the rebuild stores the keyed models' rows in the order of their storage day (S2 moved first), and so does the
    # whole copy of each turn: what lets DuckDB skip the row groups of other days
    con.execute("attach ? as copy (read_only)", [str(link)])
    for catalog in (working, "copy"):
        spread = set()  # the models whose rows fall on several days (this region makes no transfer)
        for model, day in dbt_build.model_keys().storage_days.items():
            days = [d for (d,) in con.execute(f"select {day} from {catalog}.staged.{model} order by rowid").fetchall()]
            assert days == sorted(days), (catalog, model, days)
            spread |= {model} if len(set(days)) > 1 else set()
        assert spread == set(studies) - {"stg_audit_events"}, spread
    con.execute("detach copy")
    after = publish_night(10, ("3.9", "S3"))  # turn b, up to the rebuild: S3 written by it
    assert after["staged.int_studies"].startswith(among(rebuilt, days=("2012-03-03",)))
    con.close()


@pytest.mark.parametrize("few_keys", [publish.FEW_KEYS, 0], ids=["keys-named", "keys-by-subquery"])
def test_a_study_an_incremental_build_removes_is_removed_from_the_copy(tmp_path, monkeypatch, few_keys):
    """S5's only instance filed under S6 by its archive's copy: the build removes S5 (no row carries its key any
    more), and each turn, updated in place with the rows written since, loses it too."""
    monkeypatch.setattr(publish, "FEW_KEYS", few_keys)
    wh, con = empty(tmp_path)
    link = tmp_path / "wh.published.duckdb"
    working = con.execute("select current_database()").fetchall()[0][0]

    def both_turns() -> None:
        warehouse.publish(con, link)
        warehouse.publish(con, link)

    move_instances_to_other_studies(con, wh, between=both_turns)  # turns a and b written whole, holding S5
    for turn in ("a", "b"):
        recorded = Recorded(con)
        warehouse.publish(recorded, link)
        assert link.resolve().name == f"wh.published.{turn}.duckdb"
        assert "staged.int_studies" in deletes(recorded)  # updated in place, not written whole
        copy = published_tables(con, link)
        assert copy == tables(con, working)
        assert [r[0] for r in copy["staged.int_studies"]] == ["S10", "S6", "S7", "S8"]
    con.close()


def test_a_table_dbt_left_behind_is_never_published(tmp_path):
    """A build stopped between dbt's statements can leave `<model>__dbt_backup` (or `__dbt_tmp`) beside the model:
    no reader sees it, and a copy that held one (published by an earlier version) loses it."""
    wh, con = empty(tmp_path)
    link = tmp_path / "wh.published.duckdb"
    night(con, wh, 1)
    for leftover in ("staged.int_studies__dbt_backup", "marts.mart_archive_daily__dbt_tmp"):
        con.execute(f"create table {leftover} as select * from {leftover.split('__')[0]}")
    warehouse.publish(con, link)  # turn a, written whole
    assert not [t for t in published_tables(con, link) if "__dbt_" in t]
    warehouse.publish(con, link)  # turn b; then turn a is given one, as an earlier version would have published it
    con.execute("attach ? as copy", [str(tmp_path / "wh.published.a.duckdb")])
    con.execute("create table copy.staged.int_studies__dbt_backup as select * from staged.int_studies")
    con.execute("detach copy")
    night(con, wh, 2)
    recorded = Recorded(con)
    warehouse.publish(recorded, link)  # turn a, updated in place
    assert link.resolve().name == "wh.published.a.duckdb" and deletes(recorded)
    copy = published_tables(con, link)
    assert not [t for t in copy if "__dbt_" in t] and "staged.int_studies" in copy
    con.close()


def test_publishing_a_warehouse_whose_models_are_gone_is_refused_and_readers_keep_their_copy(tiny_built):
    """An upgrade that drops the models' tables to rebuild them, then the readers' copy materialised alone (the
    Dagster UI): the publish refuses in one line saying what to run, and the readers keep what they had."""
    from analytics import operations
    from analytics.errors import SansfilmError

    link = tiny_built.published_path
    before = link.resolve(), published_tables(duckdb.connect(), link)
    with warehouse.open_warehouse(tiny_built.warehouse.path) as con:
        con.execute("drop table staged.int_study_owners")
    with pytest.raises(SansfilmError, match=r"int_study_owners missing.*run `sansfilm harvest` \(or `sansfilm run`\)"):
        operations.publish(tiny_built)
    assert (link.resolve(), published_tables(duckdb.connect(), link)) == before


def deletes_of_a_publish(con, link) -> dict[str, str]:
    recorded = Recorded(con)
    warehouse.publish(recorded, link)
    return deletes(recorded)


def test_a_day_a_build_empties_is_emptied_in_the_copy_too(tmp_path):
    """A receipt logged late moves an instance the archive gave no reception time from March 1st to February 28th:
    the marts recount both days and have no row left for March 1st; the copy, updated with the rows written since,
    loses that day as well."""
    wh, con = empty(tmp_path)
    link = tmp_path / "wh.published.duckdb"
    working = con.execute("select current_database()").fetchall()[0][0]
    wh.instance("1.1", "S1", "2012-03-01T12:00:00+01:00", 100, ae="B_CT")
    wh.instances[-1]["received_at_estimated"] = True
    night(con, wh, 5)  # and S5, received on March 5th
    warehouse.publish(con, link)  # turn a, written whole
    night(con, wh, 6)
    warehouse.publish(con, link)  # turn b
    wh.event("110104", "2012-02-28T10:00:00+01:00", "B_CT", PLATFORM, ["S1"])
    harvest(con, wh, "late")
    warehouse.build_models(con)
    warehouse.publish(con, link)  # turn a again: the rows written since night 5
    copy, work = published_tables(con, link), tables(con, working)
    days = sorted({str(r[1]) for r in work["marts.mart_archive_daily"]})
    assert days == ["2012-02-28", "2012-03-05", "2012-03-06"]
    assert sorted({str(r[1]) for r in work["marts.mart_archive_monthly"]}) == ["2012-02-01", "2012-03-01"]
    assert copy == work
    con.close()


def test_the_copy_takes_the_months_metered_since_and_only_those(tmp_path):
    wh, con = empty(tmp_path)
    link = tmp_path / "wh.published.duckdb"
    working = con.execute("select current_database()").fetchall()[0][0]
    wh.instance("0.1", "S0", "2012-02-10T10:00:00+01:00", 1000)
    wh.event("110103", "2012-02-11T10:00:00+01:00", "A_CT", PLATFORM, ["S0"])  # a view: a day of usage in February
    night(con, wh, 1)
    for month in (Month(2012, 2), Month(2012, 3)):
        metering.meter_month(con, month, now=NOW)
    warehouse.publish(con, link)  # turn a, whole
    warehouse.publish(con, link)  # turn b, whole
    # February changed behind metering's back: not metered again, so not copied again
    con.execute("update marts.fct_usage_daily set views = 99 where month = '2012-02'")
    night(con, wh, 2)
    metering.meter_month(con, Month(2012, 3), now=NOW)  # the same `now`: still a new metering
    warehouse.publish(con, link)  # turn a: March again, not February
    copy, work = published_tables(con, link), tables(con, working)
    for table in MONTHLY_FACTS:
        assert [r for r in copy[f"marts.{table}"] if "2012-03" in r] == [
            r for r in work[f"marts.{table}"] if "2012-03" in r
        ]
    march = [r for r in copy["marts.fct_usage_daily"] if r[0] == "2012-03"]
    assert {str(r[1]) for r in march if r[3]} == {"2012-03-01", "2012-03-02"}  # studies archived, night 2's included
    assert {r[9] for r in copy["marts.fct_usage_daily"] if r[0] == "2012-02"} == {0, 1}  # the copy's own February
    assert {r[9] for r in work["marts.fct_usage_daily"] if r[0] == "2012-02"} == {99}
    # metered again, February is copied again: each turn equals the warehouse
    metering.meter_month(con, Month(2012, 2), now=NOW)
    warehouse.publish(con, link)
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


def test_after_a_full_rebuild_each_turn_is_written_into_a_new_file(tmp_path):
    """Every table copied whole (a full rebuild since the turn's update): the turn is written into a new file, so the
    rows the rebuild dropped are in none of its pages, used or not (a value a migration removed from raw: the free
    text of audit codes, docs/deploy.md). The copy still equals the warehouse."""
    wh, con = empty(tmp_path)
    link = tmp_path / "wh.published.duckdb"
    working = con.execute("select current_database()").fetchall()[0][0]
    wh.instance("1.1", "S1", "2012-03-01T10:00:00+01:00", 100)
    wh.event("110103", "2012-03-01T11:00:00+01:00", "ZZ_SENT_TEXT_ZZ", PLATFORM, ["S1"])
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    turns = [warehouse.publish(con, link).resolve() for _ in range(2)]
    assert {t.name for t in turns} == {"wh.published.a.duckdb", "wh.published.b.duckdb"}
    assert all(b"ZZ_SENT_TEXT_ZZ" in t.read_bytes() for t in turns)  # in both turns, as a value

    con.execute("update raw.audit_events set source_ae = 'A_CT' where source_ae = 'ZZ_SENT_TEXT_ZZ'")
    warehouse.build_models(con, full_refresh=True)
    files = {}
    for turn in turns:
        before = turn.stat().st_ino
        assert warehouse.publish(con, link).resolve() == turn
        assert published_tables(con, link) == tables(con, working)
        assert b"ZZ_SENT_TEXT_ZZ" not in turn.read_bytes()  # nor in a page left over
        files[turn] = turn.stat().st_ino
        assert files[turn] != before  # a new file took the turn's place
    night(con, wh, 2)  # a night after: each turn updated in place again, with the rows written since only
    for turn in turns:
        assert warehouse.publish(con, link).resolve() == turn
        assert published_tables(con, link) == tables(con, working)
        assert turn.stat().st_ino == files[turn]
    con.close()
