"""The pilot pairs of tele-opinions (`contracts/opinion_pairs.csv`): who may ask whom, and over which days.

Columns `requester,responder,from,to`: FINESS numbers of the asking and the answering establishment, and the first
and last Paris day (YYYY-MM-DD, `to` empty: still running) of the pair. A pair is one direction; a pilot where both
sides ask lists both. Transfers outside a listed pair and its days stay shares. No file: no pilot, no request.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from analytics.contract_text import open_csv_text
from analytics.errors import ContractError
from analytics.registry import Registry

PAIRS_FILE = "opinion_pairs.csv"
COLUMNS = ("requester", "responder", "from", "to")


@dataclass(frozen=True, slots=True)
class OpinionPair:
    requester: str
    responder: str
    first_day: date
    last_day: date | None  # None: open-ended

    def covers(self, requester: str, responder: str, day: date) -> bool:
        return (
            (requester, responder) == (self.requester, self.responder)
            and self.first_day <= day
            and (self.last_day is None or day <= self.last_day)
        )


def load_pairs(contracts_dir: Path, registry: Registry | None = None) -> tuple[OpinionPair, ...]:
    """Read and validate the pairs; with a registry, both sides must be in it."""
    path = Path(contracts_dir) / PAIRS_FILE
    if not path.exists():
        return ()
    known = registry.by_id() if registry is not None else None
    pairs: list[OpinionPair] = []
    with open_csv_text(path, "the tele-opinion pairs file is missing") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if tuple(header) != COLUMNS:
            raise ContractError(path, f"the header must be {','.join(COLUMNS)}", line=1)
        for row in reader:
            pair = _pair(path, reader.line_num, row, known)
            for other in pairs:
                if (other.requester, other.responder) == (pair.requester, pair.responder) and _overlap(other, pair):
                    raise ContractError(path, "overlaps an earlier line of the same pair", line=reader.line_num)
            pairs.append(pair)
    return tuple(pairs)


def _overlap(a: OpinionPair, b: OpinionPair) -> bool:
    return (a.last_day is None or b.first_day <= a.last_day) and (b.last_day is None or a.first_day <= b.last_day)


def _pair(path: Path, line: int, row: dict[str, str | None], known: dict | None) -> OpinionPair:
    if None in row:
        raise ContractError(path, "more cells than columns", line=line)
    cells = {c: (row.get(c) or "").strip() for c in COLUMNS}
    for side in ("requester", "responder"):
        if not re.fullmatch(r"\d{9}", cells[side]):
            raise ContractError(path, f"'{cells[side]}' is not a FINESS number (9 digits)", line=line, field=side)
        if known is not None and cells[side] not in known:
            raise ContractError(path, f"{cells[side]} is not in the establishment registry", line=line, field=side)
    if cells["requester"] == cells["responder"]:
        raise ContractError(path, "an establishment cannot ask itself", line=line, field="responder")
    days: dict[str, date | None] = {}
    for field in ("from", "to"):
        if not cells[field] and field == "to":
            days[field] = None
            continue
        try:
            days[field] = date.fromisoformat(cells[field])
        except ValueError:
            raise ContractError(path, f"'{cells[field]}' is not a date (YYYY-MM-DD)", line=line, field=field) from None
    first, last = days["from"], days["to"]
    assert first is not None
    if last is not None and last < first:
        raise ContractError(path, f"{last} is before from ({first})", line=line, field="to")
    return OpinionPair(cells["requester"], cells["responder"], first, last)
