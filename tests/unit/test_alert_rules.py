"""The four alert rules on hand-built rows: thresholds at their boundary, days and hours read in Paris time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from analytics.alerts import rules
from analytics.periods import PARIS

SITES = [
    {"establishment_id": "750000001", "name": "CH Alpha", "actual_go_live": date(2013, 6, 1), "end_date": None},
    {"establishment_id": "750000002", "name": "CH Bêta", "actual_go_live": date(2014, 1, 5), "end_date": None},
    {"establishment_id": "750000003", "name": "Clinique Gamma", "actual_go_live": None, "end_date": None},
    {
        "establishment_id": "750000004",
        "name": "CH Delta",
        "actual_go_live": date(2013, 1, 1),
        "end_date": date(2014, 1, 1),
    },
]


def _silent(last: dict, now: datetime, days: int = 7) -> dict[str, rules.Alert]:
    return {a.establishment_id: a for a in rules.silent_sites(SITES, last, now, days)}


@pytest.mark.parametrize(
    ("last_study", "silent"),
    [(date(2014, 1, 4), False), (date(2014, 1, 3), True), (date(2014, 1, 11), False)],
)
def test_a_site_is_silent_after_more_than_n_whole_paris_days(last_study, silent):
    now = datetime(2014, 1, 11, 9, 0, tzinfo=PARIS)
    found = _silent({"750000001": last_study, "750000002": date(2014, 1, 10)}, now)
    assert ("750000001" in found) is silent
    if silent:
        alert = found["750000001"]
        assert alert.key == "silent_site:750000001:2014-01-04"
        assert alert.since == "2014-01-04"
        assert alert.details == {"last_study_date": "2014-01-03", "days_silent": 8, "threshold_days": 7}
        assert "CH Alpha (750000001)" in alert.message and "8 jours" in alert.message


def test_the_day_is_the_paris_day_not_the_utc_one():
    last = {"750000001": date(2014, 1, 3), "750000002": date(2014, 1, 10)}
    before_midnight = datetime(2014, 1, 10, 22, 59, tzinfo=UTC)  # 23:59 in Paris: still the 10th
    after_midnight = datetime(2014, 1, 10, 23, 0, tzinfo=UTC)  # 00:00 on the 11th in Paris
    assert "750000001" not in _silent(last, before_midnight)
    assert "750000001" in _silent(last, after_midnight)


def test_only_live_sites_and_silence_counts_from_go_live():
    now = datetime(2014, 1, 20, 12, 0, tzinfo=PARIS)
    found = _silent({"750000001": date(2014, 1, 19)}, now)
    assert set(found) == {"750000002"}  # not live yet (Gamma) and left (Delta) are no alerts
    assert found["750000002"].since == "2014-01-05"
    assert found["750000002"].details["last_study_date"] is None
    assert "depuis sa mise en service" in found["750000002"].message
    assert _silent({}, datetime(2014, 1, 4, 12, 0, tzinfo=PARIS)).keys() == {"750000001"}  # Bêta: not live yet


def _level(month: str, site: str, term: str, breached: bool, measured: str = "98.10") -> dict:
    return {
        "month": month,
        "establishment_id": site,
        "term": term,
        "unit": "%",
        "measured": Decimal(measured),
        "target": Decimal("99.50"),
        "credit_percent": Decimal("5") if breached else Decimal(0),
        "breached": breached,
    }


def test_missed_service_levels_of_the_latest_month_only():
    rows = [
        _level("2014-01", "750000001", "availability", True),
        _level("2014-02", "750000001", "availability", False),
        _level("2014-02", "750000002", "availability", True, "97.25"),
        _level("2014-02", "750000002", "retrieval_failure_rate", False),
    ]
    found = rules.missed_service_levels(rows, {"750000002": "CH Bêta"})
    assert [a.key for a in found] == ["service_level:2014-02:750000002:availability"]
    alert = found[0]
    assert (alert.since, alert.establishment_id, alert.establishment_name) == ("2014-02-01", "750000002", "CH Bêta")
    assert alert.details == {
        "month": "2014-02",
        "term": "availability",
        "unit": "%",
        "measured": "97.25",
        "target": "99.50",
        "credit_percent": "5",
    }
    assert "97,25 %" in alert.message and "99,50 %" in alert.message and "02/2014" in alert.message
    assert rules.missed_service_levels([], {}) == []


def test_quality_errors_are_failing_blocking_checks_keyed_by_their_streak():
    since = datetime(2014, 3, 30, 0, 30, tzinfo=UTC)  # 01:30 in Paris, the night of the DST change
    rows = [
        {
            "name": "unique_sop",
            "table_name": "staged.stg_dicom_instances",
            "severity": "error",
            "passed": False,
            "details": {"description": "un SOPInstanceUID par ligne", "examples": ["1.2.3"]},
            "failing_since": since,
        },
        {
            "name": "fresh",
            "table_name": "raw.harvest_runs",
            "severity": "warn",
            "passed": False,
            "details": {},
            "failing_since": since,
        },
        {
            "name": "sums",
            "table_name": "marts.fct_usage_daily",
            "severity": "error",
            "passed": True,
            "details": {},
            "failing_since": since,
        },
    ]
    found = rules.quality_errors(rows)
    assert [a.key for a in found] == ["quality_error:unique_sop:2014-03-30T01:30:00+01:00"]
    assert found[0].details == {
        "check": "unique_sop",
        "table": "staged.stg_dicom_instances",
        "description": "un SOPInstanceUID par ligne",
    }  # no examples: no data
    assert "30/03/2014 à 01:30" in found[0].message


def test_a_source_is_stale_after_more_than_n_hours_or_when_never_harvested():
    last = datetime(2014, 1, 10, 1, 0, tzinfo=UTC)
    harvested = {"archive": last, "audit": last + timedelta(hours=2)}
    at_limit = rules.stale_sources(["archive", "audit", "pacs"], harvested, last + timedelta(hours=26), 26)
    assert [a.key for a in at_limit] == ["harvest_stale:pacs:never"]
    assert at_limit[0].since is None and "jamais" in at_limit[0].message
    past = rules.stale_sources(["archive", "audit"], harvested, last + timedelta(hours=26, seconds=1), 26)
    assert [a.key for a in past] == ["harvest_stale:archive:2014-01-10T02:00:00+01:00"]
    assert past[0].details == {
        "source": "archive",
        "last_harvest_at": "2014-01-10T02:00:00+01:00",
        "hours_without_harvest": 26,
        "threshold_hours": 26,
    }
    assert "10/01/2014 à 02:00, heure de Paris" in past[0].message
