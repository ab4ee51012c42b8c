"""The programme office's roll-out figures: lateness with a tolerance, the S-curve, the slip against the initial
plan, deployment durations by offer."""

from __future__ import annotations

from datetime import date

import polars as pl

from analytics.reporting import rollout

SITES = pl.DataFrame(
    {
        "establishment_id": ["A", "B", "C", "D"],
        "name": ["a", "b", "c", "d"],
        "offer": ["PACS", "PACS", "VNA", "VNA"],
        "adhesion_date": [date(2011, 1, 1), date(2011, 1, 1), date(2011, 6, 1), date(2011, 6, 1)],
        "planned_go_live": [date(2011, 3, 1), date(2011, 5, 1), date(2011, 7, 1), date(2011, 9, 1)],
        "actual_go_live": [date(2011, 3, 5), date(2011, 9, 1), date(2012, 1, 1), None],
        "delay_days": [4, 123, 184, 122],
    }
)
AS_OF = date(2012, 1, 1)


def test_lateness_uses_the_tolerance_and_sorts_latest_first():
    out = rollout.lateness(SITES, tolerance_days=7, very_late_days=150)
    assert out["establishment_id"].to_list() == ["C", "B", "D", "A"]
    assert out["lateness"].to_list() == [rollout.VERY_LATE, rollout.LATE, rollout.LATE, rollout.ON_TIME]


def test_s_curve_counts_planned_and_live_by_month_end():
    curve = rollout.s_curve(SITES, AS_OF)
    by_month = {r["month"]: (r["planned"], r["live"]) for r in curve.iter_rows(named=True)}
    assert by_month[date(2011, 3, 1)] == (1, 1)
    assert by_month[date(2011, 9, 1)] == (4, 2)
    assert by_month[date(2012, 1, 1)] == (4, 3)
    per_offer = rollout.s_curve(SITES, AS_OF, "offer")
    assert set(per_offer["group"]) == {"PACS", "VNA"}


def test_the_slip_is_the_distance_between_the_planned_and_actual_curves():
    # 3 live on 2012-01-01, the third on 2012-01-01 where the plan had it on 2011-07-01: 6 months behind (the 4th,
    # planned 2011-09-01 and not live, is only 4 months overdue)
    assert rollout.programme_slip(SITES, AS_OF) == {"live": 3, "planned": 4, "slip_months": 6.0}
    assert rollout.programme_slip(SITES, date(2011, 3, 10))["slip_months"] == 0.1  # the first, 4 days late
    assert rollout.programme_slip(SITES, date(2011, 2, 1))["slip_months"] == 0.0  # nothing due yet


def test_deployment_durations_by_offer():
    durations = rollout.deployment_durations(SITES)
    assert durations.select("offer", "months").rows() == [("PACS", 2.1), ("PACS", 8.0), ("VNA", 7.0)]


def test_each_service_level_against_its_target_in_its_unit():
    from analytics.reporting import service

    levels = pl.DataFrame(
        {
            "month": ["2012-07"] * 4,
            "term": ["availability"] * 2 + ["ingestion_delay_p95"] * 2,
            "unit": ["%", "%", "min", "min"],
            "target": [99.5, 99.5, 1440.0, 1440.0],
            "measured": [99.9, 99.1, 20.0, 1500.0],
            "breached": [False, True, False, True],
        }
    )
    out = {r["term"]: r for r in service.against_target(levels).iter_rows(named=True)}
    assert (out["availability"]["worst"], out["availability"]["missed"]) == (99.1, 1)  # higher is better
    assert (out["ingestion_delay_p95"]["worst"], out["ingestion_delay_p95"]["unit"]) == (1500.0, "min")
