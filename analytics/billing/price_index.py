"""The price index file (`contracts/price_index.csv`): the published values the annual price revision is computed from.

One row per index and month: `index,period,value,published_on`. A finance officer adds a row each time the index is
published (docs/billing.md, "Adding a newly published index value"); nothing else in the contracts changes. The file
is read strictly: every error names the file, the line and the column, and a value is never guessed or dropped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from analytics.billing.model import IndexPoint
from analytics.contract_text import open_csv_text
from analytics.errors import ContractError
from analytics.periods import Month

PRICE_INDEX_FILE = "price_index.csv"
PRICE_INDEX_COLUMNS = ("index", "period", "value", "published_on")
_INDEX_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_POSITIVE = re.compile(r"\d+(\.\d+)?")


@dataclass(frozen=True, slots=True)
class PriceIndex:
    """Every listed value, by index name then period."""

    path: Path
    series: dict[str, dict[Month, IndexPoint]]

    def value(self, index: str, period: Month) -> IndexPoint | None:
        return self.series.get(index, {}).get(period)

    def last_published_before(self, index: str, day: date) -> IndexPoint | None:
        """The value of the latest month among those published strictly before `day`."""
        known = [p for p in self.series.get(index, {}).values() if p.published_on < day]
        return max(known, key=lambda p: p.period) if known else None


def read_csv_rows(path: Path, columns: tuple[str, ...], what: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a contract CSV whose header must be exactly `columns`; cells are stripped; blank lines skipped.

    Raises ContractError naming the file, the line and the column for a missing file, a wrong header or a row with
    too many or too few cells.
    """
    with open_csv_text(path, f"the {what} is missing") as handle:
        reader = csv.reader(handle)
        try:
            header = [cell.strip() for cell in next(reader)]
        except StopIteration:
            raise ContractError(
                path, f"is empty: the first line must be the header {','.join(columns)}", line=1
            ) from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ContractError(path, f"cannot be read as UTF-8 CSV ({exc})", line=1) from None
        for column in columns:
            if column not in header:
                raise ContractError(
                    path, f"missing column '{column}' (header: {','.join(columns)})", line=1, field=column
                )
        for column in header:
            if column not in columns:
                raise ContractError(
                    path, f"unknown column '{column}' (expected: {', '.join(columns)})", line=1, field=column
                )
        if len(set(header)) != len(header):
            raise ContractError(path, "a column is given twice", line=1)
        try:
            for cells in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) > len(header):
                    raise ContractError(path, f"{len(cells)} cells for {len(header)} columns", line=line)
                if len(cells) < len(header):
                    missing = header[len(cells)]
                    raise ContractError(path, f"{len(cells)} cells for {len(header)} columns", line=line, field=missing)
                yield line, {column: cell.strip() for column, cell in zip(header, cells, strict=True)}
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ContractError(path, f"cannot be read as UTF-8 CSV ({exc})", line=reader.line_num) from None


def parse_decimal(path: Path, line: int, field: str, text: str, *, positive: bool = True) -> Decimal:
    """A decimal written with a point (never a comma, never a float), > 0 unless `positive` is False (then >= 0)."""
    if "," in text and _POSITIVE.fullmatch(text.replace(",", ".")):
        raise ContractError(
            path, f"'{text}' uses a decimal comma: write {text.replace(',', '.')}", line=line, field=field
        )
    if not _POSITIVE.fullmatch(text):
        raise ContractError(
            path, f"'{text}' is not a number (digits with a decimal point, e.g. 241.3)", line=line, field=field
        )
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already guarantees a decimal
        raise ContractError(path, f"'{text}' is not a number", line=line, field=field) from None
    if positive and number == 0:
        raise ContractError(path, "must be greater than 0", line=line, field=field)
    return number


def load_price_index(contracts_dir: Path) -> PriceIndex:
    """Read and validate `contracts_dir/price_index.csv`."""
    path = Path(contracts_dir) / PRICE_INDEX_FILE
    series: dict[str, dict[Month, IndexPoint]] = {}
    lines: dict[tuple[str, Month], int] = {}
    for line, row in read_csv_rows(path, PRICE_INDEX_COLUMNS, "price index file"):
        name = row["index"]
        if not _INDEX_NAME.fullmatch(name):
            raise ContractError(path, f"'{name}' is not an index name (a word, e.g. SYNTEC)", line=line, field="index")
        try:
            period = Month.parse(row["period"])
        except ValueError:
            raise ContractError(
                path, f"'{row['period']}' is not a month (YYYY-MM)", line=line, field="period"
            ) from None
        value = parse_decimal(path, line, "value", row["value"])
        try:
            published_on = date.fromisoformat(row["published_on"])
        except ValueError:
            raise ContractError(
                path, f"'{row['published_on']}' is not a date (YYYY-MM-DD)", line=line, field="published_on"
            ) from None
        if published_on < period.next().first_day:
            raise ContractError(
                path,
                f"published on {published_on}, before the end of its month {period}: the value of a month is "
                "published after it",
                line=line,
                field="published_on",
            )
        if (name, period) in lines:
            raise ContractError(
                path,
                f"{name} {period} is listed twice (first on line {lines[name, period]})",
                line=line,
                field="period",
            )
        lines[name, period] = line
        series.setdefault(name, {})[period] = IndexPoint(period, value, published_on)
    return PriceIndex(path, series)
