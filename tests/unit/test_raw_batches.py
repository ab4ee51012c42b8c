"""raw_batches.store_new_records: a batch adds the records not stored yet, each once, on both of its paths (the audit
records found by their time range, the instances by their SOP hints)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from analytics import raw_batches, warehouse
from tests.warehouse_factory import store

T0 = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)


@pytest.fixture
def con(tmp_path):
    con = warehouse.connect(tmp_path / "warehouse.duckdb")
    warehouse.ensure_schema(con)
    yield con
    con.close()


def audit_frame(rows: list[tuple[str, datetime, str]]) -> pl.DataFrame:
    """Audit records from (record_key, event_time, file_key), as the harvest reads them."""
    keys, times, files = zip(*rows, strict=True)
    return pl.DataFrame(
        {
            "record_key": keys,
            "source": "audit",
            "message_sha256": keys,
            "event_id": "110104",
            "event_time": times,
            "file_key": files,
            "line": 1,
            "harvest_id": "h",
        }
    )


def add(con, table: str, batch: pl.DataFrame) -> int:
    """store_new_records called as the harvest calls it (analytics.raw_batches.BatchWriter): a frame and its columns."""
    con.register("batch", batch)
    try:
        return raw_batches.store_new_records(
            con, table, "batch", ", ".join(batch.columns) + raw_batches.derived_columns(table)
        )
    finally:
        con.unregister("batch")


def stored(con, table: str) -> list[tuple]:
    return con.execute(f"select record_key, file_key from raw.{table} order by all").fetchall()


def test_audit_records_stored_at_the_batch_s_bounds_are_not_stored_again(con) -> None:
    stored_times = [T0 + timedelta(minutes=m) for m in range(0, 50, 10)]  # 22:30 .. 23:10
    store(con, "audit_events", audit_frame([(f"old-{i}", at, "log-1") for i, at in enumerate(stored_times)]))
    batch = audit_frame(
        [
            ("old-1", stored_times[1], "log-2"),  # the batch's earliest time: a stored record at the lower bound
            ("old-4", stored_times[4], "log-2"),  # its latest: a stored record at the upper bound
            ("new-a", stored_times[2] + timedelta(seconds=1), "log-2"),  # between stored records
            ("new-b", stored_times[3], "log-2"),  # at a stored record's time, another record
            ("new-b", stored_times[3], "log-3"),  # the same record in a second file of the batch: stored once
        ]
    )
    assert add(con, "audit_events", batch) == 2
    assert stored(con, "audit_events") == [
        ("new-a", "log-2"),
        ("new-b", "log-2"),  # the first of its files by file key
        *[(f"old-{i}", "log-1") for i in range(5)],
    ]
    # a re-run of the same batch adds nothing
    assert add(con, "audit_events", batch) == 0


def test_a_stored_record_inside_the_batch_s_range_is_found(con) -> None:
    store(
        con,
        "audit_events",
        audit_frame([("mid", T0 + timedelta(days=2), "log-1"), ("after", T0 + timedelta(days=5), "log-1")]),
    )
    batch = audit_frame(
        [("early", T0, "log-0"), ("mid", T0 + timedelta(days=2), "log-0"), ("late", T0 + timedelta(days=3), "log-0")]
    )
    assert add(con, "audit_events", batch) == 2
    assert stored(con, "audit_events") == [("after", "log-1"), ("early", "log-0"), ("late", "log-0"), ("mid", "log-1")]


FIRST, SECOND = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "at"), [("first", FIRST), ("second", SECOND)], ids=["summer-time 02:30", "winter-time 02:30"]
)
def test_a_bound_in_the_hour_paris_repeats_in_october_keeps_its_instant(con, key: str, at: datetime) -> None:
    """The bounds go through Python with the session's time zone, Europe/Paris: 00:30 and 01:30 UTC on 25 October
    2026 are both 02:30 there, and a bound read as the other one would leave a stored record out of the range."""
    store(con, "audit_events", audit_frame([("first", FIRST, "log-1"), ("second", SECOND, "log-1")]))
    assert add(con, "audit_events", audit_frame([(key, at, "log-2")])) == 0
    assert stored(con, "audit_events") == [("first", "log-1"), ("second", "log-1")]


def instance_frame(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """Instance records from (record_key, sop_instance_uid, file_key), as the harvest reads them."""
    keys, sops, files = zip(*rows, strict=True)
    return pl.DataFrame(
        {
            "record_key": keys,
            "source": "files",
            "study_instance_uid": "1.2.3",
            "series_instance_uid": "1.2.3.1",
            "sop_instance_uid": sops,
            "size_bytes": 1000,
            "received_at": T0,
            "file_key": files,
            "harvest_id": "h",
        }
    )


def test_instances_are_compared_with_the_stored_records_of_their_sop_hints(con) -> None:
    store(con, "dicom_instances", instance_frame([("copy-1", "1.2.3.1.1", "a.dcm"), ("other", "1.2.3.1.2", "b.dcm")]))
    batch = instance_frame(
        [
            ("copy-1", "1.2.3.1.1", "c.dcm"),  # stored already (same record)
            ("copy-2", "1.2.3.1.1", "d.dcm"),  # the same SOP Instance UID (same hint), another header: a record
            ("new", "1.2.3.1.3", "f.dcm"),
            ("new", "1.2.3.1.3", "e.dcm"),  # the same record twice in the batch: the first file key kept
        ]
    )
    assert add(con, "dicom_instances", batch) == 2
    assert stored(con, "dicom_instances") == [
        ("copy-1", "a.dcm"),
        ("copy-2", "d.dcm"),
        ("new", "e.dcm"),
        ("other", "b.dcm"),
    ]
    # a re-run of the same batch adds nothing
    assert add(con, "dicom_instances", batch) == 0
