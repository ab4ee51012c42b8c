"""raw_batches.store_new_records: a batch adds the records not stored yet, each once, on both of its paths (the audit
records found by their time range, the instances by their SOP hints)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics import raw_batches, warehouse

T0 = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)


@pytest.fixture
def con(tmp_path):
    con = warehouse.connect(tmp_path / "warehouse.duckdb")
    warehouse.ensure_schema(con)
    yield con
    con.close()


def audit_rows(con, table: str, rows: list[tuple[str, datetime, str]]) -> None:
    """(record_key, event_time, file_key) rows into `table` (raw.audit_events or a batch shaped like it)."""
    con.executemany(
        f"""insert into {table} (record_key, source, message_sha256, event_id, event_time, file_key, line, harvest_id)
            values (?, 'audit', ?, '110104', ?, ?, 1, 'h')""",
        [(key, key, at, file_key) for key, at, file_key in rows],
    )


def stored(con, table: str) -> list[tuple]:
    return con.execute(f"select record_key, file_key from raw.{table} order by all").fetchall()


def test_audit_records_stored_at_the_batch_s_bounds_are_not_stored_again(con) -> None:
    stored_times = [T0 + timedelta(minutes=m) for m in range(0, 50, 10)]  # 22:30 .. 23:10
    audit_rows(con, "raw.audit_events", [(f"old-{i}", at, "log-1") for i, at in enumerate(stored_times)])
    con.execute("create temp table batch as select * from raw.audit_events limit 0")
    audit_rows(
        con,
        "batch",
        [
            ("old-1", stored_times[1], "log-2"),  # the batch's earliest time: a stored record at the lower bound
            ("old-4", stored_times[4], "log-2"),  # its latest: a stored record at the upper bound
            ("new-a", stored_times[2] + timedelta(seconds=1), "log-2"),  # between stored records
            ("new-b", stored_times[3], "log-2"),  # at a stored record's time, another record
            ("new-b", stored_times[3], "log-3"),  # the same record in a second file of the batch: stored once
        ],
    )
    added = raw_batches.store_new_records(con, "audit_events", "(select * from batch)", "*")
    assert added == 2
    assert stored(con, "audit_events") == [
        ("new-a", "log-2"),
        ("new-b", "log-2"),  # the first of its files by file key
        *[(f"old-{i}", "log-1") for i in range(5)],
    ]
    # a re-run of the same batch adds nothing
    assert raw_batches.store_new_records(con, "audit_events", "(select * from batch)", "*") == 0


def test_a_stored_record_inside_the_batch_s_range_is_found(con) -> None:
    audit_rows(
        con, "raw.audit_events", [("mid", T0 + timedelta(days=2), "log-1"), ("after", T0 + timedelta(days=5), "log-1")]
    )
    con.execute("create temp table batch as select * from raw.audit_events limit 0")
    audit_rows(
        con,
        "batch",
        [("early", T0, "log-0"), ("mid", T0 + timedelta(days=2), "log-0"), ("late", T0 + timedelta(days=3), "log-0")],
    )
    assert raw_batches.store_new_records(con, "audit_events", "(select * from batch)", "*") == 2
    assert stored(con, "audit_events") == [("after", "log-1"), ("early", "log-0"), ("late", "log-0"), ("mid", "log-1")]


@pytest.mark.parametrize("hour", [0, 1], ids=["summer-time 02:30", "winter-time 02:30"])
def test_a_bound_in_the_hour_paris_repeats_in_october_keeps_its_instant(con, hour: int) -> None:
    """The bounds go through Python with the session's time zone, Europe/Paris: 00:30 and 01:30 UTC on 25 October
    2026 are both 02:30 there, and a bound read as the other one would leave a stored record out of the range."""
    first, second = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    audit_rows(con, "raw.audit_events", [("first", first, "log-1"), ("second", second, "log-1")])
    con.execute("create temp table batch as select * from raw.audit_events limit 0")
    at = first if hour == 0 else second
    audit_rows(con, "batch", [("first" if hour == 0 else "second", at, "log-2")])
    assert raw_batches.store_new_records(con, "audit_events", "(select * from batch)", "*") == 0
    assert stored(con, "audit_events") == [("first", "log-1"), ("second", "log-1")]


def instance_rows(con, table: str, rows: list[tuple[str, str, str]]) -> None:
    """(record_key, sop_instance_uid, file_key) rows into `table`, with the derived columns of raw.dicom_instances."""
    con.executemany(
        f"""insert into {table} by name
            select *{raw_batches.derived_columns("dicom_instances")} from (
                select ? as record_key, 'files' as source, '1.2.3' as study_instance_uid,
                       '1.2.3.1' as series_instance_uid, ? as sop_instance_uid, 1000 as size_bytes,
                       ?::timestamptz as received_at, ? as file_key, 'h' as harvest_id)""",
        [(key, sop, T0, file_key) for key, sop, file_key in rows],
    )


def test_instances_are_compared_with_the_stored_records_of_their_sop_hints(con) -> None:
    instance_rows(con, "raw.dicom_instances", [("copy-1", "1.2.3.1.1", "a.dcm"), ("other", "1.2.3.1.2", "b.dcm")])
    con.execute("create temp table batch as select * from raw.dicom_instances limit 0")
    instance_rows(
        con,
        "batch",
        [
            ("copy-1", "1.2.3.1.1", "c.dcm"),  # stored already (same record)
            ("copy-2", "1.2.3.1.1", "d.dcm"),  # the same SOP Instance UID (same hint), another header: a record
            ("new", "1.2.3.1.3", "f.dcm"),
            ("new", "1.2.3.1.3", "e.dcm"),  # the same record twice in the batch: the first file key kept
        ],
    )
    assert raw_batches.store_new_records(con, "dicom_instances", "(select * from batch)", "*") == 2
    assert stored(con, "dicom_instances") == [
        ("copy-1", "a.dcm"),
        ("copy-2", "d.dcm"),
        ("new", "e.dcm"),
        ("other", "b.dcm"),
    ]
    # a re-run of the same batch adds nothing
    assert raw_batches.store_new_records(con, "dicom_instances", "(select * from batch)", "*") == 0
