"""The warehouse build is incremental: it takes in what new harvests added, and the result equals a full rebuild."""

from __future__ import annotations

import shutil
from functools import partial

import polars as pl
import pytest

from analytics import dbt_build, metering, warehouse
from analytics.billing.model import Month
from analytics.catalog import column_exists
from analytics.registry import load_registry
from tests.warehouse_factory import A, B, RawWarehouse, store

PLATFORM = "RSF_ARCHIVE"


def append(con, wh: RawWarehouse, harvest_id: str) -> None:
    """Append the collected rows under `harvest_id` (as a harvest appends a batch), then forget them."""
    for table, rows in (("dicom_instances", wh.instances), ("audit_events", wh.events)):
        if rows:
            store(con, table, pl.DataFrame(rows).with_columns(harvest_id=pl.lit(harvest_id)))
    wh.instances.clear()
    wh.events.clear()


def harvest(con, wh: RawWarehouse, harvest_id: str) -> None:
    """Append the collected rows as one finished harvest (what analytics.harvest leaves behind)."""
    append(con, wh, harvest_id)
    con.execute(
        "insert into raw.harvest_runs (harvest_id, source, kind, started_at, finished_at) "
        "values (?, 'files', 'dicom_files', now(), now())",
        [harvest_id],
    )


def empty(tmp_path) -> tuple[RawWarehouse, object]:
    """A warehouse with the registry loaded and nothing harvested yet, and a connection to it."""
    wh = RawWarehouse(tmp_path)
    con = warehouse.connect(wh.path)
    warehouse.ensure_schema(con)
    warehouse.load_reference(con, load_registry(tmp_path / "contracts"), [PLATFORM])
    return wh, con


def contents(con) -> dict[str, list[tuple]]:
    """Every model's rows, without the number of the build that wrote them (bookkeeping: it differs by design)."""
    return {
        f"{s}.{m}": sorted(con.execute(f"select columns(lambda c: c <> 'build_seq') from {s}.{m}").fetchall(), key=repr)
        for s, m in dbt_build.models()
    }


def report_deleted(con, file_key: str, when: str, harvest_id: str) -> None:
    """The archive reports the file `file_key` deleted at `when` (raw.dicom_deletions, as an API source's harvest)."""
    row = {"source": "files", "file_key": file_key, "deleted_at": when, "detected_by": "change_feed"}
    at = pl.col("deleted_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%z", time_zone="Europe/Paris")
    store(con, "dicom_deletions", pl.DataFrame([row | {"harvest_id": harvest_id}]).with_columns(at))


def misnumbered(con) -> dict[str, int]:
    """Per model carrying study numbers, its rows whose study has no number or another one (stg_study_numbers)."""
    found = {}
    for schema, model in dbt_build.models():
        if model != dbt_build.STUDY_NUMBERS and column_exists(con, f"{schema}.{model}", "study_no"):
            query = f"""select count(*) from {schema}.{model} as m
                        where m.study_instance_uid is not null and not exists (
                            select 1 from staged.{dbt_build.STUDY_NUMBERS} as n
                            where n.study_no = m.study_no and n.study_hash = md5_number(m.study_instance_uid))"""
            found[model] = con.execute(query).fetchall()[0][0]
    return found


def assert_equals_a_full_rebuild(con) -> None:
    """What the incremental builds left equals what a full rebuild from raw makes (the rebuild is left in place; it
    keeps the studies' numbers given, which every model's rows agree with before and after)."""
    incremental = contents(con)
    assert set(misnumbered(con).values()) == {0}, misnumbered(con)
    warehouse.build_models(con, full_refresh=True)
    assert incremental == contents(con)
    assert set(misnumbered(con).values()) == {0}, misnumbered(con)


def test_late_data_for_an_old_month_built_incrementally_equals_a_full_rebuild(tmp_path):
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
    wh.instance("1.2", "S1", "2012-01-10T10:05:00+01:00", 200)
    wh.instance("2.1", "S2", "2012-03-02T09:00:00+01:00", 300, ae="B_CT")
    wh.event("110104", "2012-03-05T12:00:00+01:00", PLATFORM, "B_CT", ["S2"])
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    assert con.execute("select count(*) from build.state").fetchall() == [(1,)]

    # a night later, late data for January: another instance of S1 (and a copy of one already known, received
    # earlier: the earliest copy wins), a study known only from a receipt event, S1 deleted in March
    wh.instance("1.3", "S1", "2012-01-11T08:00:00+01:00", 50)
    wh.instance("1.2", "S1", "2012-01-09T08:00:00+01:00", 210)
    wh.event("110104", "2012-01-20T12:00:00+01:00", "B_CT", PLATFORM, ["S3"])
    wh.event("110105", "2012-03-15T12:00:00+01:00", "A_CT", PLATFORM, ["S1"])
    harvest(con, wh, "h2")
    counts = warehouse.build_models(con)  # incremental: only h2 is taken in
    incremental = contents(con)
    assert counts["staged.stg_dicom_instances"] == 4 and counts["staged.int_study_owners"] == 3

    warehouse.build_models(con, full_refresh=True)
    assert incremental == contents(con)
    s1 = con.execute(
        "select instances, bytes, first_received_at::varchar from staged.int_studies where study_instance_uid = 'S1'"
    )
    assert s1.fetchall()[0] == (3, 360, "2012-01-09 08:00:00+01")
    owners = dict(con.execute("select study_instance_uid, establishment_id from staged.int_study_owners").fetchall())
    assert owners["S3"] == B
    con.close()


def test_receipts_and_deletions_logged_late_are_merged_as_a_full_rebuild_finds_them(tmp_path):
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-04-02T12:00:00+02:00", 100, ae="B_CT")
    wh.instances[-1]["received_at_estimated"] = True  # an archive that gave no reception time: the receipt dates it
    wh.event("110104", "2012-04-02T11:00:00+02:00", "B_CT", PLATFORM, ["S1"])
    wh.event("110104", "2012-04-03T09:00:00+02:00", "B_CT", PLATFORM, ["S2"])  # a study known only from the logs
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    # late logs: earlier receipts of both studies (S2's from A's AE title), S2 deleted in May...
    wh.event("110104", "2012-04-02T08:00:00+02:00", "B_CT", PLATFORM, ["S1"])
    wh.event("110104", "2012-04-03T07:00:00+02:00", "A_CT", PLATFORM, ["S2"])
    wh.event("110105", "2012-05-10T10:00:00+02:00", PLATFORM, None, ["S2"])
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    # ...then a receipt later than the first known, and an earlier deletion
    wh.event("110104", "2012-04-03T07:30:00+02:00", "B_CT", PLATFORM, ["S2"])
    wh.event("110105", "2012-05-01T10:00:00+02:00", PLATFORM, None, ["S2"])
    # S4 received twice at the same instant, from an AE title nobody claims and from B's: the claimed one owns it
    wh.event("110104", "2012-04-04T10:00:00+02:00", "NOBODY_AE", PLATFORM, ["S4"])
    wh.event("110104", "2012-04-04T10:00:00+02:00", "B_CT", PLATFORM, ["S4"])
    harvest(con, wh, "h3")
    counts = warehouse.build_models(con)
    assert counts["staged.stg_audit_studies"] == 3
    s4 = "select establishment_id from staged.int_study_owners where study_instance_uid = 'S4'"
    assert con.execute(s4).fetchall() == [(B,)]
    s1 = con.execute("select received_at::varchar, received_at_from from staged.stg_dicom_instances").fetchall()
    assert s1 == [("2012-04-02 08:00:00+02", "audit_receipt")]
    s2 = con.execute(
        "select establishment_id, owner_from, first_receipt_at::varchar, deleted_date::varchar "
        "from staged.int_study_owners where study_instance_uid = 'S2'"
    ).fetchall()
    assert s2 == [(A, "receipt_event", "2012-04-03 07:00:00+02", "2012-05-01")]
    assert_equals_a_full_rebuild(con)
    con.close()


def test_instance_deletions_reported_late_are_merged_as_a_full_rebuild_finds_them(tmp_path):
    """The archive reports instances deleted (raw.dicom_deletions). A build reads the deletions of the copies it
    rebuilds only (a saving, not seen here); what this guards is that none is missed: a deletion reported by a later
    harvest is found, and so is an earlier one when the instance is rebuilt for a copy harvested later."""
    wh, con = empty(tmp_path)
    deleted = partial(report_deleted, con)

    def deleted_dates() -> list[tuple]:
        query = "select sop_instance_uid, deleted_date::varchar, copies_harvested from staged.stg_dicom_instances"
        return sorted(con.execute(query).fetchall())

    wh.instance("1.1", "S1", "2012-04-02T12:00:00+02:00", 100)
    wh.instance("2.1", "S2", "2012-04-02T13:00:00+02:00", 100)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    deleted("k1.1", "2012-05-03T10:00:00+02:00", "h2")
    harvest(con, wh, "h2")  # the deletion only
    warehouse.build_models(con)
    assert deleted_dates() == [("1.1", "2012-05-03", 1), ("2.1", None, 1)]
    wh.instance("1.1", "S1", "2012-04-09T12:00:00+02:00", 100)  # another copy of 1.1, in another file, later
    wh.instances[-1].update(file_key="k1.1-again", record_key="again")
    deleted("k2.1", "2012-06-01T10:00:00+02:00", "h3")
    harvest(con, wh, "h3")
    warehouse.build_models(con)  # 1.1 rebuilt from both copies: the first, deleted in h2, still wins
    assert deleted_dates() == [("1.1", "2012-05-03", 2), ("2.1", "2012-06-01", 1)]
    assert_equals_a_full_rebuild(con)
    con.close()


def two_instances_sharing_a_hint(tmp_path, hint: str) -> tuple[RawWarehouse, object]:
    """Instances 1.1 (study S1, file k1.1) and 2.1 (S2, k2.1) harvested and built, then 2.1's raw `hint` column
    (file_key_hint, sop_hint: 32 bits, not unique) made 1.1's, as two keys may share one by chance."""
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-04-02T12:00:00+02:00", 100)
    wh.instance("2.1", "S2", "2012-04-02T13:00:00+02:00", 100)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    con.execute(f"""update raw.dicom_instances set {hint} = (
                        select {hint} from raw.dicom_instances where sop_instance_uid = '1.1')
                    where sop_instance_uid = '2.1'""")
    return wh, con


def test_a_file_sharing_a_deleted_files_hint_is_neither_deleted_nor_rebuilt(tmp_path):
    """A build finds the files an archive reported deleted by a hint of their key (raw's file_key_hint: 32 bits, not
    unique), then by the key itself: another file whose hint is the same (made so here) is no deletion."""
    wh, con = two_instances_sharing_a_hint(tmp_path, "file_key_hint")
    built = "select sop_instance_uid, build_seq, deleted_date::varchar from staged.stg_dicom_instances order by 1"
    before = con.execute(built).fetchall()
    report_deleted(con, "k1.1", "2012-05-03T10:00:00+02:00", "h2")
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    (one, one_seq, one_deleted), two = con.execute(built).fetchall()
    assert (one, one_deleted) == ("1.1", "2012-05-03") and one_seq > before[0][1]
    assert two == before[1]  # 2.1 left as it was: not rewritten, not deleted
    assert_equals_a_full_rebuild(con)
    con.close()


def test_an_instance_harvested_again_takes_its_earlier_copy_found_by_its_hint_then_its_hash(tmp_path):
    """A build finds the stored copies of an instance it rebuilds by the hint of its UID (raw's sop_hint: 32 bits,
    not unique), then by sop_hash: the copy harvested earlier is found (two copies counted, the earlier one's time
    kept); another instance whose hint is the same (made so here) is not rebuilt."""
    wh, con = two_instances_sharing_a_hint(tmp_path, "sop_hint")
    built = """select sop_instance_uid, build_seq, copies_harvested, received_at_from, received_date::varchar
               from staged.stg_dicom_instances order by 1"""
    before = con.execute(built).fetchall()
    wh.instance("1.1", "S1", "2012-04-09T12:00:00+02:00", 100)  # the same instance, from another file, a week later
    wh.instances[-1].update(record_key="second-copy", file_key="k1.1-again")
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    one, two = con.execute(built).fetchall()
    assert one[1] > before[0][1] and one[2:] == (2, "archive", "2012-04-02")  # both copies, the earlier one's day
    assert two == before[1]  # 2.1 left as it was: not rewritten
    assert_equals_a_full_rebuild(con)
    con.close()


def test_the_marts_recount_the_days_a_late_receipt_empties(tmp_path):
    """The marts recount only the days (months) a build touched, the days a row left included: a receipt logged late
    moves an instance the archive gave no reception time from March 1st to February 28th, and March 1st, then
    March, have nothing left to count."""
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-03-01T12:00:00+01:00", 100, ae="B_CT", study_date="2012-02-28", study_time="0800")
    wh.instances[-1]["received_at_estimated"] = True  # dated by the first harvest that saw it, until a receipt
    wh.instance("2.1", "S2", "2012-04-02T12:00:00+02:00", 50)  # another day and month, left alone
    harvest(con, wh, "h1")
    warehouse.build_models(con)

    def marts():
        return [
            con.execute(f"select establishment_id, {day}::varchar, {count} from marts.{mart} order by all").fetchall()
            for mart, day, count in (
                ("mart_archive_daily", "received_date", "studies_received, instances_received, bytes_received"),
                ("mart_ingestion_delay", "month", "delay_hours, studies"),
                ("mart_reception_hours", "month", "studies"),
            )
        ]

    assert marts() == [
        [(A, "2012-04-02", 1, 1, 50), (B, "2012-03-01", 1, 1, 100)],
        [(B, "2012-03-01", 52, 1)],  # S2 has no StudyDate: no delay
        [(A, "2012-04-01", 1), (B, "2012-03-01", 1)],
    ]
    wh.event("110104", "2012-02-28T10:00:00+01:00", "B_CT", PLATFORM, ["S1"])
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    assert marts() == [
        [(A, "2012-04-02", 1, 1, 50), (B, "2012-02-28", 1, 1, 100)],
        [(B, "2012-02-01", 2, 1)],
        [(A, "2012-04-01", 1), (B, "2012-02-01", 1)],
    ]
    assert con.execute("select count(*) from build.replaced").fetchall() == [(0,)]  # consumed by the build
    assert_equals_a_full_rebuild(con)
    con.close()


def test_transfers_follow_owners_and_answers_found_nights_later(tmp_path):
    wh, con = empty(tmp_path)
    wh.event("110104", "2012-04-02T10:00:00+02:00", PLATFORM, "B_CT", ["S1"])  # S1's owner not known yet
    wh.event("110104", "2012-04-02T08:00:00+02:00", "A_CT", PLATFORM, ["S2"])  # S2 received from A...
    wh.event("110104", "2012-04-02T11:00:00+02:00", PLATFORM, "B_CT", ["S2"])  # ...and sent to B: a request
    harvest(con, wh, "h1")
    warehouse.build_models(con)

    def transfers():
        return con.execute(
            "select study_instance_uid, requester_id, between_establishments, responded_at::varchar "
            "from staged.int_transfers_between_establishments order by 1"
        ).fetchall()

    assert transfers() == [("S1", None, False, None), ("S2", A, True, None)]
    # nights later: S1's images arrive from A (its owner: now a request), B answers it with a report; S2's images
    # come from B (the owner by its instances: B sent to itself, no longer a request)
    wh.instance("1.1", "S1", "2012-04-01T09:00:00+02:00", 100, ae="A_CT")
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    # (B answers S1 the day of its request, after it; an SR before the request answers nothing; a later transfer of
    # S3 taken in by the same build leaves S1's answer in place)
    wh.instance("1.2", "S1", "2012-04-02T15:00:00+02:00", 10, ae="B_CT", modality="SR")
    wh.instance("1.3", "S1", "2012-04-02T09:00:00+02:00", 10, ae="B_CT", modality="SR")  # before: no answer
    wh.instance("2.1", "S2", "2012-04-01T09:00:00+02:00", 100, ae="B_CT")
    wh.event("110104", "2012-04-05T11:00:00+02:00", PLATFORM, "B_CT", ["S3"])
    harvest(con, wh, "h3")
    counts = warehouse.build_models(con)
    assert counts["staged.int_transfers_between_establishments"] == 3
    assert transfers() == [
        ("S1", A, True, "2012-04-02 15:00:00+02"),
        ("S2", B, False, None),
        ("S3", None, False, None),
    ]
    assert_equals_a_full_rebuild(con)
    con.close()


def test_a_night_of_views_and_transfers_of_old_studies_rewrites_no_study(tmp_path):
    """Views and transfers cannot change an instance, a study or its owner: the models of studies take in none of
    them (each night names thousands of old studies this way), and a transfer still finds its study's owner."""
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-04-01T09:00:00+02:00", 100, ae="A_CT")
    wh.instance("2.1", "S2", "2012-04-01T10:00:00+02:00", 100)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    wh.event("110103", "2012-06-03T09:00:00+02:00", "A_CT", PLATFORM, ["S1", "S2"])  # viewed two months later
    wh.event("110104", "2012-06-03T10:00:00+02:00", PLATFORM, "B_CT", ["S1"])  # and sent to B: a request from A
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    rewritten = {
        model: con.execute(
            f"select count(*) from staged.{model} where build_seq = (select max(seq) from build.runs)"
        ).fetchall()[0][0]
        for model in ("stg_dicom_instances", "int_studies", "int_study_owners", "int_transfers_between_establishments")
    }
    assert rewritten == {
        "stg_dicom_instances": 0,
        "int_studies": 0,
        "int_study_owners": 0,
        "int_transfers_between_establishments": 1,
    }
    assert con.execute(
        "select study_instance_uid, requester_id, responder_id, between_establishments "
        "from staged.int_transfers_between_establishments"
    ).fetchall() == [("S1", A, B, True)]
    assert_equals_a_full_rebuild(con)
    con.close()


def test_a_receipt_rewrites_only_the_instances_it_may_date(tmp_path):
    """A receipt can date only a copy the archive gave no reception time: a night's receipts of old studies (hundreds
    a night in a region: re-sends, logs that arrive late) rewrite no instance whose copies carry the archive's time,
    nor its study; an instance with a copy of each kind is rebuilt from both (the archive's time still wins)."""
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-04-02T12:00:00+02:00", 100, ae="B_CT")
    wh.instance("2.1", "S2", "2012-04-02T13:00:00+02:00", 200, ae="B_CT")
    wh.instance("2.1", "S2", "2012-04-05T09:00:00+02:00", 201, ae="B_CT")  # the same instance from an archive...
    wh.instances[-1].update(source="pacs", file_key="pacs-2.1", received_at_estimated=True)  # ...that gave no time
    wh.instance("3.1", "S3", "2012-04-06T09:00:00+02:00", 300, ae="B_CT")
    wh.instances[-1].update(source="pacs", file_key="pacs-3.1", received_at_estimated=True)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    for study, at in (("S1", "02T11:00"), ("S2", "02T11:30"), ("S3", "03T08:00")):
        wh.event("110104", f"2012-04-{at}:00+02:00", "B_CT", PLATFORM, [study])
    harvest(con, wh, "h2")
    warehouse.build_models(con)

    def written(model: str, columns: str) -> list[tuple]:
        return con.execute(
            f"select {columns} from staged.{model} where build_seq = (select max(seq) from build.runs) order by all"
        ).fetchall()

    assert written("stg_dicom_instances", "sop_instance_uid, received_at::varchar, received_at_from") == [
        ("2.1", "2012-04-02 13:00:00+02", "archive"),
        ("3.1", "2012-04-03 08:00:00+02", "audit_receipt"),
    ]
    assert written("int_studies", "study_instance_uid") == [("S2",), ("S3",)]
    assert_equals_a_full_rebuild(con)
    con.close()


def test_a_harvest_still_running_at_a_build_is_taken_in_again_once_finished(tmp_path):
    wh, con = empty(tmp_path)
    wh.event("110104", "2012-03-05T12:00:00+01:00", PLATFORM, "B_CT", ["S1"])
    wh.instance("1.1", "S1", "2012-03-05T11:00:00+01:00", 100, ae="B_CT")
    harvest(con, wh, "h1")
    con.execute("update raw.harvest_runs set finished_at = null where harvest_id = 'h1'")  # still running
    warehouse.build_models(con)
    assert con.execute("select count(*) from build.state").fetchall() == [(0,)]
    # the harvest goes on (more records under the same harvest), finishes, and the next build reads it again whole
    wh.event("110104", "2012-03-06T12:00:00+01:00", PLATFORM, "B_CT", ["S2"])
    append(con, wh, "h1")
    con.execute("update raw.harvest_runs set finished_at = now() where harvest_id = 'h1'")
    counts = warehouse.build_models(con)
    assert counts["staged.stg_audit_events"] == 2  # each record once: the first is not added again
    assert con.execute("select count(*) from build.state").fetchall() == [(1,)]
    assert_equals_a_full_rebuild(con)
    con.close()


def test_an_instance_dated_by_a_receipt_then_by_the_archive_replaces_its_earlier_row(tmp_path):
    """An instance first dated by its study's receipt (no time from the archive), then given a later time by a copy
    from the archive, moves to a later day: its row of the earlier day is still found and replaced (the rows are
    stored in day order, and a build looks for the row it replaces whatever its day)."""
    wh, con = empty(tmp_path)
    wh.instance("4.1", "S4", "2012-04-10T09:00:00+02:00", 400, ae="B_CT")  # first seen by a harvest on the 10th
    wh.instances[-1].update(source="pacs", file_key="pacs-4.1", received_at_estimated=True)
    wh.event("110104", "2012-04-02T08:00:00+02:00", "B_CT", PLATFORM, ["S4"])  # received on the 2nd, the logs say
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    wh.instance("4.1", "S4", "2012-04-05T10:00:00+02:00", 400, ae="B_CT")  # a copy with the archive's time
    wh.instances[-1].update(record_key="archive-copy")
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    rows = con.execute("select received_date::varchar, received_at_from from staged.stg_dicom_instances").fetchall()
    assert rows == [("2012-04-05", "archive")]
    assert_equals_a_full_rebuild(con)
    con.close()


def move_instances_to_other_studies(con, wh: RawWarehouse, between=lambda: None) -> None:
    """Two builds (`between` called after the first): S5 (one instance), S7 (two) and S9 (one, its receipt logged)
    harvested from copies without the archive's time, then the archive's own copies (they win) file S5's instance
    under S6, one of S7's under S8 and S9's under S10, as after a merge of studies in the archive."""
    for sop, study in (("5.1", "S5"), ("7.1", "S7"), ("7.2", "S7"), ("9.1", "S9")):
        wh.instance(sop, study, "2012-04-10T09:00:00+02:00", 500, ae="B_CT")
        wh.instances[-1].update(source="pacs", file_key=f"pacs-{sop}", received_at_estimated=True)
    wh.event("110104", "2012-04-10T08:00:00+02:00", "B_CT", PLATFORM, ["S9"])
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    between()
    for sop, study in (("5.1", "S6"), ("7.2", "S8"), ("9.1", "S10")):
        wh.instance(sop, study, "2012-04-05T10:00:00+02:00", 500, ae="B_CT")
        wh.instances[-1].update(record_key=f"archive-copy-{sop}")
    harvest(con, wh, "h2")
    warehouse.build_models(con)


def test_an_instance_filed_under_another_study_leaves_its_old_study(tmp_path):
    """The studies an instance leaves are rebuilt as well as the one it joins: a study left with no instance has no
    row any more (it was never archived as such), one left with fewer counts those, and one the logs saw received
    keeps its owner from the receipt."""
    wh, con = empty(tmp_path)
    move_instances_to_other_studies(con, wh)
    studies = "select study_instance_uid, instances from staged.int_studies order by 1"
    assert con.execute(studies).fetchall() == [("S10", 1), ("S6", 1), ("S7", 1), ("S8", 1)]
    owners = "select study_instance_uid, owner_from from staged.int_study_owners order by 1"
    assert con.execute(owners).fetchall() == [
        ("S10", "instances"),
        ("S6", "instances"),
        ("S7", "instances"),
        ("S8", "instances"),
        ("S9", "receipt_event"),
    ]
    assert con.execute("select sum(studies_received) from marts.mart_archive_daily").fetchall() == [(4,)]
    assert_equals_a_full_rebuild(con)
    con.close()


def test_a_study_takes_its_earlier_instances_from_their_days_even_after_a_failed_build(tmp_path, monkeypatch):
    """int_studies rebuilds a study from the instances written since the last build that succeeded (the table's
    tail) and, for a study it holds, from every day between its first and last Paris reception: S2's instances of
    January 20, January 27 and February 3 (00:30 in Paris, still February 2 in UTC) are all found when a fourth comes
    in March. A build that stopped after int_studies (its rows in the tail, its studies still waiting) is not the
    last that succeeded; the next build takes its harvest in again."""
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
    wh.instance("2.1", "S2", "2012-01-20T10:00:00+01:00", 200)
    wh.instance("2.2", "S2", "2012-01-27T10:00:00+01:00", 250)
    wh.instance("2.3", "S2", "2012-02-03T00:30:00+01:00", 300)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    wh.instance("3.1", "S3", "2012-03-05T11:00:00+01:00", 500)
    harvest(con, wh, "h2")
    invoke = dbt_build.invoke_dbt
    stopped = ["--select", "stg_dicom_instances", "stg_audit_events", "stg_audit_studies", "int_studies"]

    def stopped_after_int_studies(args, **kwargs):
        invoke([*args, *stopped], **kwargs)
        raise dbt_build.DbtBuildFailed("the build stopped after int_studies")

    monkeypatch.setattr(dbt_build, "invoke_dbt", stopped_after_int_studies)
    with pytest.raises(dbt_build.DbtBuildFailed):
        warehouse.build_models(con)
    monkeypatch.setattr(dbt_build, "invoke_dbt", invoke)
    wh.instance("2.4", "S2", "2012-03-05T10:00:00+01:00", 400)  # a late instance of a study stored on three days
    wh.instance("1.2", "S1", "2012-03-06T10:00:00+01:00", 600)
    harvest(con, wh, "h3")
    warehouse.build_models(con)
    studies = "select study_instance_uid, instances, bytes from staged.int_studies order by 1"
    assert con.execute(studies).fetchall() == [("S1", 2, 700), ("S2", 4, 1150), ("S3", 1, 500)]
    finished = "select seq, finished_at is not null from build.runs order by seq"
    assert con.execute(finished).fetchall() == [(1, True), (2, False), (3, True)]
    assert_equals_a_full_rebuild(con)
    con.close()


def test_an_incremental_build_tests_the_rows_it_wrote_not_the_history(tmp_path):
    wh, con = empty(tmp_path)
    wh.event("110104", "2012-03-05T12:00:00+01:00", PLATFORM, "B_CT", ["S1"])
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    # an old row doubled (by hand): the nightly build does not test the history again...
    con.execute("insert into staged.stg_audit_events select * from staged.stg_audit_events")
    wh.event("110104", "2012-03-06T12:00:00+01:00", PLATFORM, "B_CT", ["S2"])
    harvest(con, wh, "h2")
    assert warehouse.build_models(con)["staged.stg_audit_events"] == 3
    seqs = con.execute("select build_seq, count(*) from staged.stg_audit_events group by 1 order by 1").fetchall()
    assert seqs == [(1, 2), (2, 1)]
    # ...but it tests every row it wrote: a harvest that stored a record twice is caught
    wh.event("110104", "2012-03-07T12:00:00+01:00", PLATFORM, "B_CT", ["S3"])
    harvest(con, wh, "h3")
    con.execute("insert into raw.audit_events select * from raw.audit_events where harvest_id = 'h3'")
    with pytest.raises(dbt_build.DbtBuildFailed, match="unique_stg_audit_events_record_key"):
        warehouse.build_models(con)
    con.close()


def test_a_change_of_registry_rebuilds_everything(tmp_path):
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100, ae="C_CT")  # nobody claims C_CT yet
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    assert con.execute("select establishment_id from staged.stg_dicom_instances").fetchall() == [("UNATTRIBUTED",)]
    csv = tmp_path / "contracts" / "establishments.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("B_CT,", "B_CT;C_CT,"), encoding="utf-8")
    warehouse.load_reference(con, load_registry(tmp_path / "contracts"), [PLATFORM])
    warehouse.build_models(con)  # no new harvest, but the registry changed: every attribution is redone
    assert con.execute("select establishment_id from staged.stg_dicom_instances").fetchall() == [(B,)]
    con.close()


def test_a_new_version_of_the_models_rebuilds_everything_once(tmp_path, monkeypatch):
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    warehouse.build_models(con)  # same code, nothing new: incremental
    # a model's SQL changes (a new version installed): the digest follows the files...
    project = tmp_path / "project"
    shutil.copytree(dbt_build.PROJECT_DIR / "models", project / "models")
    shutil.copytree(dbt_build.PROJECT_DIR / "macros", project / "macros")
    monkeypatch.setattr(dbt_build, "PROJECT_DIR", project)
    before = dbt_build.models_fingerprint()
    model = project / "models" / "intermediate" / "int_studies.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- a new rule\n", encoding="utf-8")
    changed = dbt_build.models_fingerprint()
    monkeypatch.undo()
    assert before == dbt_build.models_fingerprint() != changed
    # ...and the first build under the new digest is a full one, the next incremental again
    monkeypatch.setattr(dbt_build, "models_fingerprint", lambda: changed)
    warehouse.build_models(con)
    warehouse.build_models(con)
    runs = con.execute("select seq, full_refresh from build.runs order by seq").fetchall()
    assert runs == [(1, True), (2, False), (3, True), (4, False)]
    assert con.execute("select distinct build_seq from staged.stg_dicom_instances").fetchall() == [(3,)]
    con.close()


@pytest.mark.parametrize(
    ("added", "refusal"),
    [
        # the publish finds a keyed model's replaced rows through build.replacements, a partitioned one's by its
        # column: a model configured both ways would be published one way and replaced the other
        ("replace_where='first_received_date is null',", "a unique key or replace_where, not both"),
        # a key that vanishes has no new row to tell the days its old row may be stored on
        ("replaced_storage_days='[first_received_date]',", "needs a unique key, a storage_day and no vanishing"),
        # a model promising never to give a stored key replaces no row: no vanishing key, no rewritten study to log
        ("new_keys_only=true,", "new_keys_only takes a unique key and nothing to replace"),
    ],
    ids=["unique key and replace_where", "replaced_storage_days and vanishing_keys", "new keys only and vanishing"],
)
def test_a_model_configured_two_incompatible_ways_is_refused(tmp_path, monkeypatch, added, refusal):
    # its incremental build (the delete+insert macro, as dbt renders it) stops, naming the model
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    project = tmp_path / "project"
    shutil.copytree(dbt_build.PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", ".*"))
    model = project / "models" / "intermediate" / "int_studies.sql"
    keyed = "unique_key='study_hash',"
    assert keyed in model.read_text(encoding="utf-8")
    model.write_text(
        model.read_text(encoding="utf-8").replace(keyed, f"{keyed} {added}"),
        encoding="utf-8",
    )
    fingerprint = dbt_build.models_fingerprint()  # the same version: the next build is incremental, by the macro
    monkeypatch.setattr(dbt_build, "PROJECT_DIR", project)
    monkeypatch.setattr(dbt_build, "models_fingerprint", lambda: fingerprint)
    wh.instance("2.1", "S2", "2012-01-11T10:00:00+01:00", 200)
    harvest(con, wh, "h2")
    with pytest.raises(dbt_build.DbtBuildFailed, match=f"int_studies: .*{refusal}"):
        warehouse.build_models(con)
    con.close()


def no_key_twice(con) -> None:
    for model, key in (("stg_dicom_instances", "sop_hash"), ("int_transfers_between_establishments", "record_hash")):
        total, keys = con.execute(f"select count(*), count(distinct {key}) from staged.{model}").fetchall()[0]
        assert total == keys, model


def day_bounded(wh: RawWarehouse, model: str) -> bool:
    """Whether the last build looked for the rows `model` replaced on their days only (in the SQL dbt ran)."""
    folder = "staging" if model.startswith("stg_") else "intermediate"
    run = dbt_build.work_dir(wh.path) / "target" / "run" / "sansfilm" / "models" / folder / f"{model}.sql"
    return "in (select unnest(" in run.read_text(encoding="utf-8")


def test_a_night_naming_more_days_than_duckdb_checks_one_by_one_replaces_every_row(tmp_path):
    # a build looks for the rows it replaces on the days they may be stored on (more than 50 days: DuckDB takes the
    # range from the first to the last), and finds every one: an instance whose copies are far apart names every day
    # between them (its row moves to its earliest copy's day), a transfer its own day
    wh, con = empty(tmp_path)
    for n in range(60):  # an instance and a transfer a day, January to March 2012
        day = f"2012-{1 + n // 28:02d}-{1 + n % 28:02d}"
        wh.instance(f"1.{n}", f"S{n}", f"{day}T10:00:00+01:00", 100)
        wh.event("110104", f"{day}T11:00:00+01:00", PLATFORM, "B_CT", [f"S{n}"])
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    # a night a year later: every instance sent again (its earliest copy still wins: the row stays on its day), one
    # with a copy received long before the first known (its row moves to that day), and a receipt that makes B the
    # owner of the studies A sent: every transfer's row is rewritten on its own day
    for n in range(60):
        wh.instance(f"1.{n}", f"S{n}", "2013-01-15T10:00:00+01:00", 101)
    wh.instance("1.59", "S59", "2011-06-01T10:00:00+02:00", 102)
    wh.event("110104", "2011-05-01T09:00:00+02:00", "B_CT", PLATFORM, [f"S{n}" for n in range(60)])
    harvest(con, wh, "h2")
    counts = warehouse.build_models(con)
    assert counts["staged.stg_dicom_instances"] == 60 and counts["staged.int_transfers_between_establishments"] == 60
    assert day_bounded(wh, "stg_dicom_instances") and day_bounded(wh, "int_transfers_between_establishments")
    no_key_twice(con)
    moved = "select received_date::varchar, copies_harvested from staged.stg_dicom_instances where sop_instance_uid = ?"
    assert con.execute(moved, ["1.59"]).fetchall() == [("2011-06-01", 3)]
    assert_equals_a_full_rebuild(con)
    con.close()


def test_a_new_row_that_names_no_day_is_looked_for_on_every_day(tmp_path, monkeypatch):
    # a model whose new rows give an empty list of days (or none) cannot say where their earlier rows are: the build
    # looks on every day, as without the setting (here the instances' days, emptied in a copy of the project)
    project = tmp_path / "project"
    shutil.copytree(dbt_build.PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", ".*"))
    model = project / "models" / "staging" / "stg_dicom_instances.sql"
    days = '"generate_series(received_date, last_copy_received_date, interval 1 day)::date[]"'
    assert days in model.read_text(encoding="utf-8")
    model.write_text(model.read_text(encoding="utf-8").replace(days, '"[]::date[]"'), encoding="utf-8")
    monkeypatch.setattr(dbt_build, "PROJECT_DIR", project)
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    wh.instance("1.1", "S1", "2012-01-09T10:00:00+01:00", 101)  # an earlier copy: the row moves a day back
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    assert not day_bounded(wh, "stg_dicom_instances")
    no_key_twice(con)
    assert_equals_a_full_rebuild(con)
    con.close()


def test_a_missing_model_table_rebuilds_everything(tmp_path):
    # the models downstream of a table rebuilt whole would not know which studies it rewrote: all are rebuilt
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    con.execute("drop table staged.stg_dicom_instances")
    wh.instance("2.1", "S2", "2012-01-11T10:00:00+01:00", 200)
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    runs = [f for (f,) in con.execute("select full_refresh from build.runs order by seq").fetchall()]
    assert runs == [True, True]
    assert con.execute("select study_instance_uid from staged.int_studies order by 1").fetchall() == [("S1",), ("S2",)]
    assert_equals_a_full_rebuild(con)
    con.close()


def test_a_night_rebuilds_downstream_the_studies_each_model_rewrote_and_forgets_them(tmp_path):
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
    wh.instance("2.1", "S2", "2012-01-11T10:00:00+01:00", 100)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    wh.instance("2.2", "S2", "2012-01-12T10:00:00+01:00", 100)  # a late instance of S2 only
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    # the models downstream took S2 from build.rewritten_studies, and S2 only: S1 keeps the first build's rows
    for model in ("int_studies", "int_study_owners"):
        rows = con.execute(f"select study_instance_uid, build_seq from staged.{model} order by 1").fetchall()
        assert rows == [("S1", 1), ("S2", 2)], model
    assert con.execute("select count(*) from build.rewritten_studies").fetchall() == [(0,)]
    assert_equals_a_full_rebuild(con)
    con.close()


def numbers(con) -> dict[str, int]:
    """Each study's number (stg_study_numbers), by UID."""
    rows = con.execute(f"select study_hash, study_no from staged.{dbt_build.STUDY_NUMBERS}").fetchall()
    by_hash = dict(rows)
    named = con.execute(
        "select study_instance_uid, md5_number(study_instance_uid) from raw.dicom_instances union"
        " select study_instance_uid, md5_number(study_instance_uid) from raw.audit_events"
        " where study_instance_uid is not null"
    )
    return {uid: by_hash.get(h) for uid, h in named.fetchall()}


def test_studies_are_numbered_once_in_the_order_they_appear_and_keep_their_numbers(tmp_path):
    def first_night(wh):
        wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
        wh.instance("2.1", "S2", "2012-03-02T09:00:00+01:00", 300, ae="B_CT")

    def second_night(wh):  # late data: a study of January, known only from a view; one of March, received
        wh.event("110103", "2012-01-20T12:00:00+01:00", "A_VIEWER", PLATFORM, ["S3"])
        wh.instance("4.1", "S4", "2012-03-03T09:00:00+01:00", 50)
        wh.instance("1.2", "S1", "2012-01-11T10:00:00+01:00", 100)  # a study numbered already

    wh, con = empty(tmp_path / "nightly")
    first_night(wh)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    assert numbers(con) == {"S1": 1, "S2": 2}
    second_night(wh)
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    # the night's new studies follow every stored one, in the order they appeared (S3 before S4)
    assert numbers(con) == {"S1": 1, "S2": 2, "S3": 3, "S4": 4}
    assert_equals_a_full_rebuild(con)  # which keeps the numbers given
    assert numbers(con) == {"S1": 1, "S2": 2, "S3": 3, "S4": 4}

    # a selection of models rebuilt numbers the studies of the harvests no build has taken in yet first
    wh.instance("5.1", "S5", "2012-04-01T09:00:00+02:00", 10)
    harvest(con, wh, "h3")
    warehouse.build_models(con, [("staged", "stg_dicom_instances"), ("staged", "int_studies")])
    assert numbers(con)["S5"] == 5
    assert set(misnumbered(con).values()) == {0}, misnumbered(con)
    # a record stored by hand, under no harvest run (raw corrected, then `sansfilm rebuild`): a full rebuild numbers it
    wh.instance("6.1", "S6", "2012-04-02T09:00:00+02:00", 10)
    append(con, wh, "by-hand")
    warehouse.build_models(con, full_refresh=True)
    assert numbers(con)["S6"] == 6
    assert set(misnumbered(con).values()) == {0}, misnumbered(con)
    con.close()

    # a warehouse built once from the same records numbers them by first appearance over all of them
    wh, con = empty(tmp_path / "once")
    first_night(wh)
    second_night(wh)
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    assert numbers(con) == {"S1": 1, "S3": 2, "S2": 3, "S4": 4}
    assert set(misnumbered(con).values()) == {0}, misnumbered(con)
    con.close()


def test_selections_number_the_studies_from_a_fresh_warehouse_and_refuse_a_lost_numbering(tmp_path):
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
    harvest(con, wh, "h1")
    selection = [("staged", m) for m in ("stg_audit_events", "stg_audit_studies", "stg_dicom_instances", "int_studies")]
    warehouse.build_models(con, selection)  # no whole build yet
    wh.instance("2.1", "S2", "2012-01-11T10:00:00+01:00", 100)
    harvest(con, wh, "h2")
    warehouse.build_models(con, selection)
    assert numbers(con) == {"S1": 1, "S2": 2}
    assert set(misnumbered(con).values()) == {0}, misnumbered(con)
    # numbered anew, the studies would not match the numbers the models' rows hold: refused, in one line
    con.execute(f"drop table staged.{dbt_build.STUDY_NUMBERS}")
    with pytest.raises(dbt_build.DbtBuildFailed, match=r"stg_study_numbers is missing .* run `sansfilm rebuild`$"):
        warehouse.build_models(con, selection)
    warehouse.build_models(con)  # a whole build with a model missing rebuilds everything, numbers included
    assert numbers(con) == {"S1": 1, "S2": 2}
    assert_equals_a_full_rebuild(con)
    con.close()


MONTHS = [Month(2012, m) for m in range(1, 5)]


def usage(con, month: Month) -> list[tuple]:
    return con.execute("select * from marts.fct_usage_daily where month = ? order by all", [str(month)]).fetchall()


def region(tmp_path):
    """Two studies stored from January, metered January to April (each month opening with the previous snapshot)."""
    wh, con = empty(tmp_path)
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 1000)
    wh.event("110104", "2012-01-10T10:00:00+01:00", "A_CT", PLATFORM, ["S1"])  # its receipt, logged
    wh.instance("2.1", "S2", "2012-01-20T10:00:00+01:00", 500, ae="B_CT")
    wh.instance("2.2", "S2", "2012-02-03T10:00:00+01:00", 700, ae="B_CT")
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    for month in MONTHS:
        metering.meter_month(con, month)
    return wh, con


def test_the_carried_forward_snapshot_equals_the_full_computation(tmp_path):
    _, con = region(tmp_path)
    carried = {m: usage(con, m) for m in MONTHS}
    snapshots = con.execute(
        "select month, establishment_id, stored_bytes from marts.fct_storage_month_end order by all"
    )
    assert (str(MONTHS[1]), B, 1200) in snapshots.fetchall()
    con.execute("delete from marts.fct_storage_month_end")
    for month in reversed(MONTHS):  # each month now opens with the sum of all of history
        metering.meter_month(con, month)
        con.execute("delete from marts.fct_storage_month_end")
        assert usage(con, month) == carried[month]
    con.close()


def test_a_deletion_in_march_changes_storage_from_march_on(tmp_path):
    wh, con = region(tmp_path)
    before = {m: usage(con, m) for m in MONTHS}
    wh.event("110105", "2012-03-15T12:00:00+01:00", "A_CT", PLATFORM, ["S1"])  # logged late, harvested in April
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    months_kept = con.execute("select distinct month from marts.fct_storage_month_end order by 1").fetchall()
    # the build dropped the snapshots the deletion made wrong, and only those: a deletion changes no instance, so S1
    # (received in January) is not rebuilt, and its first month is not where its storage changes
    assert months_kept == [("2012-01",), ("2012-02",)]
    # so the nightly metering (operations.meter_and_draft) meters March and April again, not January or February
    assert [metering.is_final(con, m) for m in MONTHS] == [True, True, False, False]
    for month in MONTHS:
        metering.meter_month(con, month)
    after = {m: usage(con, m) for m in MONTHS}
    assert after[MONTHS[0]] == before[MONTHS[0]] and after[MONTHS[1]] == before[MONTHS[1]]
    assert after[MONTHS[2]] != before[MONTHS[2]] and after[MONTHS[3]] != before[MONTHS[3]]
    stored_april = con.execute(
        "select max(stored_bytes) from marts.fct_usage_daily where month = '2012-04' and establishment_id <> ?", [B]
    ).fetchall()
    assert stored_april in ([(None,)], [(0,)])  # S1 (A's only study) is gone by April
    con.close()


def test_an_instance_deleted_alone_in_march_changes_storage_from_march_on(tmp_path):
    wh, con = region(tmp_path)
    before = {m: usage(con, m) for m in MONTHS}
    # the archive reports B's February instance of S2 deleted in March, harvested in April: its study stays
    report_deleted(con, "k2.2", "2012-03-20T09:00:00+01:00", "h2")
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    carried, from_history = meter_carried_and_from_history(con)
    assert carried == from_history
    assert [carried[m] == before[m] for m in MONTHS] == [True, True, False, False]
    stored = con.execute(
        "select usage_date::varchar, stored_bytes from marts.fct_usage_daily where establishment_id = ? "
        "and usage_date in ('2012-03-19', '2012-03-20', '2012-04-30') order by 1",
        [B],
    ).fetchall()
    assert stored == [("2012-03-19", 1200), ("2012-03-20", 500), ("2012-04-30", 500)]
    con.close()


def test_studies_deleted_in_march_are_found_from_the_oldest_first_receipt(tmp_path):
    """A month opening with a snapshot looks for its deleted studies' instances from the first receipt of the oldest
    of them on: S1 (received January 10) and S2 (January 20) deleted in March both leave the storage."""
    wh, con = region(tmp_path)
    for study in ("S2", "S1"):
        wh.event("110105", "2012-03-15T12:00:00+01:00", "A_CT", PLATFORM, [study])
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    carried, from_history = meter_carried_and_from_history(con)
    assert carried == from_history
    stored = con.execute("select sum(stored_bytes) from marts.fct_usage_daily where usage_date = '2012-03-15'")
    assert stored.fetchall() in ([(None,)], [(0,)])  # nothing left stored
    con.close()


def snapshot_months(con) -> list[str]:
    return [m for (m,) in con.execute("select distinct month from marts.fct_storage_month_end order by 1").fetchall()]


def meter_carried_and_from_history(con) -> tuple[dict, dict]:
    """Every month metered in order from the snapshots the build kept, then each again from all of history."""
    carried = {}
    for month in MONTHS:
        metering.meter_month(con, month)
        carried[month] = usage(con, month)
    from_history = {}
    for month in MONTHS:
        con.execute("delete from marts.fct_storage_month_end")
        metering.meter_month(con, month)
        from_history[month] = usage(con, month)
    return carried, from_history


def test_a_late_instance_of_an_old_study_keeps_the_snapshots_before_its_month(tmp_path):
    wh, con = region(tmp_path)
    before = {m: usage(con, m) for m in MONTHS}
    # a new instance of S1 (January) received in April, with its receipt logged: every instance of S1 is read again,
    # those of January unchanged
    wh.instance("1.2", "S1", "2012-04-05T10:00:00+02:00", 300)
    wh.event("110104", "2012-04-05T10:00:00+02:00", "A_CT", PLATFORM, ["S1"])
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    assert snapshot_months(con) == ["2012-01", "2012-02", "2012-03"]
    carried, from_history = meter_carried_and_from_history(con)
    assert carried == from_history
    assert [carried[m] == before[m] for m in MONTHS] == [True, True, True, False]
    con.close()


def test_a_study_whose_owner_changes_drops_the_snapshots_from_its_first_receipt(tmp_path):
    wh, con = region(tmp_path)
    # S3: a report (SR) sent by B in February, then in April the images, sent by A: the study becomes A's (a report
    # never decides the owner while the study has another instance), and the report's bytes move from B to A from
    # February on
    wh.instance("3.1", "S3", "2012-02-10T10:00:00+01:00", 300, ae="B_CT", modality="SR")
    harvest(con, wh, "h2")
    warehouse.build_models(con)
    assert snapshot_months(con) == ["2012-01"]  # the report's own day dropped February on
    for month in MONTHS:
        metering.meter_month(con, month)
    wh.instance("3.2", "S3", "2012-04-02T10:00:00+02:00", 800)
    harvest(con, wh, "h3")
    warehouse.build_models(con)
    assert snapshot_months(con) == ["2012-01"]  # not from April, the images' month: from the report's
    carried, from_history = meter_carried_and_from_history(con)
    assert carried == from_history
    stored = con.execute(
        "select establishment_id, stored_bytes from marts.fct_usage_daily where usage_date = '2012-03-31' order by 1"
    ).fetchall()
    assert stored == [(A, 1000 + 300), (B, 1200)]
    con.close()


def test_a_fresh_warehouse_takes_the_saved_parse_of_an_earlier_build(tmp_path, monkeypatch):
    """dbt parses the project in full for a warehouse's first build; the next fresh warehouse of the same stem (each
    test's, each new configuration's) starts from the saved parse, and builds the same."""
    monkeypatch.setattr(dbt_build, "PARSE_CACHE", tmp_path / "parse")
    built = []
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        wh, con = empty(tmp_path / run)
        wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
        harvest(con, wh, "h1")
        warehouse.build_models(con)
        built.append({m: rows for m, rows in contents(con).items() if m != "marts.mart_source_freshness"})  # now()
        log = (wh.path.parent / f".dbt-{wh.path.stem}" / "logs" / "dbt.log").read_text(encoding="utf-8")
        con.close()
        if run == "first":
            assert "Starting full parse" in log
            assert (tmp_path / "parse" / f"{wh.path.stem}.msgpack").is_file()
    assert "Partial parsing enabled" in log and "Starting full parse" not in log
    assert built[0] == built[1]


def test_a_model_profiled_outside_dbt_runs_the_sql_its_last_build_compiled(tiny_built, tmp_path):
    """bench/metering.py --profile runs int_study_owners' SQL outside dbt: the SQL the warehouse's last build
    compiled (here a first, full build: every study), not the model's file, whose config and macros DuckDB cannot
    read; before any build, one line saying to build first."""
    import duckdb

    from analytics.errors import SansfilmError

    path = tiny_built.warehouse.path
    sql = dbt_build.compiled_sql("int_study_owners", path)
    assert "{{" not in sql and "{%" not in sql
    with duckdb.connect(str(path), read_only=True) as con:
        (built,) = con.execute("select count(*) from staged.int_study_owners").fetchall()[0]
        assert built > 0 and con.execute(f"select count(*) from ({sql})").fetchall() == [(built,)]
    with pytest.raises(SansfilmError, match="build that warehouse first"):
        dbt_build.compiled_sql("int_study_owners", tmp_path / "never_built.duckdb")
    with pytest.raises(ValueError, match="int_study_owners needs dbt to compile"):
        dbt_build.plain_sql("int_study_owners")
    assert "{{" not in dbt_build.plain_sql("dim_establishments")
