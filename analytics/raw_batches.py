"""Harvest batches into the raw layer: each batch's records, quarantine entries and file states in one transaction.

Every source kind writes through a BatchWriter (analytics.harvest for files and logs, analytics.orthanc and
analytics.pacs for the archives' APIs); DICOM instances become the same frame whatever the source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

import duckdb
import polars as pl

from analytics.dicom_reader import INSTANCE_FIELDS
from analytics.file_keys import file_key, stored_path
from analytics.records import AuditRecord
from analytics.registry import ae_title_key, institution_key
from analytics.warehouse import open_warehouse

LOG_LINES_PER_BATCH = 20_000
_AUDIT_FIELDS = tuple(f.name for f in fields(AuditRecord))


@dataclass
class SourceReport:
    """What one harvest of one source did; the JSON shape of `sansfilm harvest --format json`."""

    name: str
    kind: str
    files_seen: int = 0
    files_parsed: int = 0
    files_unchanged: int = 0
    quarantined: int = 0  # files, or malformed records for logs
    records_added: int = 0
    files_quarantined: int = 0  # whole files only: files_seen = files_parsed + files_unchanged + files_quarantined
    records_flagged: int = 0  # DICOM instances stored with a value truncated to its VR's length or a date set aside

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FileState:
    path: str
    file_key: str
    size: int
    mtime_ns: int
    device: int
    inode: int
    head_sha256: str | None = None
    head_length: int | None = None
    read_offset: int | None = None
    read_line: int | None = None
    status: str = "parsed"
    reason: str | None = None


_institution_key = lru_cache(maxsize=65536)(institution_key)  # few distinct names, many instances
_ae_title_key = lru_cache(maxsize=65536)(ae_title_key)


def instance_frame(records: list[tuple[str, tuple]], writer: BatchWriter) -> pl.DataFrame:
    """Records are (file key, INSTANCE_FIELDS values)."""
    columns: dict[str, list] = {name: [] for name in INSTANCE_FIELDS}
    keys, file_keys = [], []
    for key, values in records:
        for name, value in zip(INSTANCE_FIELDS, values, strict=True):
            columns[name].append(value)
        # the identity is the header, size included; not when nor how it was learnt (a re-run keeps the first time)
        material = "|".join(str(v) for i, v in enumerate(values) if i not in _NOT_IN_RECORD_KEY)
        keys.append(hashlib.sha256(material.encode("utf-8")).hexdigest())
        file_keys.append(key)
        if values[_VALUE_FLAGS]:
            writer.report.records_flagged += 1
    columns.update(
        record_key=keys,
        source=[writer.source] * len(records),
        institution_key=[_institution_key(n) for n in columns["institution_name"]],
        source_ae_key=[_ae_title_key(a) for a in columns["source_ae_title"]],
        file_key=file_keys,
        harvest_id=[writer.harvest_id] * len(records),
    )
    return pl.DataFrame(columns, schema=_INSTANCE_SCHEMA)


_VALUE_FLAGS = INSTANCE_FIELDS.index("value_flags")
_NOT_IN_RECORD_KEY = frozenset(  # keys as before flags existed
    INSTANCE_FIELDS.index(name) for name in ("received_at", "size_estimated", "received_at_estimated", "value_flags")
)


_INSTANCE_SCHEMA = {
    "record_key": pl.String,
    "source": pl.String,
    "study_instance_uid": pl.String,
    "series_instance_uid": pl.String,
    "sop_instance_uid": pl.String,
    "sop_class_uid": pl.String,
    "modality": pl.String,
    "study_date": pl.Date,
    "study_time": pl.String,
    "institution_name": pl.String,
    "institution_key": pl.String,
    "station_name": pl.String,
    "manufacturer": pl.String,
    "source_ae_title": pl.String,
    "source_ae_key": pl.String,
    "specific_character_set": pl.String,
    "transfer_syntax_uid": pl.String,
    "size_bytes": pl.Int64,
    "received_at": pl.Datetime("us", "UTC"),
    "patient_key": pl.String,
    "size_estimated": pl.Boolean,
    "received_at_estimated": pl.Boolean,
    "value_flags": pl.String,
    "file_key": pl.String,
    "harvest_id": pl.String,
}


# --- writing ------------------------------------------------------------------------------------------------------


class BatchWriter:
    """Writes one batch (records, quarantine entries, file states) in one transaction."""

    def __init__(
        self, target: duckdb.DuckDBPyConnection | Path, source: str, harvest_id: str, report: SourceReport
    ) -> None:
        self._target, self.source, self.harvest_id, self.report = target, source, harvest_id, report
        self.salt = ""
        self._audit_frames: list[pl.DataFrame] = []
        self._audit_quarantine: list[tuple] = []
        self._audit_states: dict[str, FileState] = {}
        self._audit_rows = 0

    def file_key(self, path: str) -> str:
        return file_key(self.salt, self.source, path)

    @contextmanager
    def session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The held connection, or the warehouse opened (waiting for another writer, bounded) and closed after."""
        if isinstance(self._target, duckdb.DuckDBPyConnection):
            yield self._target
        else:
            with open_warehouse(self._target) as con:
                yield con

    def write_audit(
        self,
        records: list[tuple[int, AuditRecord]],
        quarantine: list[tuple],
        state: FileState,
        malformed_lines: int | None = None,
    ) -> None:
        """Adds a log's records, quarantine entries and state to the pending batch, committed once it holds
        LOG_LINES_PER_BATCH rows (or by flush_audit): many small logs share one transaction instead of one each,
        which matters when every transaction opens the warehouse."""
        self.report.quarantined += len(quarantine) if malformed_lines is None else malformed_lines
        frame = self._audit_frame(records, state.file_key)
        self._audit_frames.append(frame)
        self._audit_quarantine.extend(quarantine)
        self._audit_states[state.path] = state  # the latest state of a log read in several batches
        self._audit_rows += frame.height + len(quarantine)
        if self._audit_rows >= LOG_LINES_PER_BATCH:
            self.flush_audit()

    def flush_audit(self) -> None:
        if not self._audit_states:
            return
        frame, quarantine, states = pl.concat(self._audit_frames), self._audit_quarantine, self._audit_states
        self._audit_frames, self._audit_quarantine, self._audit_states, self._audit_rows = [], [], {}, 0
        self.write("audit_events", frame, quarantine, list(states.values()))

    def _audit_frame(self, records: list[tuple[int, AuditRecord]], key: str) -> pl.DataFrame:
        rows = []
        for line_no, record in records:
            row = {name: getattr(record, name) for name in _AUDIT_FIELDS if name != "participant_keys"}
            identity = f"{record.message_sha256}|{record.study_instance_uid or ''}"
            row.update(
                record_key=hashlib.sha256(identity.encode("ascii")).hexdigest(),
                source=self.source,
                source_ae_key=ae_title_key(record.source_ae),
                destination_ae_key=ae_title_key(record.destination_ae),
                participant_ae_keys=list(record.participant_keys),
                file_key=key,
                line=line_no,
                harvest_id=self.harvest_id,
            )
            rows.append(row)
        return pl.DataFrame(rows, schema=_AUDIT_SCHEMA)

    def write(
        self,
        table: str,
        frame: pl.DataFrame | None,
        quarantine: list[tuple],
        states: list[FileState],
        also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    ) -> None:
        """`also` runs inside the same transaction (an API source's cursor moves with the records it covers)."""
        with self.session() as con:
            self._write(con, table, frame, quarantine, states, also)

    def _write(self, con, table, frame, quarantine, states, also) -> None:
        con.execute("begin transaction")
        try:
            if frame is not None and frame.height:
                con.register("harvest_batch", frame)
                columns = ", ".join(frame.columns) + derived_columns(table)
                self.report.records_added += store_new_records(con, table, "harvest_batch", columns)
                con.unregister("harvest_batch")
            if quarantine:
                frame = pl.DataFrame(
                    quarantine,
                    schema={"key": pl.String, "file_key": pl.String, "line": pl.Int64, "reason": pl.String},
                    orient="row",
                )
                con.register("quarantine_batch", frame)
                con.execute(  # a file touched again and still broken keeps its one row (and its first date)
                    """insert or ignore into raw.quarantine
                       (quarantine_key, source, file_key, line, reason, quarantined_at, harvest_id)
                       select sha256(key), ?, file_key, line, reason, now(), ? from quarantine_batch""",
                    [self.source, self.harvest_id],
                )
                con.unregister("quarantine_batch")
            if states:
                stored = [replace(state, path=stored_path(state.path)) for state in states]
                con.register("state_batch", pl.DataFrame(stored, schema=_STATE_SCHEMA, orient="row"))
                con.execute(
                    """insert or replace into raw.harvest_files
                       (source, path, file_key, size_bytes, mtime_ns, device, inode, head_sha256, head_length,
                        read_offset, read_line, status, reason, harvested_at, harvest_id)
                       select ?, path, file_key, size, mtime_ns, device, inode, head_sha256, head_length,
                              read_offset, read_line, status, reason, now(), ? from state_batch""",
                    [self.source, self.harvest_id],
                )
                con.unregister("state_batch")
            if also is not None:
                also(con)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise


_STATE_SCHEMA = {
    "path": pl.String,
    "file_key": pl.String,
    "size": pl.Int64,
    "mtime_ns": pl.Int64,
    "device": pl.Int64,
    "inode": pl.Int64,
    "head_sha256": pl.String,
    "head_length": pl.Int64,
    "read_offset": pl.Int64,
    "read_line": pl.Int64,
    "status": pl.String,
    "reason": pl.String,
}

_AUDIT_SCHEMA = {
    "record_key": pl.String,
    "source": pl.String,
    "message_sha256": pl.String,
    "event_id": pl.String,
    "event_name": pl.String,
    "action": pl.String,
    "outcome": pl.Int32,
    "event_time": pl.Datetime("us", "UTC"),
    "source_ae": pl.String,
    "destination_ae": pl.String,
    "source_ae_key": pl.String,
    "destination_ae_key": pl.String,
    "audit_source_id": pl.String,
    "study_instance_uid": pl.String,
    "instance_count": pl.Int32,
    "patient_key": pl.String,
    "file_key": pl.String,
    "line": pl.Int64,
    "harvest_id": pl.String,
    "event_type_code": pl.String,
    "practitioner_key": pl.String,
    "participant_ae_keys": pl.List(pl.String),
}

# A record's key is unique in its table, kept so by the harvest rather than by a primary key, whose index each insert
# reads and keeps in memory (raw migrations 0005 and 0010): a batch is compared with the stored records that may
# hold one of its records, found without reading every stored key (a 64-character string a row of the history):
# - an audit record's key hashes its message, which holds its time: the stored records of the batch's event times
#   (a column in storage order: DuckDB skips the other row groups by their min/max), so the check follows the batch;
# - a DICOM instance's key hashes its header, its SOP Instance UID included: the stored records with one of the
#   batch's SOP hints (sop_hint, 4 bytes a row, read first; then only those rows' keys). At five years of 2 M studies
#   a year, read cold, a night's 7,998 new instances are stored in 0.24-0.29 s (peak 0.39 GB), where the key's index
#   took 0.87-1.35 s (0.49 GB) and a comparison with every key 1.39-1.44 s. Hints shared by chance grow with the
#   history: beyond a few dozen a batch, the keys of every stored row may be read again (docs/scaling.md).
STORED_BY_HINT = {"dicom_instances": "sop_hint"}  # a derived column (DERIVED below)
STORED_IN_ORDER = {"audit_events": "event_time"}


# Columns computed from a record's own fields as it is stored (SQL over the batch's columns): the UIDs as 128-bit
# numbers (MD5, the models' uid_hash, analytics/dbt/macros/build_seq.sql), by which a build finds stored copies: one
# function everywhere (tests/unit/test_code_rules.py checks it); a hint of the file key (32 bits of its MD5, the
# models' file_key_hint, not unique), by which a build finds the copies of the files an archive reported deleted;
# a hint of the SOP Instance UID (the first 32 bits of sop_hash, not unique), by which it finds an instance's copies.
DERIVED = {
    "dicom_instances": {
        "sop_hash": "md5_number(sop_instance_uid)",
        "study_hash": "md5_number(study_instance_uid)",
        "file_key_hint": "(md5_number(file_key) >> 96)::uinteger",
        "sop_hint": "(md5_number(sop_instance_uid) >> 96)::uinteger",
    }
}


def derived_columns(table: str) -> str:
    """`, <expression> as <column>` for each derived column of `table`: appended to a select of its other columns."""
    return "".join(f", {expression} as {column}" for column, expression in DERIVED.get(table, {}).items())


def store_new_records(con: duckdb.DuckDBPyConnection, table: str, batch: str, columns: str) -> int:
    """Insert into raw.<table> the records of `batch` (a relation) not stored yet, each once (a file copied within
    the batch has the same key), selecting `columns`; return the number of records added."""
    bounds: list = []
    if table in STORED_BY_HINT:  # the keys of the stored rows holding one of the batch's hints
        hint = STORED_BY_HINT[table]
        found = f"select rowid from raw.{table} where {hint} in (select {DERIVED[table][hint]} from {batch})"
        # `not in` (no key is null): a `not exists` correlated with the batch read every stored key (2 s, 2 GB)
        new = f"b.record_key not in (select record_key from raw.{table} where rowid in ({found}))"
    else:  # in storage order: the stored rows within the batch's range (DuckDB skips the others by min/max)
        within = ""
        if table in STORED_IN_ORDER:
            column = STORED_IN_ORDER[table]
            within = f"and t.{column} between ? and ?"
            bounds = list(con.execute(f"select min({column}), max({column}) from {batch}").fetchone())
        new = f"not exists (select 1 from raw.{table} as t where t.record_key = b.record_key {within})"
    return con.execute(
        f"""insert into raw.{table} by name select {columns} from {batch} as b where {new}
            qualify row_number() over (partition by record_key order by file_key) = 1""",
        bounds,
    ).fetchone()[0]
