"""Incremental harvest of one source into the raw layer of the warehouse.

Every file seen is accounted for: parsed, unchanged since the last harvest, or quarantined. Work is committed in
batches, each batch together with the file states it covers, so an interrupted harvest resumes where it stopped and a
re-run never stores a record twice (records are keyed by content: a copied file or log adds nothing).

DICOM headers are read in worker processes; logs are read from where the last harvest stopped (a rotated log is
recognised by its inode and first bytes), as a stream within the configured bounds.

Paths are patient data (archives are often laid out by patient): they are stored in raw.harvest_files only. Every
other table names a file by its key (analytics.file_keys); log lines and quarantine reasons name none.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import duckdb

from analytics.audit_log_files import read_log
from analytics.config import AnySourceConfig, HarvestConfig, SourceConfig
from analytics.dicom_reader import READER_FAILED, parse_dicom_files
from analytics.errors import ConfigError, MalformedRecord
from analytics.file_keys import stored_path, whole_file_quarantine
from analytics.pseudonym import Pseudonymiser
from analytics.raw_batches import LOG_LINES_PER_BATCH, BatchWriter, FileState, SourceReport, instance_frame
from analytics.records import AuditRecord

log = logging.getLogger(__name__)

_HEAD_BYTES = 1024
_FILES_PER_TASK = 64
_PARALLEL_FROM = 256  # below this many files, worker start-up costs more than it saves


def harvest_source(
    target: duckdb.DuckDBPyConnection | Path,
    source: AnySourceConfig,
    pseudonymise: Pseudonymiser,
    options: HarvestConfig | None = None,
) -> SourceReport:
    """Harvest one source incrementally.

    `target` is either an open connection (the raw schema must exist: analytics.warehouse.ensure_schema), held for
    the whole harvest: the fastest when sources are harvested one after the other in one process; or the path of the
    warehouse file, opened for each batch and closed after it: DuckDB lets one process write a file at a time, so
    harvests of several sources running in several processes (Dagster's multiprocess executor) take turns batch by
    batch, each parsing its next batch while another writes."""
    options = options or HarvestConfig()
    if isinstance(source, SourceConfig) and not source.path.is_dir():
        raise ConfigError(f"source '{source.name}': folder {source.path} does not exist")
    report = SourceReport(name=source.name, kind=source.kind)
    harvest_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    writer = BatchWriter(target, source.name, harvest_id, report)
    with writer.session() as con:
        writer.salt = con.execute("select salt from raw.file_key_salt").fetchone()[0]
        con.execute(
            "insert into raw.harvest_runs (harvest_id, source, kind, started_at) values (?, ?, ?, now())",
            [harvest_id, source.name, source.kind],
        )
    if source.kind == "orthanc":
        from analytics.orthanc.harvest import harvest_orthanc  # files_* count instances

        harvest_orthanc(source, pseudonymise, writer)
    elif source.kind in ("dicomweb", "dimse"):
        from analytics.pacs.harvest import harvest_pacs  # files_* count instances

        harvest_pacs(source, pseudonymise, writer)
    elif source.kind == "dicom_files":
        _harvest_dicom(source, pseudonymise, options, writer)
    else:
        _harvest_logs(source, pseudonymise, options, writer)
    with writer.session() as con:
        con.execute(
            """update raw.harvest_runs set finished_at = now(), files_seen = ?, files_parsed = ?, files_unchanged = ?,
               quarantined = ?, records_added = ?, files_quarantined = ?, records_flagged = ? where harvest_id = ?""",
            [
                report.files_seen,
                report.files_parsed,
                report.files_unchanged,
                report.quarantined,
                report.records_added,
                report.files_quarantined,
                report.records_flagged,
                harvest_id,
            ],
        )
    if report.records_flagged:
        log.warning(
            "source %s: %d records stored with values set aside or truncated (see value_flags)",
            source.name,
            report.records_flagged,
        )
    log.info("harvested %s: %s", source.name, report.to_dict())
    return report


def walk_files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file below root (symbolic links are not followed), in a stable order. A folder that cannot be
    listed, or a file examined, is logged without its name (it may be a patient's); a file gone meanwhile is not."""
    stack = [os.fspath(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            log.warning("a folder below %s cannot be listed: %s", root, exc.strerror)
            continue
        subfolders = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subfolders.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # gone since the folder was listed (an archive purging): seen gone next time
                    continue
                except OSError as exc:  # as an unreadable folder: logged without its name, which may be a patient's
                    log.warning("a file below %s cannot be examined: %s", root, exc.strerror)
                    continue
                yield entry.path, st
        stack.extend(reversed(subfolders))


def _new_or_changed(source: SourceConfig, writer: BatchWriter, known: dict[str, FileState]):
    """Every file of the source, counted; yields those whose size or mtime changed since the last harvest."""
    for path, st in walk_files(source.path):
        writer.report.files_seen += 1
        state = known.get(stored_path(path))
        retry = state is not None and (state.reason or "").startswith(READER_FAILED)
        if state is not None and state.size == st.st_size and state.mtime_ns == st.st_mtime_ns and not retry:
            writer.report.files_unchanged += 1
            continue
        yield path, st, state


def _known_files(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, FileState]:
    rows = con.execute(
        """select path, file_key, size_bytes, mtime_ns, device, inode, head_sha256, head_length, read_offset,
                  read_line, status, reason from raw.harvest_files where source = ?""",
        [source],
    ).fetchall()
    return {row[0]: FileState(*row) for row in rows}


# --- DICOM files ------------------------------------------------------------------------------------------------


def _harvest_dicom(
    source: SourceConfig, pseudonymise: Pseudonymiser, options: HarvestConfig, writer: BatchWriter
) -> None:
    """Walk, parse in workers and write in batches; the main process writes one batch while workers parse the next."""
    workers = default_workers() if options.workers is None else options.workers
    pool: ProcessPoolExecutor | None = None
    previous: tuple[list, list] | None = None
    try:
        for batch in _changed_files(source, writer, options.batch_files):
            if pool is None and workers > 0 and (len(batch) >= _PARALLEL_FROM or previous is not None):
                pool = ProcessPoolExecutor(
                    workers, mp_context=_worker_context(), initializer=leave_interrupts_to_the_command
                )
            chunks = [batch[i : i + _FILES_PER_TASK] for i in range(0, len(batch), _FILES_PER_TASK)]
            if pool is None:
                parsed = [parse_dicom_files(chunk, pseudonymise) for chunk in chunks]
            else:
                parsed = [pool.submit(parse_dicom_files, chunk, pseudonymise) for chunk in chunks]
            if previous is not None:
                _write_dicom_batch(*previous, writer)
            previous = (batch, parsed)
        if previous is not None:
            _write_dicom_batch(*previous, writer)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def default_workers() -> int:
    """One parsing process per core but one: the main process is busy writing the previous batch meanwhile."""
    return max(1, (os.cpu_count() or 1) - 1)


def leave_interrupts_to_the_command() -> None:
    """In a parsing worker: Ctrl-C reaches every process of the terminal's group, and a worker interrupted prints its
    own traceback. The worker leaves it to the command, which stops the harvest (the workers finish their few files;
    the batches written stay, the next harvest takes the rest) and says so in one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the handler of a Dagster run forked from, which prints


def _worker_context():
    """Fork where the platform has it: workers start in milliseconds instead of a second of imports. They only run
    the pure-Python header reader (no DuckDB, no polars), so the parent's threads do not matter to them."""
    return get_context("fork" if "fork" in get_all_start_methods() else "spawn")


def _changed_files(source: SourceConfig, writer: BatchWriter, batch_files: int) -> Iterator[list[tuple]]:
    """Batches of files that are new or changed since the last harvest; unchanged ones are only counted."""
    batch: list[tuple[str, int, int, int, int]] = []
    with writer.session() as con:
        known = _known_files(con, source.name)
    for path, st, _ in _new_or_changed(source, writer, known):
        batch.append((path, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino))
        if len(batch) >= batch_files:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_dicom_batch(files: list[tuple], parsed: list, writer: BatchWriter) -> None:
    results = (r for chunk in parsed for r in (chunk.result() if isinstance(chunk, Future) else chunk))
    records: list[tuple[str, tuple]] = []
    quarantine: list[tuple[str, str, int | None, str]] = []
    states: list[FileState] = []
    for (path, size, mtime_ns, device, inode), (record, reason) in zip(files, results, strict=True):
        key = writer.file_key(path)
        if record is not None:
            records.append((key, record))
            states.append(FileState(path, key, size, mtime_ns, device, inode))
        else:
            quarantine.append(whole_file_quarantine(key, reason))
            states.append(FileState(path, key, size, mtime_ns, device, inode, status="quarantined", reason=reason))
    writer.report.files_parsed += len(records)
    writer.report.quarantined += len(quarantine)
    writer.report.files_quarantined += len(quarantine)
    writer.write("dicom_instances", instance_frame(records, writer), quarantine, states)


# --- audit logs ---------------------------------------------------------------------------------------------------


def _is_gzip(path: str) -> bool:
    if path.endswith(".gz"):
        return True
    with open(path, "rb") as fp:
        return fp.read(2) == b"\x1f\x8b"


def _head(path: str, length: int) -> tuple[str, int]:
    with open(path, "rb") as fp:
        data = fp.read(length)
    return hashlib.sha256(data).hexdigest(), len(data)


def _ends_a_line(path: str, offset: int) -> bool:
    with open(path, "rb") as fp:
        fp.seek(offset - 1)
        return fp.read(1) == b"\n"


def _resume_point(path: str, st: os.stat_result, state: FileState | None, by_inode: dict) -> tuple[int, int]:
    """Where to start reading a plain log: after what was read of this file (same path, or renamed by rotation)."""
    candidates = [state, by_inode.get((st.st_dev, st.st_ino))]
    for cand in candidates:
        if cand is None or not cand.read_offset or cand.head_sha256 is None or st.st_size < cand.read_offset:
            continue
        if _head(path, cand.head_length or 0)[0] == cand.head_sha256 and _ends_a_line(path, cand.read_offset):
            return cand.read_offset, cand.read_line or 0
    return 0, 0


def _harvest_logs(
    source: SourceConfig, pseudonymise: Pseudonymiser, options: HarvestConfig, writer: BatchWriter
) -> None:
    bounds = {
        "max_line_bytes": source.max_log_line_bytes or options.max_log_line_bytes,
        "max_decompressed_bytes": source.max_log_decompressed_bytes or options.max_log_decompressed_bytes,
    }
    with writer.session() as con:
        known = _known_files(con, source.name)
    by_inode = {(s.device, s.inode): s for s in known.values() if s.device is not None}
    for path, st, state in _new_or_changed(source, writer, known):
        try:
            gz = _is_gzip(path)
            offset, line = (0, 0) if gz else _resume_point(path, st, state, by_inode)
            head_sha, head_len = _head(path, _HEAD_BYTES)
        except OSError as exc:
            reason = f"unreadable file: {exc.strerror or type(exc).__name__}"
            writer.report.quarantined += 1
            writer.report.files_quarantined += 1
            key = writer.file_key(path)
            writer.write(
                "audit_events",
                None,
                [whole_file_quarantine(key, reason)],
                [
                    FileState(
                        path, key, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, status="quarantined", reason=reason
                    )
                ],
            )
            continue
        _read_one_log(path, st, gz, offset, line, head_sha, head_len, pseudonymise, writer, bounds)
    writer.flush_audit()


def _read_one_log(path, st, gz, offset, line, head_sha, head_len, pseudonymise, writer: BatchWriter, bounds) -> None:
    key = writer.file_key(path)

    def state(status: str = "parsed", reason: str | None = None) -> FileState:
        return FileState(
            path,
            key,
            st.st_size,
            st.st_mtime_ns,
            st.st_dev,
            st.st_ino,
            head_sha,
            head_len,
            None if gz else offset,
            line,
            status,
            reason,
        )

    records: list[tuple[int, AuditRecord]] = []
    quarantine: list[tuple] = []
    lines_in_batch = 0
    try:
        for entry in read_log(Path(path), pseudonymise, start_offset=offset, start_line=line, **bounds):
            if entry.error is not None:
                quarantine.append((f"{key}|{entry.line_no}|{entry.error}", key, entry.line_no, entry.error))
            else:
                records.extend((entry.line_no, r) for r in entry.records)
            offset, line = entry.end_offset, entry.line_no
            lines_in_batch += 1
            if lines_in_batch >= LOG_LINES_PER_BATCH:
                writer.write_audit(records, quarantine, state())
                records, quarantine, lines_in_batch = [], [], 0
    except (MalformedRecord, OSError, EOFError, gzip.BadGzipFile) as exc:
        reason = str(exc) if isinstance(exc, MalformedRecord) else f"unreadable log ({type(exc).__name__})"
        quarantine.append(whole_file_quarantine(key, reason))
        writer.report.quarantined += 1
        writer.report.files_quarantined += 1
        writer.write_audit(records, quarantine, state("quarantined", reason), malformed_lines=len(quarantine) - 1)
        return
    writer.report.files_parsed += 1
    writer.write_audit(records, quarantine, state())
