"""The rules of tele-opinions, on figures computed by hand: on-call hours and days, the answer limit, turnaround
percentiles, netting, and the pairs file."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from analytics.billing.tariff import Settlement
from analytics.errors import ContractError
from analytics.opinions.facts import PairMonth
from analytics.opinions.pairs import load_pairs
from analytics.opinions.rules import (
    ANSWERED,
    PENDING,
    UNANSWERED,
    Outcome,
    is_on_call,
    is_public_holiday,
    outcome,
    percentile_minutes,
)
from analytics.opinions.settings import OpinionsConfig
from analytics.opinions.settlement import net, owed, to_csv
from analytics.periods import Month

CONFIG = OpinionsConfig()


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("when", "on_call"),
    [
        ("2012-05-02T08:29:59+02:00", True),  # a Wednesday, one second before the day starts
        ("2012-05-02T08:30:00+02:00", False),  # the day starts at 08:30 exactly
        ("2012-05-02T18:29:59+02:00", False),
        ("2012-05-02T18:30:00+02:00", True),  # on call from 18:30 exactly
        ("2012-05-02T16:30:00+00:00", True),  # 18:30 in Paris (summer time), given in UTC
        ("2012-01-10T07:30:00+00:00", False),  # 08:30 in Paris (winter time), given in UTC
        ("2012-05-05T12:00:00+02:00", True),  # a Saturday
        ("2012-05-06T12:00:00+02:00", True),  # a Sunday
        ("2012-05-08T12:00:00+02:00", True),  # a Tuesday, Victoire 1945
        ("2012-05-17T12:00:00+02:00", True),  # a Thursday, Ascension (a movable feast)
        ("2012-05-09T12:00:00+02:00", False),  # the day after, a working day
    ],
)
def test_on_call_is_outside_0830_1830_paris_on_working_days(when, on_call):
    assert is_on_call(paris(when), CONFIG) is on_call


def test_the_holidays_are_the_french_calendar():
    assert is_public_holiday(date(2012, 7, 14)) and is_public_holiday(date(2012, 5, 28))  # Pentecost Monday
    assert not is_public_holiday(date(2012, 7, 13))


def test_working_hours_are_configurable():
    config = OpinionsConfig(working_day_start=time(9, 0), working_day_end=time(17, 0))
    assert is_on_call(paris("2012-05-02T08:45:00+02:00"), config)
    assert not is_on_call(paris("2012-05-02T16:59:00+02:00"), config)
    with pytest.raises(ValueError, match="after working_day_start"):
        OpinionsConfig(working_day_start=time(18, 0), working_day_end=time(8, 0))


def test_an_answer_within_24_hours_counts_at_24_hours_exactly_and_not_a_second_later():
    asked = paris("2012-05-02T18:30:00+02:00")
    later = paris("2012-06-01T00:00:00+02:00")
    assert outcome(asked, paris("2012-05-02T19:15:00+02:00"), later, CONFIG) == Outcome(ANSWERED, 45 * 60)
    assert outcome(asked, paris("2012-05-03T18:30:00+02:00"), later, CONFIG) == Outcome(ANSWERED, 24 * 3600)
    assert outcome(asked, paris("2012-05-03T18:30:01+02:00"), later, CONFIG) == Outcome(UNANSWERED, None)
    assert outcome(asked, None, paris("2012-05-03T18:30:00+02:00"), CONFIG) == Outcome(UNANSWERED, None)
    assert outcome(asked, None, paris("2012-05-03T18:29:59+02:00"), CONFIG) == Outcome(PENDING, None)
    assert (
        outcome(asked, paris("2012-05-04T10:00:00+02:00"), later, OpinionsConfig(answer_within_hours=48)).status
        == ANSWERED
    )


def test_turnaround_percentiles_are_nearest_rank_in_whole_minutes():
    seconds = [2700, 86400]
    assert percentile_minutes(seconds, 50) == 45  # rank ceil(0.5 x 2) = 1
    assert percentile_minutes(seconds, 90) == 1440  # rank ceil(0.9 x 2) = 2
    assert percentile_minutes([60, 120, 179, 600, 6000], 50) == 2  # 179 s: 2 whole minutes
    assert percentile_minutes([], 50) is None


def pair(requester, responder, answered, answered_on_call) -> PairMonth:
    return PairMonth(requester, responder, answered + 1, answered, 1, answered_on_call, answered_on_call, 1, 2)


def test_settlement_nets_each_pair_of_establishments():
    terms = Settlement(fee=Decimal("30.00"), on_call_fee=Decimal("45.00"))
    a_to_b = pair("750000015", "940000027", answered=2, answered_on_call=1)  # 30 + 45 = 75.00
    b_to_a = pair("940000027", "750000015", answered=1, answered_on_call=1)  # 45.00
    c_to_a = pair("910000033", "750000015", answered=3, answered_on_call=0)  # 90.00, nothing back
    assert owed(a_to_b, terms) == Decimal("75.00")
    lines = net([a_to_b, b_to_a, c_to_a], terms)
    assert [(x.debtor, x.creditor, x.amount) for x in lines] == [
        ("750000015", "940000027", Decimal("30.00")),
        ("910000033", "750000015", Decimal("90.00")),
    ]
    even = pair("940000027", "750000015", answered=2, answered_on_call=1)  # 75.00 both ways: nothing owed
    assert net([a_to_b, even], terms) == []
    assert to_csv(Month(2012, 5), lines[:1]) == "month,debtor,creditor,amount\n2012-05,750000015,940000027,30.00\n"


def test_pairs_file(tmp_path):
    assert load_pairs(tmp_path) == ()  # no file: no pilot
    path = tmp_path / "opinion_pairs.csv"
    path.write_text(
        "requester,responder,from,to\n750000015,940000027,2012-05-01,\n940000027,750000015,2012-05-01,2012-05-20\n"
    )
    a_to_b, b_to_a = load_pairs(tmp_path)
    assert a_to_b.covers("750000015", "940000027", date(2030, 1, 1))
    assert not a_to_b.covers("940000027", "750000015", date(2012, 5, 2))  # one direction
    assert b_to_a.covers("940000027", "750000015", date(2012, 5, 20))
    assert not b_to_a.covers("940000027", "750000015", date(2012, 5, 21))
    assert not a_to_b.covers("750000015", "940000027", date(2012, 4, 30))


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("75000001,940000027,2012-05-01,", "requester", "not a FINESS number"),
        ("750000015,750000015,2012-05-01,", "responder", "cannot ask itself"),
        ("750000015,940000027,2012-13-01,", "from", "not a date"),
        ("750000015,940000027,2012-05-01,2012-04-01", "to", "before from"),
        ("750000015,940000027,2012-05-01,\n750000015,940000027,2012-06-01,", None, "overlaps"),
    ],
)
def test_a_bad_pairs_file_names_the_line_and_field(tmp_path, row, field, message):
    (tmp_path / "opinion_pairs.csv").write_text(f"requester,responder,from,to\n{row}\n")
    with pytest.raises(ContractError, match=message) as caught:
        load_pairs(tmp_path)
    assert caught.value.field == field and caught.value.line in (2, 3)


def test_the_settlement_terms_are_read_from_the_tariff(tmp_path):
    from analytics.billing.tariff import load_tariff_file

    text = open("contracts/framework.yaml", encoding="utf-8").read()
    assert 'on_call_fee: "45.00"' in text
    (tmp_path / "framework.yaml").write_text(text.replace('on_call_fee: "45.00"', 'on_call_fee: "x"'))
    (tmp_path / "price_index.csv").write_text(open("contracts/price_index.csv", encoding="utf-8").read())
    with pytest.raises(ContractError, match="settlement.on_call_fee"):
        load_tariff_file(tmp_path / "framework.yaml")
