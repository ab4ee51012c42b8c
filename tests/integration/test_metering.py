"""Usage metrics on hand-written raw rows, every figure computed by hand (see docs/billing.md for the rules)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics import metering
from analytics.periods import Month
from tests.warehouse_factory import A, B, RawWarehouse

GB = 10**9
APRIL, MARCH = Month(2012, 4), Month(2012, 3)


@pytest.fixture
def wh(tmp_path):
    return RawWarehouse(tmp_path)


def metered(wh: RawWarehouse, *months: Month) -> dict[Month, dict[str, dict[str, Decimal]]]:
    con = wh.build()
    try:
        result = {}
        for month in months:
            metering.meter_month(con, month)
            result[month] = metering.monthly_usage(con, month)
        return result
    finally:
        con.close()


def test_storage_is_the_mean_of_end_of_day_bytes_and_a_deletion_stops_it(wh):
    wh.instance("1.1.1", "1.1", "2012-03-15T10:00:00+01:00", 2 * GB)  # stored from March 15, all April
    wh.instance("1.2.1", "1.2", "2012-04-10T10:00:00+02:00", GB)
    wh.instance("1.2.2", "1.2", "2012-04-10T11:00:00+02:00", GB // 2)
    wh.event("110105", "2012-04-20T09:00:00+02:00", "RSF_ARCHIVE", None, ["1.2"])  # deleted mid-month
    usage = metered(wh, MARCH, APRIL)
    # March: 2 GB on days 15..31 = 17 days of 31
    assert usage[MARCH][A]["storage_gb_month"] == Decimal("1.096774194")  # 34/31 = 1.0967741935...
    # April: 2 GB x 30 days + 1.5 GB x 10 days (10th..19th), over 30 days = 75/30
    assert usage[APRIL][A]["storage_gb_month"] == Decimal("2.500000000")
    assert usage[APRIL][A]["studies_archived"] == 1 and usage[APRIL][A]["instances_archived"] == 2
    assert usage[APRIL][A]["bytes_archived"] == Decimal(3 * GB // 2)


def test_a_failed_deletion_does_not_stop_storage(wh):
    wh.instance("1.2.1", "1.2", "2012-04-01T10:00:00+02:00", 3 * GB)
    wh.event("110105", "2012-04-05T09:00:00+02:00", "RSF_ARCHIVE", None, ["1.2"], outcome=8)
    assert metered(wh, APRIL)[APRIL][A]["storage_gb_month"] == Decimal("3.000000000")


@pytest.mark.parametrize(
    ("utc_time", "month"),
    [
        ("2012-07-31T23:30:00+00:00", Month(2012, 8)),  # summer: 01:30 on 1 August in Paris
        ("2012-01-31T23:30:00+00:00", Month(2012, 2)),  # winter: 00:30 on 1 February in Paris
        ("2012-07-31T21:30:00+00:00", Month(2012, 7)),  # 23:30 in Paris: still July
    ],
)
def test_month_boundaries_are_paris_time(wh, utc_time, month):
    wh.instance("1.3.1", "1.3", utc_time, 1000)
    wh.event("110104", utc_time, "RSF_ARCHIVE", "A_WS1", ["1.3"])
    previous = month.previous()
    usage = metered(wh, previous, month)
    assert usage[month][A]["studies_archived"] == 1 and usage[month][A]["retrievals"] == 1
    assert usage[previous].get(A, {}).get("studies_archived", 0) == 0


def test_first_receipt_is_the_earliest_of_files_and_receipt_events(wh):
    wh.instance("1.4.1", "1.4", "2012-05-01T08:00:00+02:00", 1000)  # the file lands in May...
    wh.event("110104", "2012-04-30T22:00:00+02:00", "A_CT", "RSF_ARCHIVE", ["1.4"])  # ...received in April
    wh.event("110104", "2012-04-29T22:00:00+02:00", "A_CT", "RSF_ARCHIVE", ["1.4"], outcome=4)  # failed: ignored
    usage = metered(wh, APRIL, Month(2012, 5))
    assert usage[APRIL][A]["studies_archived"] == 1
    assert usage[Month(2012, 5)][A]["studies_archived"] == 0 and usage[Month(2012, 5)][A]["instances_archived"] == 1


def test_retrievals_shares_and_views_are_decided_by_participants(wh):
    wh.instance("1.5.1", "1.5", "2012-04-02T10:00:00+02:00", 1000)  # study of A
    wh.instance("1.6.1", "1.6", "2012-04-02T10:00:00+02:00", 1000, ae="B_CT")  # study of B
    wh.event("110104", "2012-04-03T10:00:00+02:00", "RSF_ARCHIVE", "A_WS1", ["1.5"])  # retrieval (unknown AE)
    wh.event("110104", "2012-04-03T11:00:00+02:00", "RSF_ARCHIVE", "A_MR", ["1.5"])  # retrieval (own AE)
    wh.event("110104", "2012-04-03T12:00:00+02:00", "RSF_ARCHIVE", "B_CT", ["1.5"])  # share to B
    wh.event("110106", "2012-04-03T13:00:00+02:00", "RSF_ARCHIVE", "PORTAIL_VILLE", ["1.5"])  # export: share
    wh.event("110104", "2012-04-03T14:00:00+02:00", "A_CT", "RSF_ARCHIVE", ["1.5"])  # a receipt, not a retrieval
    wh.event("110104", "2012-04-03T15:00:00+02:00", "RSF_ARCHIVE", "A_WS1", ["1.5"], outcome=8)  # failed
    wh.event("110103", "2012-04-04T10:00:00+02:00", "VIEWER", None, ["1.5", "1.6"])  # one event, two studies
    wh.event("110112", "2012-04-04T11:00:00+02:00", "A_WS1", "RSF_ARCHIVE", [None])  # a query: not metered
    usage = metered(wh, APRIL)[APRIL]
    assert {k: usage[A][k] for k in ("retrievals", "shares", "views")} == {"retrievals": 2, "shares": 2, "views": 1}
    assert usage[B]["views"] == 1 and usage[B]["retrievals"] == 0


def test_share_flows_keep_the_destination(wh):
    wh.instance("1.5.1", "1.5", "2012-04-02T10:00:00+02:00", 1000)
    wh.event("110104", "2012-04-03T12:00:00+02:00", "RSF_ARCHIVE", "B_CT", ["1.5"])
    wh.event("110106", "2012-04-03T13:00:00+02:00", "RSF_ARCHIVE", "PORTAIL_VILLE", ["1.5"])
    con = wh.build()
    try:
        metering.meter_month(con, APRIL)
        flows = con.execute(
            "select establishment_id, destination, share_kind, shares from marts.fct_share_flows order by 2"
        ).fetchall()
    finally:
        con.close()
    assert flows == [(A, B, "transfer", 1), (A, "PORTAIL_VILLE", "export", 1)]


def test_monthly_share_flows_sum_the_days_and_a_rerun_replaces_them(wh):
    wh.instance("1.5.1", "1.5", "2012-04-02T10:00:00+02:00", 1000)
    wh.instance("1.6.1", "1.6", "2012-04-02T11:00:00+02:00", 1000)
    for day, study in (("03", "1.5"), ("03", "1.6"), ("20", "1.5")):  # two days, three transfers to B
        wh.event("110104", f"2012-04-{day}T12:00:00+02:00", "RSF_ARCHIVE", "B_CT", [study])
    wh.event("110106", "2012-04-30T23:30:00+02:00", "RSF_ARCHIVE", "PORTAIL_VILLE", ["1.5"])  # still April in Paris
    con = wh.build()
    try:
        metering.meter_month(con, APRIL)
        metering.meter_month(con, APRIL)
        monthly = con.execute(
            "select month, establishment_id, destination_establishment_id, destination, share_kind, "
            "shares from marts.fct_share_flows_monthly order by destination"
        ).fetchall()
        daily = con.execute("select count(*) from marts.fct_share_flows").fetchone()[0]
    finally:
        con.close()
    assert daily == 3  # (03, B), (20, B), (30, portal)
    assert monthly == [("2012-04", A, B, B, "transfer", 3), ("2012-04", A, None, "PORTAIL_VILLE", "export", 1)]


def test_unattributed_and_audit_only_studies(wh):
    wh.instance("1.7.1", "1.7", "2012-04-02T10:00:00+02:00", 1000, ae="NOBODY", institution="Cabinet inconnu")
    wh.event("110104", "2012-04-05T10:00:00+02:00", "B_CT", "RSF_ARCHIVE", ["1.8"])  # known only from the log: B's
    usage = metered(wh, APRIL)[APRIL]
    assert usage["UNATTRIBUTED"]["studies_archived"] == 1 and usage["UNATTRIBUTED"]["instances_archived"] == 1
    assert usage[B]["studies_archived"] == 1 and usage[B]["instances_archived"] == 0


def test_daily_reconciles_with_monthly_and_rerun_replaces_the_month(wh):
    wh.instance("1.1.1", "1.1", "2012-03-15T10:00:00+01:00", 2 * GB)
    wh.instance("1.2.1", "1.2", "2012-04-10T10:00:00+02:00", 777_777_777)
    wh.event("110104", "2012-04-11T10:00:00+02:00", "RSF_ARCHIVE", "A_WS1", ["1.2"])
    con = wh.build()
    try:
        metering.meter_month(con, APRIL)
        metering.meter_month(con, APRIL)  # a re-run replaces the month, it does not add to it
        monthly = metering.monthly_usage(con, APRIL)[A]
        days = metering.daily_usage(con, APRIL, A)
        rows = con.execute("select count(*) from marts.fct_usage_daily where month = '2012-04'").fetchone()[0]
    finally:
        con.close()
    assert rows == 30 == len(days)  # storage makes every day of the month a row
    for metric in ("studies_archived", "instances_archived", "bytes_archived", "retrievals", "shares", "views"):
        assert monthly[metric] == sum(d[metric] for d in days)
    mean = sum(d["storage_gb"] for d in days) / 30
    assert monthly["storage_gb_month"] == mean.quantize(Decimal("0.000000001"))
    assert monthly["storage_gb_month"] == Decimal(
        "2.544444444"
    )  # (2e9 x 30 + 777777777 x 21) / 30 / 1e9 = 2.54444444439


def test_an_audit_only_study_belongs_to_the_source_of_its_first_receipt_even_if_unknown(wh):
    wh.event("110104", "2012-04-05T10:00:00+02:00", "UNKNOWN_GW", "RSF_ARCHIVE", ["1.9"])  # first: nobody's AE
    wh.event("110104", "2012-04-06T10:00:00+02:00", "B_CT", "RSF_ARCHIVE", ["1.9"])  # re-sent later by B
    usage = metered(wh, APRIL)[APRIL]
    assert usage["UNATTRIBUTED"]["studies_archived"] == 1 and B not in usage
