"""Reading an audit log file, line by line, into `LogLine`s: plain (still growing) or gzip (rotated, finished).

Read as a stream with bounds (`max_line_bytes`, `max_decompressed_bytes`; docs/harvest.md, "Bounds on audit logs"),
so memory stays flat whatever a file holds; each line is parsed by `analytics.audit_reader`. Messages never name
the file: its path may name a patient.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from analytics.audit_reader import parse_syslog_line
from analytics.config import DEFAULT_MAX_LOG_DECOMPRESSED_BYTES, DEFAULT_MAX_LOG_LINE_BYTES
from analytics.errors import MalformedRecord
from analytics.pseudonym import Pseudonymiser
from analytics.records import AuditRecord

_GZIP_MAGIC = b"\x1f\x8b"
_SKIP_PIECE = 1 << 16  # an over-long line is read through in pieces of this size


@dataclass(frozen=True, slots=True)
class LogLine:
    """One non-blank line of a log file: its records, or why it was rejected (exactly one of the two is set).

    `end_offset` is where the next read resumes (just after this line's newline), so a caller can store it with
    `line_no` and pick up appended lines later without re-reading the file.
    """

    line_no: int
    end_offset: int
    records: list[AuditRecord] | None
    error: str | None


def read_log(
    path: Path,
    pseudonymise: Pseudonymiser,
    *,
    start_offset: int = 0,
    start_line: int = 0,
    max_line_bytes: int = DEFAULT_MAX_LOG_LINE_BYTES,
    max_decompressed_bytes: int = DEFAULT_MAX_LOG_DECOMPRESSED_BYTES,
) -> Iterator[LogLine]:
    """Read a log file from where the last read stopped, one LogLine per complete, non-blank line.

    Read as a stream, memory bounded whatever the file holds: a line longer than `max_line_bytes` (newline not
    counted) is skipped without being kept and comes back as a LogLine with an error, the lines around it are read.
    Plain files may still be written to, so a last line without newline is left for the next read. Gzip files
    (rotated, finished) are read whole from the start, last line included; a corrupt or truncated one, or one that
    decompresses to more than `max_decompressed_bytes` (a gzip bomb), raises MalformedRecord before any line is
    yielded, so the caller can quarantine the whole file. Messages never name the file (its path may name a patient).
    Raises ValueError when the arguments cannot be honoured (offset not just after a newline: the file was
    truncated or replaced since the last read).
    """
    path = Path(path)
    if start_offset < 0 or start_line < 0:
        raise ValueError("start_offset and start_line must not be negative")
    if _is_gzip(path):
        if start_offset != 0:
            raise ValueError("a gzip file is always read from the start (start_offset must be 0)")
        return _read_gzip(path, pseudonymise, start_line, max_line_bytes, max_decompressed_bytes)
    if start_offset:
        with path.open("rb") as f:
            f.seek(start_offset - 1)
            if f.read(1) != b"\n":
                raise ValueError(
                    f"start_offset {start_offset} is not just after a newline"
                    " (the file was truncated or replaced since it was last read)"
                )
    return _read_plain(path, pseudonymise, start_offset, start_line, max_line_bytes)


def _is_gzip(path: Path) -> bool:
    if path.suffix.lower() == ".gz":
        return True
    with path.open("rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _bounded_lines(f, max_line_bytes: int) -> Iterator[tuple[bytes | None, int, bool]]:
    """(line, or None when longer than the bound; its length in bytes; whether it ends with a newline).

    An over-long line is read through in small pieces and dropped, so memory never holds more than the bound."""
    while True:
        raw = f.readline(max_line_bytes + 1)
        if not raw:
            return
        if raw.endswith(b"\n") or len(raw) <= max_line_bytes:
            yield raw, len(raw), raw.endswith(b"\n")
            continue
        length, more = len(raw), b""
        while True:
            more = f.readline(_SKIP_PIECE)
            length += len(more)
            if not more or more.endswith(b"\n"):
                break
        yield None, length, more.endswith(b"\n")


def _read_plain(
    path: Path, pseudonymise: Pseudonymiser, offset: int, line_no: int, max_line_bytes: int
) -> Iterator[LogLine]:
    with path.open("rb") as f:
        f.seek(offset)
        yield from _entries(f, offset, line_no, max_line_bytes, pseudonymise, finished=False)


def _read_gzip(
    path: Path, pseudonymise: Pseudonymiser, line_no: int, max_line_bytes: int, max_decompressed_bytes: int
) -> Iterator[LogLine]:
    with _gzip_errors(), gzip.open(path, "rb") as f:  # integrity and size first: all or nothing
        size = 0
        while chunk := f.read(1 << 20):
            size += len(chunk)
            if size > max_decompressed_bytes:
                raise MalformedRecord(
                    f"gzip file decompresses to more than {max_decompressed_bytes} bytes"
                    " (max_log_decompressed_bytes): not read"
                )
    with _gzip_errors(), gzip.open(path, "rb") as f:
        yield from _entries(f, 0, line_no, max_line_bytes, pseudonymise, finished=True)


def _entries(
    f, offset: int, line_no: int, max_line_bytes: int, pseudonymise: Pseudonymiser, *, finished: bool
) -> Iterator[LogLine]:
    """LogLines from the file's position; a last line without its newline waits for the next read, unless the file
    is `finished` (a rotated gzip file)."""
    for raw, length, complete in _bounded_lines(f, max_line_bytes):
        if not (complete or finished):
            return  # still being written: the next read starts at this line
        offset += length
        line_no += 1
        if raw is None:
            yield LogLine(
                line_no, offset, None, f"line longer than {max_line_bytes} bytes (max_log_line_bytes): not read"
            )
        elif raw.strip():
            yield _log_line(raw, line_no, offset, pseudonymise)


@contextmanager
def _gzip_errors() -> Iterator[None]:
    """Turn the several ways a gzip stream fails into one MalformedRecord naming the problem."""
    try:
        yield
    except EOFError:
        raise MalformedRecord("gzip file is truncated (compressed stream ends early)") from None
    except gzip.BadGzipFile:
        raise MalformedRecord("gzip file is corrupt (bad header, CRC or length)") from None
    except zlib.error:
        raise MalformedRecord("gzip file is corrupt (invalid compressed data)") from None


def _log_line(raw: bytes, line_no: int, end_offset: int, pseudonymise: Pseudonymiser) -> LogLine:
    try:
        return LogLine(line_no, end_offset, parse_syslog_line(raw, pseudonymise), None)
    except MalformedRecord as err:
        return LogLine(line_no, end_offset, None, str(err))
