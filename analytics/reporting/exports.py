"""Downloads that open in a spreadsheet with numbers as numbers: a CSV (UTF-8 with a BOM, `;`-separated, decimal
comma, no unit in a numeric cell: the unit is in the header) and an `.xlsx` beside it (typed cells: numbers, dates as
dates, amounts with a € format, ratios with a % format).

These are the dashboards' downloads. The CLI's CSVs that earlier issues spelled out (the invoice lines beside the
Factur-X documents, `sansfilm bill --format csv`, the finance scripts' inputs) are contracts and keep their format by
default; `sansfilm --csv-dialect fr ...` gives them these conventions (`french_dialect`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import polars as pl

from analytics.reporting.labels import paris, yes_no

BOM = "\ufeff"
MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # the header a reader sees, unit included ("montant HT (€)")
    kind: str  # money | percent | integer | number | date | datetime | month | text
    decimals: int
    values: list[object]


def columns(
    frame: pl.DataFrame,
    *,
    money: Iterable[str] = (),
    percent: Iterable[str] = (),
    decimals: Mapping[str, int] | None = None,
    labels: Mapping[str, str] | None = None,
    hidden: Iterable[str] = ("suppressed",),
) -> list[Column]:
    """The frame's columns typed for a spreadsheet, headers in French with their unit."""
    money, percent, decimals, labels = set(money), set(percent), dict(decimals or {}), dict(labels or {})
    out = []
    for name in frame.columns:
        if name in hidden:
            continue
        series, header = frame[name], labels.get(name, name)
        dtype = series.dtype
        if name in money:
            kind, header = "money", f"{header} (€)" if "€" not in header else header
        elif name in percent:
            kind, header = "percent", f"{header} (%)" if "%" not in header else header
        elif name == "month" and (dtype == pl.String or dtype == pl.Date):
            kind = "month"
        elif dtype == pl.Date:
            kind = "date"
        elif isinstance(dtype, pl.Datetime):
            kind = "datetime"
        elif dtype.is_integer() or getattr(dtype, "scale", None) == 0:
            kind = "integer"
        elif dtype.is_numeric():
            kind = "number"
        else:
            kind = "text"
        values = series.to_list()
        if kind == "text":
            values = [yes_no(v) if isinstance(v, bool) else v for v in values]
        out.append(Column(header, kind, decimals.get(name, 2 if kind in ("money", "number") else 1), values))
    return out


def _month(value: object) -> date | None:
    if value is None:
        return None
    return value if isinstance(value, date) else date(int(str(value)[:4]), int(str(value)[5:7]), 1)


def _finite(value: object) -> bool:
    return value is not None and not (
        isinstance(value, float) and (value != value or value in (float("inf"), float("-inf")))
    )


def _csv_cell(column: Column, value: object) -> str:
    if not _finite(value):
        return ""
    if column.kind == "month":
        month = _month(value)
        return f"{MONTHS_FR[month.month - 1]} {month.year}"
    if column.kind == "date":
        return value.strftime("%d/%m/%Y")
    if column.kind == "datetime":
        return (paris(value) if value.tzinfo else value).strftime("%d/%m/%Y %H:%M")
    if column.kind == "integer":
        return str(int(value))
    if column.kind in ("money", "number", "percent"):
        number = Decimal(str(value)) * (100 if column.kind == "percent" else 1)
        digits = column.decimals if column.kind != "money" else max(2, -number.as_tuple().exponent)
        return f"{number:.{digits}f}".replace(".", ",")
    return str(value)


def csv_text(cols: list[Column]) -> str:
    """UTF-8 with a BOM (a spreadsheet then reads the accents), `;` between cells, decimal comma, no thousands
    separator and no unit in numeric cells (a spreadsheet reads them as numbers)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([c.name for c in cols])
    for i in range(len(cols[0].values) if cols else 0):
        writer.writerow([_csv_cell(c, c.values[i]) for c in cols])
    return out.getvalue()


def xlsx_bytes(cols: list[Column], sheet: str = "données") -> bytes:
    """An Excel workbook of one sheet: numbers as numbers, dates as dates, amounts with a € format, ratios as %."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "remove_timezone": True})
    page = book.add_worksheet(sheet[:31])
    bold = book.add_format({"bold": True, "text_wrap": True})
    formats = {
        "money": book.add_format({"num_format": '#,##0.00 "€"'}),
        "integer": book.add_format({"num_format": "#,##0"}),
        "date": book.add_format({"num_format": "dd/mm/yyyy"}),
        "datetime": book.add_format({"num_format": "dd/mm/yyyy hh:mm"}),
        "month": book.add_format({"num_format": "mmm yyyy"}),
    }
    for j, column in enumerate(cols):
        page.write_string(0, j, column.name, bold)
        page.set_column(j, j, max(12, min(48, len(column.name) + 2)))
        places = "0" * column.decimals
        number = book.add_format({"num_format": f"#,##0.{places}" if places else "#,##0"})
        percent = book.add_format({"num_format": f"0.{places} %" if places else "0 %"})
        for i, value in enumerate(column.values, start=1):
            if not _finite(value):
                continue
            if column.kind == "money":
                page.write_number(i, j, float(value), formats["money"])
            elif column.kind == "percent":
                page.write_number(i, j, float(value), percent)
            elif column.kind == "integer":
                page.write_number(i, j, int(value), formats["integer"])
            elif column.kind == "number":
                page.write_number(i, j, float(value), number)
            elif column.kind == "month":
                page.write_datetime(i, j, datetime.combine(_month(value), datetime.min.time()), formats["month"])
            elif column.kind == "date":
                page.write_datetime(i, j, datetime.combine(value, datetime.min.time()), formats["date"])
            elif column.kind == "datetime":
                moment = paris(value).replace(tzinfo=None) if value.tzinfo else value
                page.write_datetime(i, j, moment, formats["datetime"])
            else:
                page.write_string(i, j, str(value))
    page.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


_NUMBER = re.compile(r"-?\d+\.\d+")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# a moment, alone or followed by one word (payments list's `sent`: "<moment> outbox"); text after it is left alone
_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)( [a-z]+)?")


def french_dialect(text: str) -> str:
    """A plain CSV (`,`, decimal point, ISO dates) in the downloads' conventions: a BOM, `;` between cells, a decimal
    comma in numbers (still bare: no unit, no thousands separator), days as 31/12/2012, moments (ISO 8601, such as
    a ledger act's `recorded_at`, or one followed by a word, such as `payments list`'s `sent`, "<moment> outbox") as
    20/01/2011 12:00:00 in Paris time (a moment without an offset is UTC, as the ledger stores them), which a French
    spreadsheet reads as a date and time; headers and text unchanged."""

    def cell(value: str) -> str:
        if _NUMBER.fullmatch(value):
            return value.replace(".", ",")
        if moment := _MOMENT.fullmatch(value):
            try:
                return paris(datetime.fromisoformat(moment[1])).strftime("%d/%m/%Y %H:%M:%S") + (moment[2] or "")
            except ValueError:  # shaped like a moment, not one (February 30th): left as it is
                return value
        day = _DAY.fullmatch(value)
        return f"{day[3]}/{day[2]}/{day[1]}" if day else value

    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in csv.reader(io.StringIO(text.removeprefix(BOM))):
        writer.writerow([cell(v) for v in row])
    return out.getvalue()
