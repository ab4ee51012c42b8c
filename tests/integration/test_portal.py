"""The community portal from raw rows through the dbt models and metering: `portal_views` and
`portal_practitioners` per establishment owning the study. The rows and the expected figures are docs/billing.md's
worked example (its table and its result line), computed by hand there and recomputed here."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from analytics import metering, warehouse
from analytics.periods import Month
from analytics.registry import load_registry
from tests.warehouse_factory import KEY, A, B, RawWarehouse

DOC = Path(__file__).parents[2] / "docs" / "billing.md"
PORTAL = "PORTAIL_VILLE"
MAY = Month(2012, 5)
NOW = datetime.fromisoformat("2012-06-02T10:00:00+02:00")
OWNERS = {"SA1": ("a1.1", "A_CT"), "SA2": ("a2.1", "A_MR"), "SB1": ("b1.1", "B_CT")}


def worked_example() -> tuple[list[list[str]], dict[str, tuple[int, int]]]:
    """The example's table rows (cells) and its result: establishment -> (portal views, practitioners)."""
    section = DOC.read_text(encoding="utf-8").split("## The community portal", 1)[1].split("\n## ", 1)[0]
    rows = [
        [c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if re.match(r"\| \d+ \|", line)
    ]
    result = re.search(
        r"A: (\d+) portal views, (\d+) practitioners? .*?; B: (\d+) portal views, (\d+) practitioners?", section
    )
    assert len(rows) == 10 and result, "docs/billing.md's portal example is not where the test looks"
    a_views, a_doctors, b_views, b_doctors = map(int, result.groups())
    return rows, {A: (a_views, a_doctors), B: (b_views, b_doctors)}


def portal_month(tmp_path) -> RawWarehouse:
    wh = RawWarehouse(tmp_path)
    for study, (sop, ae) in OWNERS.items():
        wh.instance(sop, study, "2012-04-20T09:00:00+02:00", 100, ae=ae)
    for _, when, event, outcome, studies, through, user, _ in worked_example()[0]:
        at = datetime.fromisoformat(when).replace(tzinfo=ZoneInfo("Europe/Paris")).isoformat()
        participants = () if through == "-" else (through,)
        source, destination = ("RSF_ARCHIVE", through) if event == "110106" else (None, None)
        wh.event(
            event,
            at,
            source,
            destination,
            studies.split(),
            outcome=int(outcome),
            practitioner=None if user == "-" else user,
            participants=participants if event == "110103" else (),
        )
    return wh


def portal_usage(con) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    metering.meter_month(con, MAY, now=NOW)
    usage = metering.monthly_usage(con, MAY)
    return {e: (u["portal_views"], u["portal_practitioners"], u["views"]) for e, u in usage.items() if e in (A, B)}


def test_the_worked_example_of_the_billing_doc(tmp_path):
    wh = portal_month(tmp_path)
    con = wh.build()
    try:
        _, result = worked_example()
        # views (every successful 110103): A 1 + 1 + 2 + 1 + 1 (the platform viewer) = 6; B 1 + 1 (PORTAIL_TEST) = 2
        assert portal_usage(con) == {A: (*result[A], 6), B: (*result[B], 2)} == {A: (5, 3, 6), B: (2, 1, 2)}
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
        warehouse.load_reference(con, registry, ["RSF_ARCHIVE"], [PORTAL, " portail_test "], KEY)
        warehouse.build_models(con)  # incremental: no new harvest, but the reference changed
        assert portal_usage(con)[B] == (3, 2, 2)  # P6's view of SB1 through PORTAIL_TEST now counts
        warehouse.load_reference(con, registry, ["RSF_ARCHIVE"], [], KEY)
        warehouse.build_models(con)
        assert portal_usage(con).get(A, (0, 0, 0))[:2] == (0, 0)  # no portal configured: no portal access
    finally:
        con.close()
