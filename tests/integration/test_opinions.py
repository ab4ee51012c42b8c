"""Tele-opinions from hand-written raw rows through the dbt model, the month's facts, the usage and the settlement:
every figure below is computed by hand in the comments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from analytics import metering
from analytics.billing.tariff import Settlement
from analytics.opinions.facts import PairMonth, pair_months, record_month
from analytics.opinions.pairs import load_pairs
from analytics.opinions.settings import OpinionsConfig
from analytics.opinions.settlement import net
from analytics.periods import Month
from tests.warehouse_factory import A, B, RawWarehouse

PLATFORM = "RSF_ARCHIVE"
MAY = Month(2012, 5)
NOW = datetime.fromisoformat("2012-06-01T10:00:00+02:00")


def pilot(tmp_path) -> RawWarehouse:
    wh = RawWarehouse(tmp_path)
    (tmp_path / "contracts" / "opinion_pairs.csv").write_text(
        f"requester,responder,from,to\n{A},{B},2012-05-01,\n{B},{A},2012-05-01,2012-05-20\n"
    )
    for study in ("S1", "S3", "S4", "S5"):  # A's studies
        wh.instance(f"{study}.1", study, "2012-05-02T07:00:00+02:00", 100, ae="A_CT")
    wh.instance("S2.1", "S2", "2012-05-02T07:00:00+02:00", 100, ae="B_CT")  # B's study

    def ask(when, study, to="B_CT", outcome=0):
        wh.event("110104", when, PLATFORM, to, [study], outcome=outcome)

    def report(sop, study, when, ae="B_CT"):
        wh.instance(sop, study, when, 10, ae=ae, modality="SR")

    # 1. A -> B, Wednesday 08:30 exactly: a day request; B's SR 45 min later. B's SR before the request and A's own
    #    SR do not answer it.
    report("S1.sr0", "S1", "2012-05-02T08:00:00+02:00")
    ask("2012-05-02T08:30:00+02:00", "S1")
    report("S1.sr1", "S1", "2012-05-02T08:45:00+02:00", ae="A_CT")
    report("S1.sr2", "S1", "2012-05-02T09:15:00+02:00")
    # 2. A -> B, Wednesday 18:30 exactly: on call; B's SR 24 h later exactly: answered, 1440 min
    ask("2012-05-02T18:30:00+02:00", "S1")
    report("S1.sr3", "S1", "2012-05-03T18:30:00+02:00")
    # 3. A -> B, Tuesday 8 May (a public holiday) at noon: on call; the SR comes 24 h and 1 s later: unanswered
    ask("2012-05-08T12:00:00+02:00", "S3")
    report("S3.sr", "S3", "2012-05-09T12:00:01+02:00")
    # 4. A -> B, Thursday 18:29:59: a day request; never answered
    ask("2012-05-10T18:29:59+02:00", "S4")
    # 5. B -> A, Sunday 11:00: on call; A's SR 30 min later
    ask("2012-05-06T11:00:00+02:00", "S2", to="A_CT")
    report("S2.sr", "S2", "2012-05-06T11:30:00+02:00", ae="A_MR")
    # 6. A -> B, Thursday 31 May 23:00: on call, no answer yet at NOW (1 June 10:00): pending
    ask("2012-05-31T23:00:00+02:00", "S5")
    # not requests: B -> A after its pair ended (a share), a failed transfer
    ask("2012-05-25T10:00:00+02:00", "S2", to="A_CT")
    ask("2012-05-03T10:00:00+02:00", "S4", outcome=8)
    return wh


def test_a_month_of_opinions_computed_by_hand(tmp_path):
    wh = pilot(tmp_path)
    con = wh.build()
    try:
        pairs = load_pairs(tmp_path / "contracts")
        assert record_month(con, MAY, pairs, OpinionsConfig(), now=NOW) == 6  # 5 from A to B, 1 from B to A
        months = pair_months(con, MAY)
        assert months == [
            # requests 1, 2, 3, 4, 6; answered 1 and 2 (45 and 1440 min); unanswered 3 and 4; on call 2, 3, 6
            PairMonth(A, B, requests=5, answered=2, unanswered=2, on_call=3, answered_on_call=1,
                      turnaround_p50_minutes=45, turnaround_p90_minutes=1440),
            PairMonth(B, A, requests=1, answered=1, unanswered=0, on_call=1, answered_on_call=1,
                      turnaround_p50_minutes=30, turnaround_p90_minutes=30),
        ]  # fmt: skip
        # A owes B 30.00 + 45.00 = 75.00; B owes A 45.00: net, A owes B 30.00
        lines = net(months, Settlement(Decimal("30.00"), Decimal("45.00")))
        assert [(x.debtor, x.creditor, x.amount) for x in lines] == [(A, B, Decimal("30.00"))]
        assert pair_months(con, MAY, scope=[B]) == months and pair_months(con, MAY, scope=["910000033"]) == []

        metering.meter_month(con, MAY, now=NOW)
        usage = metering.monthly_usage(con, MAY)
        assert (usage[A]["opinions"], usage[A]["opinions_on_call"]) == (2, 1)
        assert (usage[B]["opinions"], usage[B]["opinions_on_call"]) == (1, 1)

        # a re-run replaces the month; a day later the pending request is unanswered
        record_month(con, MAY, pairs, OpinionsConfig(), now=datetime.fromisoformat("2012-06-02T00:00:00+02:00"))
        assert pair_months(con, MAY)[0].unanswered == 3 and pair_months(con, MAY)[0].requests == 5
    finally:
        con.close()
