"""The text of a contract file: the YAML ones (framework.yaml, the data contracts) and the CSV ones (the registry, the
price index, the commitments, the tele-opinion pairs)."""

from __future__ import annotations

import io
import re
from pathlib import Path

from analytics.errors import ContractError

_LINE_END = re.compile(rb"\r\n|\r|\n")  # as csv.reader and YAML count lines


def read_contract_text(path: Path, *, missing: str | None, save_as: str = "UTF-8") -> str | None:
    """The file's text. A missing file is a ContractError saying `missing`, or None when `missing` is None (an
    optional file); one that is not UTF-8 (a spreadsheet's or an editor's Windows-1252) is one naming the line of the
    first byte that is not, and to save it as `save_as`. A byte-order mark is dropped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        if missing is None:
            return None
        raise ContractError(path, missing) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = len(_LINE_END.split(data[: exc.start]))
        raise ContractError(
            path, f"is not UTF-8 text (byte 0x{data[exc.start]:02x}): save it as {save_as}", line=line
        ) from None


def open_csv_text(path: Path, missing: str) -> io.StringIO:
    """The CSV file's text for `csv.reader` (line ends kept as written), or the ContractError of read_contract_text.
    Every contract CSV has several columns: a header with `;` and no `,` is a spreadsheet's French CSV, refused with
    what to do (read with `,`, it would be one unknown column)."""
    text = read_contract_text(path, missing=missing, save_as='CSV UTF-8 (in a spreadsheet: "CSV UTF-8")')
    header = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    if ";" in header and "," not in header:
        raise ContractError(
            path,
            "separates its cells with ';': contract CSVs use ',' (in a spreadsheet, save as CSV with ',' as the "
            "field delimiter, or replace each ';' by ',')",
            line=1,
        )
    return io.StringIO(text, newline="")
