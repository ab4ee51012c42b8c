"""The programme's clock: Paris time, injectable so that a replay or a test has a "current month" of its own.

`SANSFILM_NOW` (an ISO date-time; without an offset it is Paris time) stands in for the wall clock wherever sansfilm
asks what month it is now or what day it is: which month is metered as month-to-date, which months are finished and
drafted, whether a month is over to issue, the day an act is dated and checked against. It is the one clock of
sansfilm: commands, Dagster jobs and the dashboards read it here; tests set `SANSFILM_NOW` rather than patch it.
"""

from __future__ import annotations

import os
from datetime import date, datetime

from analytics.errors import ConfigError
from analytics.periods import PARIS, Month

NOW_ENV = "SANSFILM_NOW"


def paris_now(now: datetime | None = None) -> datetime:
    """`now` if given, else $SANSFILM_NOW, else the wall clock; always in Europe/Paris."""
    if now is None:
        text = os.environ.get(NOW_ENV)
        if not text:
            return datetime.now(PARIS)
        try:
            now = datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"${NOW_ENV} is '{text}', not an ISO date-time (e.g. 2013-12-15T06:00)") from None
    return now.replace(tzinfo=PARIS) if now.tzinfo is None else now.astimezone(PARIS)


def paris_today() -> date:
    """Today in Europe/Paris by the programme's clock: the day that issuing, crediting and payments check against."""
    return paris_now().date()


def current_month(now: datetime | None = None) -> Month:
    today = paris_now(now).date()
    return Month(today.year, today.month)
