"""The rules of one tele-opinion request: on call or not, answered, unanswered, or still within its time to answer.

On call: requested outside [working_day_start, working_day_end) Paris time on a working day, or at any time on a
Saturday, a Sunday or a French public holiday (the `holidays` package's France calendar). Answered: a response
came at most `answer_within_hours` after the request. Unanswered: none came in that time, and that time is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

from analytics.opinions.settings import OpinionsConfig
from analytics.periods import PARIS

ANSWERED, UNANSWERED, PENDING = "answered", "unanswered", "pending"


@lru_cache(maxsize=64)
def _french_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.France(years=year))


def is_public_holiday(day: date) -> bool:
    return day in _french_holidays(day.year)


def is_on_call(requested_at: datetime, config: OpinionsConfig) -> bool:
    """Whether a request (an aware instant) falls outside working hours, Paris time."""
    local = requested_at.astimezone(PARIS)
    day = local.date()
    if local.weekday() >= 5 or is_public_holiday(day):
        return True
    clock = local.time().replace(tzinfo=None)
    return not config.working_day_start <= clock < config.working_day_end


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # answered | unanswered | pending
    turnaround_seconds: int | None  # answered requests only


def outcome(requested_at: datetime, responded_at: datetime | None, now: datetime, config: OpinionsConfig) -> Outcome:
    """A request's status at `now`; a response later than the limit leaves the request unanswered."""
    limit = timedelta(hours=config.answer_within_hours)
    if responded_at is not None and responded_at - requested_at <= limit:
        return Outcome(ANSWERED, int((responded_at - requested_at).total_seconds()))
    if responded_at is not None or now >= requested_at + limit:
        return Outcome(UNANSWERED, None)
    return Outcome(PENDING, None)


def percentile_minutes(seconds: list[int], percent: int) -> int | None:
    """Nearest-rank percentile of turnarounds, in whole minutes (rounded down); None without any."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    rank = -(-percent * len(ordered) // 100)  # ceil(p/100 x n), at least 1
    return ordered[max(rank, 1) - 1] // 60
