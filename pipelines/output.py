"""Plain-text tables for the command line (numbers right-aligned, text left-aligned)."""

from __future__ import annotations

from decimal import Decimal


def text_table(rows: list[dict[str, object]], columns: list[str]) -> str:
    def cell(value: object) -> str:
        return "" if value is None else str(value)

    widths = {c: max([len(c)] + [len(cell(r.get(c))) for r in rows]) for c in columns}

    def aligned(column: str, value: object) -> str:
        text = cell(value)
        numeric = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
        return text.rjust(widths[column]) if numeric else text.ljust(widths[column])

    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(aligned(c, r.get(c)) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
