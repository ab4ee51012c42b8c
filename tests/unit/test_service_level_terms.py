"""contracts/service_levels.yaml: the committed terms, strict loading (file, line, dotted field), credit steps, and
the credit arithmetic of one establishment's month (amounts computed by hand)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from analytics.errors import ContractError
from analytics.periods import Month
from analytics.samples.service_levels import SERVICE_LEVELS_YAML, write_service_levels
from analytics.sla.measure import assess
from analytics.sla.terms import AVAILABILITY, INGESTION_DELAY, RETRIEVAL_FAILURES, load_service_levels

REPO = Path(__file__).resolve().parents[2]
MARCH = Month(2012, 3)


def test_committed_terms_are_the_samples_and_load():
    committed = (REPO / "contracts" / "service_levels.yaml").read_bytes()
    assert committed == SERVICE_LEVELS_YAML.encode("utf-8")
    assert committed == (REPO / "data" / "samples" / "contracts" / "service_levels.yaml").read_bytes()
    levels = load_service_levels(REPO / "contracts", ["PACS_RIS", "PACS", "VNA"])
    assert levels is not None and levels.credit_cap_percent == D("25")
    pacs_ris = levels.offers["PACS_RIS"]
    assert [t.kind for t in pacs_ris.terms] == [AVAILABILITY, INGESTION_DELAY, RETRIEVAL_FAILURES]
    assert pacs_ris.applications == ("RSF_ARCHIVE", "RSF_VIEWER", "RSF_RIS")
    assert levels.offers["VNA"].applications == ("RSF_ARCHIVE",)
    availability = pacs_ris.terms[0]
    assert availability.target == D("99.5")
    assert [s.bound for s in availability.steps] == [D("99.5"), D("99.0"), D("98.0")]


def test_no_file_means_no_service_levels(tmp_path):
    assert load_service_levels(tmp_path) is None


@pytest.mark.parametrize(
    ("measured", "breached", "credit"),
    [
        (D("99.50"), False, D(0)),  # exactly the target: met
        (D("99.49"), True, D("5")),
        (D("99.00"), True, D("5")),  # the 10 % step starts below 99.0
        (D("98.99"), True, D("10")),
        (D("97.99"), True, D("20")),
    ],
)
def test_availability_steps(measured, breached, credit):
    term = load_service_levels(REPO / "contracts").offers["PACS"].terms[0]
    assert term.breached(measured) is breached
    assert (term.credit_percent(measured) if breached else D(0)) == credit


def test_ceiling_terms_step_upwards():
    term = load_service_levels(REPO / "contracts").offers["PACS"].terms[2]  # retrieval failures <= 2.0 %
    assert not term.breached(D("2.00"))
    assert (term.credit_percent(D("2.01")), term.credit_percent(D("5.00")), term.credit_percent(D("5.01"))) == (
        D("2"),
        D("2"),
        D("5"),
    )


def _write(tmp_path: Path, old: str, new: str) -> Path:
    text = SERVICE_LEVELS_YAML
    assert old in text
    (tmp_path / "service_levels.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ('credit_cap_percent: "25"', 'credit_cap_percent: "125"', "credit_cap_percent", "between 0 and 100"),
        ('      target: "99.5"', '      target: "99,5"', "offers.PACS_RIS.availability.target", "decimal comma"),
        (
            '{below: "99.5", credit_percent: "5"}',
            '{below: "99.4", credit_percent: "5"}',
            "offers.PACS_RIS.availability.credits[1].below",
            "must be 99.5",
        ),
        (
            '{below: "99.0", credit_percent: "10"}',
            '{below: "99.6", credit_percent: "10"}',
            "offers.PACS_RIS.availability.credits[2].below",
            "strictly decreasing",
        ),
        (
            '{below: "99.0", credit_percent: "10"}',
            '{below: "99.0", credit_percent: "4"}',
            "offers.PACS_RIS.availability.credits[2].credit_percent",
            "larger credit",
        ),
        (
            '{above: "1440", credit_percent: "3"}',
            '{below: "1440", credit_percent: "3"}',
            "offers.PACS_RIS.ingestion_delay_p95.credits[1].below",
            "unknown key 'below'",
        ),
        (
            "applications: [RSF_ARCHIVE, RSF_VIEWER, RSF_RIS]",
            "applications: []",
            "offers.PACS_RIS.availability.applications",
            "at least one AuditSourceID",
        ),
        ("  PACS_RIS:\n", "  PACS_RIS_X:\n", "offers.PACS_RIS_X", "unknown offer"),
    ],
)
def test_errors_name_the_file_the_line_and_the_field(tmp_path, old, new, field, message):
    folder = _write(tmp_path, old, new)
    with pytest.raises(ContractError) as info:
        load_service_levels(folder)
    error = info.value
    text = (folder / "service_levels.yaml").read_text(encoding="utf-8")
    assert error.path == folder / "service_levels.yaml"
    assert error.field == field and message in str(error)
    assert error.line == _line_of(text, new.strip())


def test_an_offer_in_use_needs_service_levels(tmp_path):
    assert load_service_levels(write_service_levels(tmp_path).parent, ["VNA"]) is not None
    text = SERVICE_LEVELS_YAML[: SERVICE_LEVELS_YAML.index("  VNA:")]
    (tmp_path / "service_levels.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ContractError) as info:
        load_service_levels(tmp_path, ["VNA"])
    assert info.value.field == "offers.VNA" and "used by the registry" in str(info.value)


def _measures(*, window_min=44580, outage_min=0, failed_min=0, p95_s=None, studies=0, retrievals=0, failed=0):
    us = 60_000_000
    return {
        "window_us": window_min * us,
        "outage_us": outage_min * us,
        "outages": int(outage_min > 0),
        "failed_us": failed_min * us,
        "failed_minutes": failed_min,
        "studies_measured": studies,
        "studies_without_time": 0,
        "p95_us": None if p95_s is None else p95_s * 1_000_000,
        "retrievals": retrievals,
        "failed_retrievals": failed,
    }


def test_credits_are_a_percentage_of_the_fee_rounded_half_up_to_the_cent():
    offer = load_service_levels(REPO / "contracts").offers["PACS_RIS"]
    # March 2012 (44 580 minutes, a DST month): 241 minutes down -> 99.4594... % -> 99.46 % < 99.5 %: 5 %
    # 5 % of 1 810.10 = 90.505 -> 90.51 (half-up; half-even would give 90.50)
    result = assess(MARCH, "750000015", offer, _measures(outage_min=240, failed_min=1), D("1810.10"), D("25"))
    availability, delay, retrievals = result
    assert (availability.measured, availability.breached, availability.credit_percent) == (D("99.46"), True, D("5"))
    assert availability.credit_amount == D("90.51") and not availability.capped
    assert availability.sample_size == 44580
    # nothing measured: not breached, no credit
    assert (delay.measured, delay.breached, delay.credit_amount) == (None, False, D("0.00"))
    assert (retrievals.measured, retrievals.breached, retrievals.credit_amount) == (None, False, D("0.00"))


def test_met_levels_give_no_credit():
    offer = load_service_levels(REPO / "contracts").offers["PACS"]
    # 223 of 44 580 minutes down: 99.4997... -> 99.50 %, the target itself
    measures = _measures(outage_min=223, p95_s=1440 * 60, studies=3, retrievals=50, failed=1)
    result = assess(MARCH, "940000027", offer, measures, D("1200.00"), D("25"))
    assert [(a.measured, a.breached, a.credit_amount) for a in result] == [
        (D("99.50"), False, D("0.00")),
        (D("1440.00"), False, D("0.00")),
        (D("2.00"), False, D("0.00")),
    ]


def test_the_month_cap_cuts_the_later_credits():
    offer = load_service_levels(REPO / "contracts").offers["PACS_RIS"]
    # availability 97.9 % -> 20 %; delay 3000 min > 2880 -> 6 %; retrievals 10 % -> 5 %: 31 % asked, cap 25 %
    measures = _measures(window_min=43200, outage_min=908, p95_s=3000 * 60, studies=10, retrievals=10, failed=1)
    availability, delay, retrievals = assess(Month(2012, 4), "750000015", offer, measures, D("1800.00"), D("25"))
    assert availability.measured == D("97.90")  # (43200 - 908) / 43200 = 97.898...
    assert [a.credit_percent for a in (availability, delay, retrievals)] == [D("20"), D("6"), D("5")]
    # cap 450.00: 360.00 + 90.00 (6 % = 108.00 cut to 90.00) + 0.00
    assert [a.credit_amount for a in (availability, delay, retrievals)] == [D("360.00"), D("90.00"), D("0.00")]
    assert [a.capped for a in (availability, delay, retrievals)] == [False, True, True]
