"""The dashboards' downloads open in a spreadsheet with numbers as numbers: a CSV with a BOM, `;`, decimal comma and
no unit in numeric cells; an .xlsx with typed cells (numbers, dates as dates, amounts with a € format)."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import polars as pl

from analytics.reporting import exports

FRAME = pl.DataFrame(
    {
        "month": ["2012-12", "2013-01"],
        "establishment_id": ["750238172", "940228794"],
        "net": [Decimal("1234.56"), Decimal("10.00")],
        "mom": [None, -0.125],
        "studies": [3973, 12],
        "issue_date": [date(2013, 1, 2), None],
        "checked_at": [datetime(2012, 12, 4, 7, 11, tzinfo=UTC)] * 2,
        "suppressed": [False, False],
    },
    schema_overrides={"net": pl.Decimal(18, 2)},
)
LABELS = {
    "month": "mois",
    "establishment_id": "FINESS",
    "net": "HT",
    "mom": "évolution",
    "studies": "examens",
    "issue_date": "émise le",
    "checked_at": "vérifié le",
}


def typed():
    return exports.columns(FRAME, money=("net",), percent=("mom",), labels=LABELS)


def test_the_csv_has_a_bom_semicolons_and_bare_numbers():
    text = exports.csv_text(typed())
    assert text.startswith("\ufeff")
    header, first, second = text[1:].splitlines()
    assert header == "mois;FINESS;HT (€);évolution (%);examens;émise le;vérifié le"  # units in the header only
    assert first == "déc. 2012;750238172;1234,56;;3973;02/01/2013;04/12/2012 08:11"  # Paris time, no thousands sep
    assert second == "janv. 2013;940228794;10,00;-12,5;12;;04/12/2012 08:11"


def test_the_workbook_has_typed_cells():
    book = zipfile.ZipFile(BytesIO(exports.xlsx_bytes(typed())))
    sheet = book.read("xl/worksheets/sheet1.xml").decode()
    styles = book.read("xl/styles.xml").decode()
    cells = dict(re.findall(r'<c r="([A-Z]+\d+)"[^>]*?(?:t="s")?[^>]*>(?:<v>([^<]*)</v>)?', sheet))
    assert cells["C2"] == "1234.56" and 't="s"' not in re.search(r'<c r="C2"[^>]*>', sheet).group(0)  # a number
    assert cells["E2"] == "3973"
    assert cells["D3"] == "-0.125"  # a ratio with a % format
    assert float(cells["F2"]) == 41276  # 2013-01-02 as an Excel date serial
    assert float(cells["A2"]) == 41244  # the month as its first day
    assert "&quot;€&quot;" in styles and "dd/mm/yyyy" in styles and "mmm yyyy" in styles and "0.0 %" in styles
