"""One clock (analytics.clock): $SANSFILM_NOW, read as Paris time without an offset, else the wall clock."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.clock import current_month, paris_now, paris_today
from analytics.errors import ConfigError
from analytics.periods import Month


@pytest.mark.parametrize(
    ("now", "day", "month"),
    [
        ("2012-03-31T23:30:00", date(2012, 3, 31), Month(2012, 3)),  # Paris time without an offset
        ("2012-03-31T22:30:00+00:00", date(2012, 4, 1), Month(2012, 4)),  # 00:30 in Paris (summer time)
    ],
)
def test_the_clock_follows_sansfilm_now_in_paris(monkeypatch, now, day, month):
    monkeypatch.setenv("SANSFILM_NOW", now)
    assert (paris_today(), current_month(), paris_now().date()) == (day, month, day)


def test_a_bad_sansfilm_now_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("SANSFILM_NOW", "demain")
    with pytest.raises(ConfigError, match=r"\$SANSFILM_NOW is 'demain', not an ISO date-time"):
        paris_today()
