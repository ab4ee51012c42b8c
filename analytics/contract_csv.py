"""The text of a contract CSV file (the registry, the price index, the commitments, the tele-opinion pairs)."""

from __future__ import annotations

import io
from pathlib import Path

from analytics.errors import ContractError


def open_csv_text(path: Path, missing: str) -> io.StringIO:
    """The file's text, for `csv.reader` (a byte-order mark dropped, line ends kept as written). A missing file is a
    ContractError saying `missing`; one that is not UTF-8 (a spreadsheet's default "CSV" export in Windows-1252) is
    one naming the line of the first byte that is not, and how to save it instead."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ContractError(path, missing) from None
    try:
        return io.StringIO(data.decode("utf-8-sig"), newline="")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ContractError(
            path,
            f'is not UTF-8 text (byte 0x{data[exc.start]:02x}): save it as CSV UTF-8 (in a spreadsheet: "CSV UTF-8")',
            line=line,
        ) from None
