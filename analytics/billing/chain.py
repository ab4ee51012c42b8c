"""Tamper evidence for the ledger: every recorded row carries the hash of its content and of the row before it.

Why: French invoicing law wants numbering without gap and issued invoices never altered; certified billing software
shows it by chaining each record to the previous one by a hash, verified on demand. The database triggers already
refuse UPDATE and DELETE, but whoever can drop a trigger can edit a row: the chain makes such an edit visible.

- One chain through every recorded row of every chained table (issued months, invoices, their lines, usage, price
  revision, parties and documents; later credit notes and payments join it the same way): each row holds its
  position `chain_seq` (1, 2, ... across tables), `prev_hash` (the `row_hash` of the row at the position before, or
  64 zeros for the first) and `row_hash` = SHA-256 of `prev_hash`, a newline and the row's canonical content. The
  counter row holds the chain's length and head (the last `row_hash`), so removing the last rows is seen too.
- Canonical content: the table name and the row's columns other than the three chain columns, as JSON with sorted
  keys and no spaces, UTF-8. Values in backend-independent text: a Decimal in plain notation as stored (`0.20`
  stays `0.20`, minus zero is `0.00`), a date in ISO form, integers as numbers, NULL columns left out (so a nullable
  column added by a later revision leaves the older rows' hashes as they were). SQLite and PostgreSQL therefore give
  the same hashes for the same ledger.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

GENESIS = "0" * 64
CHAIN_COLUMNS = ("chain_seq", "prev_hash", "row_hash")


def canonical_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        return format(abs(value) if value == 0 else value, "f")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"no canonical form for {type(value).__name__} {value!r}")


def canonical(table: str, content: Mapping[str, Any]) -> bytes:
    row = {
        name: canonical_value(value)
        for name, value in content.items()
        if value is not None and name not in CHAIN_COLUMNS
    }
    return json.dumps({"row": row, "table": table}, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def row_hash(prev_hash: str, table: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(table, content)).hexdigest()


@dataclass
class ChainWriter:
    """Appends rows to the chain in the order they are recorded: `link` gives each its three chain columns."""

    length: int
    head: str

    def link(self, table: str, content: Mapping[str, Any]) -> dict[str, Any]:
        self.length += 1
        hashed = row_hash(self.head, table, content)
        linked = {**content, "chain_seq": self.length, "prev_hash": self.head, "row_hash": hashed}
        self.head = hashed
        return linked


@dataclass(frozen=True)
class ChainedRow:
    table: str
    key: str  # the row's primary key, for messages: "invoice_line RSF-000003 2"
    chain_seq: int | None
    prev_hash: str | None
    row_hash: str | None
    content: Mapping[str, Any]

    @property
    def name(self) -> str:
        where = f" (chain position {self.chain_seq})" if self.chain_seq is not None else ""
        return f"{self.table} {self.key}{where}"


@dataclass(frozen=True)
class Verification:
    rows: int
    invoices: int
    head: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(rows: Iterable[ChainedRow], length: int, head: str) -> list[str]:
    """Every problem of the chain, the first broken row first: a row out of the chain, a gap in the positions (a
    deleted row), a `prev_hash` that is not the previous row's hash, a content that no longer gives its hash (an
    altered row), a head or length that does not match the last row (rows removed at the end)."""
    rows = list(rows)
    problems = [
        f"{r.name} is not in the chain (no position or hash)"
        for r in rows
        if r.chain_seq is None or r.prev_hash is None or r.row_hash is None
    ]
    chained = sorted(
        (r for r in rows if r.chain_seq is not None and r.prev_hash and r.row_hash), key=lambda r: r.chain_seq or 0
    )
    previous: ChainedRow | None = None
    for row in chained:
        assert row.chain_seq is not None and row.prev_hash is not None
        expected_seq = previous.chain_seq + 1 if previous is not None and previous.chain_seq is not None else 1
        if previous is not None and row.chain_seq == previous.chain_seq:
            problems.append(f"{row.name} and {previous.name} share one chain position")
        elif row.chain_seq != expected_seq:
            after = f"after {previous.name}" if previous else "at the start"
            problems.append(
                f"the chain jumps {after} to {row.name}: {row.chain_seq - expected_seq} row(s) missing (deleted)"
            )
        elif row.prev_hash != (previous.row_hash if previous is not None else GENESIS):
            problems.append(f"{row.name} does not follow the row before it (its prev_hash is not that row's hash)")
        if row_hash(row.prev_hash, row.table, row.content) != row.row_hash:
            problems.append(f"{row.name} was altered: its content no longer gives its hash")
        previous = row
    last_seq = previous.chain_seq if previous is not None else 0
    last_hash = previous.row_hash if previous is not None else GENESIS
    if last_seq != length or last_hash != head:
        problems.append(
            f"the counter says the chain has {length} row(s) ending in {head[:12]}…, the rows end at "
            f"position {last_seq} with {str(last_hash)[:12]}…: rows were removed or added at the end"
        )
    return problems


def verify_numbering(seqs: Sequence[tuple[int, str]], last_value: int, number: Any) -> list[str]:
    """Invoice numbers contiguous from 1, each number the one of its sequence value, and the counter on the last."""
    problems = []
    expected = 1
    for seq, found in sorted(seqs):
        if seq != expected:
            missing = number(expected) if seq == expected + 1 else f"{number(expected)} to {number(seq - 1)}"
            problems.append(f"gap in the numbering: {missing} missing before {found}")
        if found != number(seq):
            problems.append(f"invoice {found} has sequence value {seq} (its number should be {number(seq)})")
        expected = seq + 1
    if last_value != expected - 1:
        last = number(expected - 1) if expected > 1 else "none"
        problems.append(
            f"the invoice sequence is at {last_value} but the last invoice is {last}: the next number "
            f"would be {number(last_value + 1)}, leaving a gap"
            if last_value > expected - 1
            else f"the invoice sequence is at {last_value} but invoice {last} exists: it would be numbered again"
        )
    return problems
