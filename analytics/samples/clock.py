"""Time for the sample corpus: the simulated period, Paris wall-clock time, and the exact instants files carry.

The programme lives in Europe/Paris, so every simulated event is first placed on the Paris wall clock (opening
hours, weekdays, holidays) and only then converted to UTC. Instants are aware UTC datetimes rounded to the
millisecond: they survive the round trip through file mtimes (nanoseconds) and ISO strings unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from analytics.periods import PARIS, Month

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_START = re.compile(r"^(\d{4})-(\d{2})$")
# Fixed-date French public holidays (Easter-based ones are left out: the dip they make is not worth a computus).
_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)})


def parse_start(text: str) -> date:
    """`YYYY-MM` to the first day of that month; ValueError otherwise."""
    match = _START.match(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"start must be a month written YYYY-MM, not {text!r}")
    return date(int(match.group(1)), int(match.group(2)), 1)


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def is_holiday(day: date) -> bool:
    return (day.month, day.day) in _HOLIDAYS


@dataclass(frozen=True, slots=True)
class Period:
    """The simulated calendar months, as Paris dates: [start, end)."""

    start: date
    months: int

    @property
    def end(self) -> date:
        return add_months(self.start, self.months)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def start_utc(self) -> datetime:
        return paris_instant(self.start, time(0))

    @property
    def end_utc(self) -> datetime:
        return paris_instant(self.end, time(0))

    def day_at(self, fraction: float) -> date:
        """The day at this fraction of the period (0 = first day); fractions outside [0, 1] reach outside."""
        return self.start + timedelta(days=round(fraction * self.days))

    def contains(self, instant: datetime) -> bool:
        return self.start_utc <= instant < self.end_utc

    def month_starts(self) -> list[date]:
        return [add_months(self.start, k) for k in range(self.months)]

    def calendar_months(self) -> list[Month]:
        return [Month(d.year, d.month) for d in self.month_starts()]


def paris_instant(day: date, clock: time) -> datetime:
    """A Paris wall-clock time as a UTC instant (a time skipped by the spring DST change lands an hour later)."""
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


def in_paris(instant: datetime) -> datetime:
    return instant.astimezone(PARIS)


def to_ns(instant: datetime) -> int:
    """Nanoseconds since the epoch, exactly (no float on the way)."""
    return (instant - EPOCH) // timedelta(microseconds=1) * 1000


def round_ms(instant: datetime) -> datetime:
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def month_key(instant: datetime) -> str:
    """The billing month (Paris) an instant belongs to, as YYYY-MM."""
    local = in_paris(instant)
    return f"{local.year:04d}-{local.month:02d}"


def iso_local(instant: datetime, digits: int = 3) -> str:
    """`2012-03-05T10:11:12.345+01:00`: Paris time with its offset at that instant."""
    local = in_paris(instant)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{_wall(local, digits)}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def iso_utc(instant: datetime, digits: int = 3) -> str:
    """`2012-03-05T09:11:12.345Z`."""
    return f"{_wall(instant.astimezone(UTC), digits)}Z"


def _wall(moment: datetime, digits: int) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    return text
