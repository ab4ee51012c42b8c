"""The programme's clock: Paris time, injectable so that a replay or a test has a "current month" of its own.

`SANSFILM_NOW` (an ISO date-time; without an offset it is Paris time) stands in for the wall clock wherever sansfilm
asks what month it is now: which month is metered as month-to-date, which months are finished and drafted.
"""

from __future__ import annotations

import os
from datetime import datetime

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


def current_month(now: datetime | None = None) -> Month:
    today = paris_now(now).date()
    return Month(today.year, today.month)
