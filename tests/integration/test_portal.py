"""The community portal from hand-written raw rows through the dbt models and metering: `portal_views` and
`portal_practitioners` per establishment owning the study, every figure computed by hand in the comments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from analytics import metering, warehouse
from analytics.periods import Month
from analytics.registry import load_registry
from tests.warehouse_factory import A, B, RawWarehouse

PORTAL = "PORTAIL_VILLE"
MAY = Month(2012, 5)
NOW = datetime.fromisoformat("2012-06-02T10:00:00+02:00")


def portal_month(tmp_path) -> RawWarehouse:
    wh = RawWarehouse(tmp_path)
    for sop, study, ae in (("a1.1", "SA1", "A_CT"), ("a2.1", "SA2", "A_MR"), ("b1.1", "SB1", "B_CT")):
        wh.instance(sop, study, "2012-04-20T09:00:00+02:00", 100, ae=ae)

    def portal_view(when, studies, practitioner, outcome=0, via=PORTAL):
        wh.event("110103", when, None, None, studies, outcome=outcome, practitioner=practitioner, participants=(via,))

    portal_view("2012-05-03T10:00:00+02:00", ["SA1"], "P1")  # A: 1 view, P1
    portal_view("2012-05-04T10:00:00+02:00", ["SA1"], "P1")  # A: 2 views (one per event), still P1 alone
    portal_view("2012-05-04T11:00:00+02:00", ["SB1"], "P1")  # B: 1 view, P1 (counted for each owner)
    portal_view("2012-05-07T18:00:00+02:00", ["SA1", "SA2"], "P2")  # A: 4 views (one per study), P1 and P2
    portal_view("2012-05-01T00:15:00+02:00", ["SA2"], "P3")  # 30 April 22:15 UTC, a May day in Paris: A: 5, 3 doctors
    portal_view("2012-06-01T00:30:00+02:00", ["SA2"], "P4")  # 31 May 22:30 UTC, a June day in Paris: not May
    portal_view("2012-05-09T09:00:00+02:00", ["SB1"], "P5", outcome=4)  # failed: not an access
    portal_view("2012-05-10T09:00:00+02:00", ["SB1"], "P6", via="PORTAIL_TEST")  # not the portal (yet)
    # an export to the portal asked by a hospital user (no RPPS number): B: 2 views, still P1 alone
    wh.event("110106", "2012-05-11T15:00:00+02:00", "RSF_ARCHIVE", PORTAL, ["SB1"])
    wh.event("110103", "2012-05-12T15:00:00+02:00", None, None, ["SA1"])  # the platform viewer, not the portal
    return wh


def portal_usage(con) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    metering.meter_month(con, MAY, now=NOW)
    usage = metering.monthly_usage(con, MAY)
    return {e: (u["portal_views"], u["portal_practitioners"], u["views"]) for e, u in usage.items() if e in (A, B)}


def test_a_month_of_portal_accesses_computed_by_hand(tmp_path):
    wh = portal_month(tmp_path)
    con = wh.build()
    try:
        # views (every successful 110103): A 1 + 1 + 2 + 1 + 1 (the platform viewer) = 6; B 1 + 1 (PORTAIL_TEST) = 2
        assert portal_usage(con) == {A: (5, 3, 6), B: (2, 1, 2)}
        rows = con.execute(
            "select establishment_id, practitioner_key, views from marts.fct_portal_access order by all"
        ).fetchall()
        assert rows == [(A, "P1", 2), (A, "P2", 2), (A, "P3", 1), (B, "P1", 1), (B, None, 1)]
        assert metering.meter_month(con, MAY, now=NOW) and portal_usage(con)[A] == (5, 3, 6)  # a re-run adds nothing
    finally:
        con.close()


def test_naming_another_portal_title_reclassifies_what_was_already_built(tmp_path):
    wh = portal_month(tmp_path)
    con = wh.build()
    try:
        assert portal_usage(con)[B] == (2, 1, 2)
        registry = load_registry(tmp_path / "contracts")
        warehouse.load_reference(con, registry, ["RSF_ARCHIVE"], [PORTAL, " portail_test "])
        warehouse.build_models(con)  # incremental: no new harvest, but the reference changed
        assert portal_usage(con)[B] == (3, 2, 2)  # P6's view of SB1 through PORTAIL_TEST now counts
        warehouse.load_reference(con, registry, ["RSF_ARCHIVE"], [])
        warehouse.build_models(con)
        assert portal_usage(con).get(A, (0, 0, 0))[:2] == (0, 0)  # no portal configured: no portal access
    finally:
        con.close()
