"""Incremental harvest of an archive queried through the standards (kind = "dicomweb" or "dimse").

Windows of StudyDate: the first harvest asks for every study; later ones ask from the cursor (the last day whose
window was completed) back `overlap_days` (late arrivals) to today and beyond (an open end: a study dated in the
future is not missed), `window_days` at a time. Each page of studies is one transaction; the cursor moves once a
window is complete. A study is read only when it is new or its instance count grew (NumberOfStudyRelatedInstances
against what this source stored): a new study in one request (DICOMweb study metadata; C-FIND series then images),
a grown one series by series, only those whose count grew. Records are keyed by content as everywhere, so a window
read twice (an outage, the overlap) stores nothing twice; an outage loses nothing: the next run starts again from
the cursor and skips the studies already complete.

What the standards do not say is estimated and flagged: the stored size (analytics.pacs.sizes) unless `size_tag`
names an attribute that holds it; the reception time (the first harvest that saw the instance; the staged model
prefers the audit logs' first receipt of the study) unless `received_tag` names one; the sender unless
`sender_ae_tag` names the attribute that holds it (else attribution by InstitutionName, as for files).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

from analytics.config import DicomwebSourceConfig, PacsSourceConfig
from analytics.dicom_reader import (
    INSTANCE_FIELDS,
    MODALITY,
    SERIES_INSTANCE_UID,
    SOP_INSTANCE_UID,
    STUDY_INSTANCE_UID,
    header_record,
)
from analytics.errors import MalformedRecord, SourceError
from analytics.pacs import tags
from analytics.pacs.sizes import as_int, estimated_size
from analytics.pseudonym import Pseudonymiser
from analytics.raw_batches import instance_frame

log = logging.getLogger(__name__)

_THREADS = 4  # DICOMweb metadata requests in flight at once
_STUDY_LEVEL = (tags.SPECIFIC_CHARACTER_SET, tags.STUDY_DATE, tags.STUDY_TIME, tags.PATIENT_ID)


def open_archive(source: PacsSourceConfig):
    if isinstance(source, DicomwebSourceConfig):
        from analytics.pacs.dicomweb import DicomwebArchive

        return DicomwebArchive(source)
    from analytics.pacs.dimse import DimseArchive

    return DimseArchive(source)


def read_day_cursor(con: duckdb.DuckDBPyConnection, source: str) -> date | None:
    """The last day of the last completed window (stored as YYYYMMDD in raw.harvest_cursors.position)."""
    row = con.execute("select position from raw.harvest_cursors where source = ?", [source]).fetchone()
    if not row or not row[0]:
        return None
    return date(row[0] // 10000, row[0] // 100 % 100, row[0] % 100)


def windows(
    cursor: date | None, today: date, window_days: int, overlap_days: int
) -> list[tuple[date | None, date | None]]:
    """(first, last) StudyDate windows to ask for; None is an open end. No cursor: one window, every study."""
    if cursor is None:
        return [(None, None)]
    start = min(cursor + timedelta(days=1), today) - timedelta(days=overlap_days)
    out: list[tuple[date | None, date | None]] = []
    while start + timedelta(days=window_days - 1) < today:
        out.append((start, start + timedelta(days=window_days - 1)))
        start += timedelta(days=window_days)
    out.append((start, None))  # up to today, and any study dated after it
    return out


def harvest_pacs(
    source: PacsSourceConfig, pseudonymise: Pseudonymiser, writer, archive=None, *, now: datetime | None = None
) -> None:
    """Harvest from the stored cursor to today; `writer` is an analytics.raw_batches.BatchWriter. `archive` and `now`
    are for tests and benchmarks (a failing transport, a fixed today)."""
    now = now or datetime.now(UTC)
    zone = ZoneInfo(source.timezone)
    today = now.astimezone(zone).date()
    own = archive is None
    archive = archive or open_archive(source)
    try:
        with writer.session() as con:
            cursor = read_day_cursor(con, source.name)
        reader = _Reader(source, archive, pseudonymise, now, zone)
        for first, last in windows(cursor, today, source.window_days, source.overlap_days):
            for studies in archive.studies(first, last):
                reader.page(studies, writer)
            done = min(last or today, today) if first or last else today
            with writer.session() as con:
                con.execute(
                    """insert or replace into raw.harvest_cursors (source, position, updated_at, harvest_id)
                       values (?, ?, now(), ?)""",
                    [source.name, int(f"{done:%Y%m%d}"), writer.harvest_id],
                )
    finally:
        if own:
            archive.close()


class _Reader:
    def __init__(
        self, source: PacsSourceConfig, archive, pseudonymise: Pseudonymiser, now: datetime, zone: ZoneInfo
    ) -> None:
        self.source, self.archive, self.pseudonymise, self.now, self.zone = source, archive, pseudonymise, now, zone
        self.threads = _THREADS if isinstance(source, DicomwebSourceConfig) else 1  # one association: one question

    def page(self, studies: list[dict[int, str]], writer) -> None:
        """Read the new and grown studies of one page and commit them in one transaction."""
        uids = [s.get(tags.STUDY_INSTANCE_UID) for s in studies]
        with writer.session() as con:
            known = _known(con, self.source.name, [u for u in uids if u])
        report = writer.report
        jobs = []
        for study, uid in zip(studies, uids, strict=True):
            if not uid:
                raise SourceError(
                    f"source '{self.source.name}': {self.archive.location} listed a study "
                    "without StudyInstanceUID; nothing of the page was stored"
                )
            count = as_int(study.get(tags.STUDY_RELATED_INSTANCES))
            stored, _ = known.get(uid, (0, {}))
            if count is not None and count <= stored:
                report.files_seen += count
                report.files_unchanged += count
            else:
                jobs.append((study, uid))
        records: list[tuple[str, tuple]] = []
        quarantine: list[tuple] = []
        with ThreadPoolExecutor(self.threads) as pool:
            for (study, uid), found in zip(jobs, pool.map(lambda job: self._read(job[1], known), jobs), strict=True):
                self._records(study, uid, found, records, quarantine)
        report.files_seen += len(records) + len(quarantine)
        report.files_parsed += len(records)
        report.quarantined += len(quarantine)
        report.files_quarantined += len(quarantine)
        # an instance is named by the key of its resource path (analytics.file_keys), as files are
        records = [(writer.file_key(path), fields) for path, fields in records]
        quarantine = [(key, writer.file_key(path), None, reason) for key, path, reason in quarantine]
        writer.write("dicom_instances", instance_frame(records, writer), quarantine, [])

    def _read(self, uid: str, known: dict) -> list[dict[int, str]]:
        stored, by_series = known.get(uid, (0, {}))
        if not stored:
            return self.archive.instances(uid, None)
        grown = []
        for series in self.archive.series(uid):
            series_uid = series.get(SERIES_INSTANCE_UID)
            count = as_int(series.get(tags.SERIES_RELATED_INSTANCES))
            if series_uid and (count is None or count > by_series.get(series_uid, 0)):
                grown.append(series_uid)
        return self.archive.instances(uid, grown) if grown else []

    def _records(
        self, study: dict[int, str], uid: str, found: list[dict[int, str]], records: list, quarantine: list
    ) -> None:
        above = {tag: study[tag] for tag in _STUDY_LEVEL if tag in study}
        for index, values in enumerate(found):
            values = {**above, STUDY_INSTANCE_UID: uid, **values}
            series, sop = values.get(SERIES_INSTANCE_UID, ""), values.get(SOP_INSTANCE_UID) or f"#{index + 1}"
            path = f"{self.archive.location}/studies/{uid}/series/{series}/instances/{sop}"
            try:
                records.append((path, self._fields(values)))
            except MalformedRecord as exc:  # keyed by its UIDs: _known counts it as accounted for
                quarantine.append((f"{uid}|{series}|{sop}|instance", path, str(exc)))

    def _fields(self, values: dict[int, str]) -> tuple:
        source = self.source
        size = as_int(values.get(tags.tag_number(source.size_tag))) if source.size_tag else None
        received = None
        if source.received_tag:
            received = date_time(values.get(tags.tag_number(source.received_tag)), self.zone)
        if source.sender_ae_tag:
            values[tags.SOURCE_AE_TITLE] = values.get(tags.tag_number(source.sender_ae_tag), "")
        else:
            values.pop(tags.SOURCE_AE_TITLE, None)  # never the archive's own file meta: it is not the sender's
        syntax = values.get(tags.TRANSFER_SYNTAX_UID) or values.get(tags.AVAILABLE_TRANSFER_SYNTAX_UID)
        if size is None:
            size_estimate = estimated_size(
                values.get(MODALITY),
                as_int(values.get(tags.ROWS)),
                as_int(values.get(tags.COLUMNS)),
                as_int(values.get(tags.BITS_ALLOCATED)),
                as_int(values.get(tags.NUMBER_OF_FRAMES)),
                as_int(values.get(tags.SAMPLES_PER_PIXEL)),
            )
        record = header_record(
            values,
            syntax.split("\\")[0] if syntax else None,
            size if size is not None else size_estimate,
            received or self.now,
            self.pseudonymise,
            size_estimated=size is None,
            received_at_estimated=received is None,
        )
        return tuple(getattr(record, name) for name in INSTANCE_FIELDS)


def date_time(text: str | None, zone: ZoneInfo) -> datetime | None:
    """A DT (YYYYMMDDHHMMSS[.F][&ZZXX]) or DA value; without offset, in the source's zone. Unreadable: None."""
    if not text:
        return None
    text = text.split("\\")[0].strip()
    body, offset = text, None
    for sign in ("+", "-"):
        if sign in text[8:]:
            at = text.rindex(sign)
            body, offset = text[:at], text[at:]
    digits = body.split(".")[0]
    try:
        moment = datetime.strptime(digits.ljust(14, "0")[:14], "%Y%m%d%H%M%S")
        if "." in body:
            moment = moment.replace(microsecond=int(body.split(".")[1][:6].ljust(6, "0")))
        if offset:
            hours, minutes = int(offset[1:3]), int(offset[3:5] or 0)
            delta = timedelta(hours=hours, minutes=minutes) * (1 if offset[0] == "+" else -1)
            return (moment - delta).replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _known(con: duckdb.DuckDBPyConnection, source: str, studies: list[str]) -> dict[str, tuple[int, dict[str, int]]]:
    """Instances already accounted for, per study and per series: stored by any source (a copy with the same header
    is stored once, whoever read it first) or quarantined by this one."""
    if not studies:
        return {}
    rows = con.execute(
        """with seen as (
               select study_instance_uid as study, series_instance_uid as series, sop_instance_uid as sop
               from raw.dicom_instances where study_instance_uid in (select unnest(?))
               union
               select split_part(q.quarantine_key, '|', 1), split_part(q.quarantine_key, '|', 2),
                      split_part(q.quarantine_key, '|', 3)
               from raw.quarantine q where q.source = ? and ends_with(q.quarantine_key, '|instance')
           )
           select study, series, count(distinct sop) from seen where study in (select unnest(?)) group by all""",
        [studies, source, studies],
    ).fetchall()
    known: dict[str, tuple[int, dict[str, int]]] = {}
    for study, series, count in rows:
        total, by_series = known.get(study, (0, {}))
        by_series[series] = count
        known[study] = (total + count, by_series)
    return known
