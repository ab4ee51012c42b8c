"""The issuing rules that need no database: the issue date, and the documents' file names. The ledger applies them
again under its lock (analytics.billing.ledger), with the order of months."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date

from analytics.billing.ledger_tables import IssueRefused
from analytics.billing.model import Invoice
from analytics.periods import Month

Render = Callable[[Invoice], Mapping[str, bytes]]  # an issued invoice -> its documents by kind (pdf, xml, csv)


def document_name(number: str, kind: str) -> str:
    """The file of an invoice's document: the number (anything but letters, digits, '.', '_', '-' as '_'), the kind."""
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', number)}.{kind}"


def parse_issue_date(text: str) -> date:
    """An ISO date (YYYY-MM-DD) that exists; anything else is refused in one line."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            return date.fromisoformat(text.strip())
        problem = "it is not written YYYY-MM-DD"
    except ValueError as exc:
        problem = str(exc)
    raise IssueRefused(f"issue date '{text}' is not a valid date ({problem}): give an ISO date such as 2012-04-02")


def check_issue_date(month: Month, issue_date: date, today: date) -> None:
    """A month is issued once it is over, on a day from the 1st of the next month up to today (Paris)."""
    opens = month.next().first_day
    if today < opens:
        raise IssueRefused(f"{month} is not over yet (Europe/Paris, today is {today}): it can be issued from {opens}")
    if issue_date < opens:
        raise IssueRefused(f"issue date {issue_date} is before the end of {month}: issue it on or after {opens}")
    if issue_date > today:
        raise IssueRefused(
            f"issue date {issue_date} is after today ({today}, Europe/Paris): invoices are not dated in the future"
        )
