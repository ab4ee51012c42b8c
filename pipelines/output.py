"""Plain-text tables for the command line (numbers right-aligned, text left-aligned), and its CSVs' dialect."""

from __future__ import annotations

from decimal import Decimal

from analytics.metrics import decimal_text
from analytics.reporting.exports import french_dialect

CSV_DIALECTS = ("standard", "fr")
csv_dialect = "standard"  # set by `sansfilm --csv-dialect` (pipelines/cli.py); "standard" is the contract


def csv_out(text: str) -> str:
    """A CSV the CLI prints, in the dialect asked for: unchanged by default (finance scripts read it), or with a BOM,
    `;`, decimal commas and French dates under `--csv-dialect fr` (as the dashboards' downloads)."""
    return french_dialect(text) if csv_dialect == "fr" else text


def text_table(rows: list[dict[str, object]], columns: list[str]) -> str:
    def cell(value: object) -> str:
        return "" if value is None else decimal_text(value) if isinstance(value, Decimal) else str(value)

    widths = {c: max([len(c)] + [len(cell(r.get(c))) for r in rows]) for c in columns}

    def aligned(column: str, value: object) -> str:
        text = cell(value)
        numeric = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
        return text.rjust(widths[column]) if numeric else text.ljust(widths[column])

    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(aligned(c, r.get(c)) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
