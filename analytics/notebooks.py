"""What the analysts' notebooks share: their default month and establishment, and errors shown as one line.

A notebook takes its month and establishment as parameters (papermill-style `parameters` cell); left at None they
default to the latest metered month and the establishment with the most usage that month, so a notebook runs on any
corpus. What is missing (nothing published, no month metered) is said in one line with the command that makes it,
not as a traceback.
"""

from __future__ import annotations

import duckdb

from analytics import metering
from analytics.errors import SansfilmError
from analytics.periods import Month


class NothingMetered(SansfilmError):
    """The published warehouse holds no metered month (no run since the data arrived)."""


def one_line_errors() -> None:
    """In IPython, show sansfilm's own errors as their message (what is missing, what to run), not a traceback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def show(shell, etype, value, tb, tb_offset=None):  # noqa: ANN001  IPython's custom exception signature
        print(f"sansfilm: {' '.join(str(value).split())}")
        return []

    shell.set_custom_exc((SansfilmError,), show)


def metered_months(con: duckdb.DuckDBPyConnection) -> list[Month]:
    return [Month.parse(m) for m in metering.metered_months(con)]


def month_or_latest(con: duckdb.DuckDBPyConnection, month: str | None) -> Month:
    """The month asked for, which must be metered; else the latest metered month."""
    months = metered_months(con)
    if not months:
        raise NothingMetered(
            "no month is metered in the published warehouse yet: run `sansfilm run` (it meters "
            "every month with data and publishes), then run this notebook again"
        )
    if month is None:
        return months[-1]
    wanted = Month.parse(month)
    if wanted not in months:
        raise NothingMetered(f"{wanted} is not metered: metered months are {months[0]} to {months[-1]}")
    return wanted


def month_label(con: duckdb.DuckDBPyConnection, month: Month) -> str:
    """'2013-12' or '2013-12 (month to date, through 2013-12-15)': month-to-date figures are said to be."""
    through = metering.month_to_date(con, month)
    return str(month) if through is None else f"{month} (month to date, through {through})"
