"""How invoices write numbers and months: in French, as a finance officer reads them."""

from __future__ import annotations

from decimal import Decimal

from analytics.periods import Month

MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def french_number(number: Decimal) -> str:
    """French number formatting with plain spaces: 1 001, 2 346,75."""
    return format(number, ",f").replace(",", " ").replace(".", ",")


def french_month(month: Month) -> str:
    return f"{MONTHS_FR[month.month - 1]} {month.year}"
