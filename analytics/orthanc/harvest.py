"""Harvest an Orthanc server through its change feed into `raw.dicom_instances`, the table `dicom_files` fills.

One page of the feed (`/changes?since=<cursor>&limit=<page_size>`) is one transaction: its records, its quarantine
entries, its deletions and the new cursor are committed together, so a failed run loses nothing and a re-run counts
nothing twice. The first harvest starts at 0 and back-fills everything.

Per page, the request count does not grow with the instances (see docs/benchmarks.md, "Orthanc"):
* `POST /tools/bulk-content` (instances, with metadata): stored size, ReceptionDate, RemoteAET, TransferSyntax,
  parent series, in one request; the same for the series and studies to learn their UIDs;
* `GET /dicom-web/studies/{study}/metadata` (DICOMweb plugin): the header of every instance of a study in one
  request, four at a time (`.../series/{series}/metadata` when only some of its series are new); a series less than a
  quarter new, or an instance DICOMweb does not return, is read alone with `/instances/{id}/simplified-tags`.
Header values go through the same normalisation as the file reader (analytics.dicom_reader); RemoteAET stands in
for SourceApplicationEntityTitle; PatientID is only hashed; PatientName and PatientBirthDate are never read out.

Deletions: Orthanc 1.10 logs no `Deleted` change in `/changes` (later versions or plugins may; they are taken when
present, at their date). So each harvest also reconciles: instances harvested from this source that the server no
longer lists are recorded in `raw.dicom_deletions` at the time the harvest found them missing.

Instances are stored under the file key of their `orthanc:` URI (analytics.file_keys): an Orthanc instance id
is a SHA-1 of the PatientID and the UIDs, so with the UIDs beside it a guessed PatientID could be confirmed. The URI
names the server's url, so a source keeps its url (another server is another source).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from analytics.config import OrthancSourceConfig
from analytics.dicom_reader import (
    INSTANCE_FIELDS,
    INSTITUTION_NAME,
    MANUFACTURER,
    MODALITY,
    PATIENT_ID,
    SERIES_INSTANCE_UID,
    SOP_CLASS_UID,
    SOP_INSTANCE_UID,
    SPECIFIC_CHARACTER_SET,
    STATION_NAME,
    STUDY_DATE,
    STUDY_INSTANCE_UID,
    STUDY_TIME,
    header_record,
)
from analytics.errors import MalformedRecord
from analytics.file_keys import whole_file_quarantine
from analytics.orthanc.client import NotFound, OrthancClient
from analytics.pseudonym import Pseudonymiser
from analytics.raw_batches import instance_frame  # the same frame (record keys, attribution keys) files get

log = logging.getLogger(__name__)

SOURCE_AE_TITLE = 0x00020016
TAGS = {
    "SpecificCharacterSet": SPECIFIC_CHARACTER_SET,
    "SOPClassUID": SOP_CLASS_UID,
    "SOPInstanceUID": SOP_INSTANCE_UID,
    "StudyDate": STUDY_DATE,
    "StudyTime": STUDY_TIME,
    "Modality": MODALITY,
    "Manufacturer": MANUFACTURER,
    "InstitutionName": INSTITUTION_NAME,
    "StationName": STATION_NAME,
    "PatientID": PATIENT_ID,
    "StudyInstanceUID": STUDY_INSTANCE_UID,
    "SeriesInstanceUID": SERIES_INSTANCE_UID,
}
_JSON_TAGS = {f"{tag:08X}": tag for tag in TAGS.values()}
_THREADS = 4  # DICOMweb and single-instance requests in flight at once
_WHOLE_SERIES_FROM = 0.25  # read a series through DICOMweb when at least this share of it is wanted
GONE = "deleted from the archive before it was read"


def instance_path(source: OrthancSourceConfig, orthanc_id: str) -> str:
    """The `path` of an Orthanc instance (what its file key is made of): an `orthanc:` URI naming the server and the
    instance."""
    return f"orthanc:{source.url}/instances/{orthanc_id}"


def read_cursor(con: duckdb.DuckDBPyConnection, source: str) -> int:
    row = con.execute("select position from raw.harvest_cursors where source = ?", [source]).fetchone()
    return row[0] if row else 0


def harvest_orthanc(
    source: OrthancSourceConfig, pseudonymise: Pseudonymiser, writer, client: OrthancClient | None = None
) -> None:
    """Read the change feed from the stored cursor to its end, one committed page at a time, then reconcile
    deletions. `writer` is an analytics.raw_batches.BatchWriter (it holds the connection, report and harvest id).
    The next page is read from the server while this one is written; pages are still committed in order."""
    own_client = client is None
    client = client or OrthancClient(source)
    try:
        with ThreadPoolExecutor(1) as reader:
            with writer.session() as con:
                cursor = read_cursor(con, source.name)
            pending = reader.submit(_read_page, source, client, pseudonymise, cursor)
            while True:
                page = pending.result()
                if page is None:
                    break
                if not page.done:
                    pending = reader.submit(_read_page, source, client, pseudonymise, page.last_seq)
                _commit_page(source, writer, page)
                if page.done:
                    break
        _reconcile_deletions(source, client, writer)
    finally:
        if own_client:
            client.close()


@dataclass
class _Page:
    last_seq: int
    done: bool
    seen: int  # NewInstance changes
    records: list[tuple[str, tuple]]
    quarantine: list[tuple]
    deletions: list[tuple[str, datetime]]


def _read_page(source, client: OrthancClient, pseudonymise: Pseudonymiser, cursor: int) -> _Page | None:
    """One page of the feed, read from the server (no database access: runs beside the writer)."""
    feed = client.changes(cursor, source.page_size)
    changes = feed.changes
    if not changes:
        return None
    zone = ZoneInfo(source.timezone)
    received = list(dict.fromkeys(c.resource_id for c in changes if c.change_type == "NewInstance"))
    deleted = {c.resource_id: c.date for c in changes if c.change_type == "Deleted" and c.resource_type == "Instance"}
    records, quarantine = read_instances(source, client, [i for i in received if i not in deleted], pseudonymise, zone)
    quarantine += [
        (f"{instance_path(source, i)}|gone", instance_path(source, i), None, GONE) for i in received if i in deleted
    ]  # received and deleted within the page: never readable
    deletions = [(instance_path(source, i), local_time(date, zone)) for i, date in deleted.items()]
    return _Page(max(c.seq for c in changes), feed.done, len(received), records, quarantine, deletions)


def _commit_page(source, writer, page: _Page) -> None:
    report = writer.report
    report.files_seen += page.seen
    report.files_parsed += len(page.records)
    report.quarantined += len(page.quarantine)
    report.files_quarantined += len(page.quarantine)

    def in_the_same_transaction(con: duckdb.DuckDBPyConnection) -> None:
        deletions = [(writer.file_key(path), deleted_at) for path, deleted_at in page.deletions]
        _store_deletions(con, source.name, deletions, "change_feed", writer.harvest_id)
        con.execute(
            """insert or replace into raw.harvest_cursors (source, position, updated_at, harvest_id)
               values (?, ?, now(), ?)""",
            [source.name, page.last_seq, writer.harvest_id],
        )

    records = [(writer.file_key(path), fields) for path, fields in page.records]
    quarantine = [whole_file_quarantine(writer.file_key(path), reason) for _, path, _, reason in page.quarantine]
    write_page(writer, instance_frame(records=records, writer=writer), quarantine, in_the_same_transaction)


def write_page(writer, frame, quarantine, also) -> None:
    """Commit one page (a seam for the fault tests: they stop the server after a page is committed)."""
    writer.write("dicom_instances", frame, quarantine, [], also=also)


def read_instances(source, client: OrthancClient, ids: list[str], pseudonymise: Pseudonymiser, zone: ZoneInfo):
    """Records (path, field tuple) and quarantine entries for the given instance ids, in a few requests."""
    described = client.bulk(ids, "Instance", metadata=True)
    quarantine = [
        (f"{instance_path(source, i)}|gone", instance_path(source, i), None, GONE) for i in ids if i not in described
    ]
    present = [i for i in ids if i in described]
    headers = _headers(client, {i: described[i] for i in present})
    records = []
    for orthanc_id in present:
        path = instance_path(source, orthanc_id)
        try:
            values = headers.get(orthanc_id)
            if values is None:
                raise MalformedRecord(GONE)
            records.append((path, record_fields(values, described[orthanc_id], pseudonymise, zone)))
        except MalformedRecord as exc:
            quarantine.append((f"{path}|{exc}", path, None, str(exc)))
    return records, quarantine


def record_fields(
    values: dict[int, str], resource: dict[str, Any], pseudonymise: Pseudonymiser, zone: ZoneInfo
) -> tuple:
    metadata = resource.get("Metadata") or {}
    values = dict(values)
    values[SOURCE_AE_TITLE] = metadata.get("RemoteAET") or None  # empty for REST uploads
    received = local_time(metadata.get("ReceptionDate"), zone)
    record = header_record(
        values, metadata.get("TransferSyntax") or None, int(resource["FileSize"]), received, pseudonymise
    )
    return tuple(getattr(record, name) for name in INSTANCE_FIELDS)


def local_time(text: str | None, zone: ZoneInfo) -> datetime:
    """Orthanc's `YYYYMMDDTHHMMSS[.ffffff]` (no offset; in the configured zone) as an aware UTC time."""
    if not text:
        raise MalformedRecord("no ReceptionDate in the archive's metadata")
    try:
        naive = datetime.strptime(text, "%Y%m%dT%H%M%S.%f" if "." in text else "%Y%m%dT%H%M%S")
    except ValueError:
        raise MalformedRecord("malformed ReceptionDate in the archive's metadata") from None
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _headers(client: OrthancClient, instances: dict[str, dict[str, Any]]) -> dict[str, dict[int, str]]:
    """Orthanc id -> {tag: value} of the wanted tags: whole studies (or series) through DICOMweb, stragglers alone."""
    by_series: dict[str, list[str]] = {}
    for orthanc_id, resource in instances.items():
        by_series.setdefault(resource.get("ParentSeries", ""), []).append(orthanc_id)
    series = client.bulk([s for s in by_series if s], "Series")
    studies = client.bulk(sorted({s.get("ParentStudy", "") for s in series.values()} - {""}), "Study")
    eligible: dict[str, list[str]] = {}  # study id -> series read whole
    alone: list[str] = []
    for series_id, wanted in by_series.items():
        info = series.get(series_id)
        size = len(info.get("Instances", [])) if info else 0
        if info and info.get("ParentStudy") in studies and size and len(wanted) >= _WHOLE_SERIES_FROM * size:
            eligible.setdefault(info["ParentStudy"], []).append(series_id)
        else:
            alone.extend(wanted)
    jobs: list[tuple[tuple[str | None, str | None], list[str]]] = []  # ((study UID, series UID or None), ids)
    for study_id, series_ids in eligible.items():
        study_uid = studies[study_id].get("MainDicomTags", {}).get("StudyInstanceUID")
        if set(studies[study_id].get("Series", [])) == set(series_ids):  # every series of the study: one request
            jobs.append(((study_uid, None), [i for s in series_ids for i in by_series[s]]))
        else:
            jobs.extend(
                ((study_uid, series[s]["MainDicomTags"].get("SeriesInstanceUID")), by_series[s]) for s in series_ids
            )
    found: dict[str, dict[int, str]] = {}
    with ThreadPoolExecutor(_THREADS) as pool:
        for (_, wanted), answer in zip(
            jobs, pool.map(lambda job: _dicomweb_metadata(client, *job[0]), jobs), strict=True
        ):
            by_sop = {values.get(SOP_INSTANCE_UID): values for values in answer}
            for orthanc_id in wanted:
                sop = instances[orthanc_id].get("MainDicomTags", {}).get("SOPInstanceUID")
                if sop in by_sop:
                    found[orthanc_id] = by_sop[sop]
                else:
                    alone.append(orthanc_id)
        for orthanc_id, values in zip(alone, pool.map(lambda i: _simplified_tags(client, i), alone), strict=True):
            if values is not None:
                found[orthanc_id] = values
    return found


def _dicomweb_metadata(client: OrthancClient, study_uid: str | None, series_uid: str | None) -> list[dict[int, str]]:
    if not study_uid or (series_uid is not None and not series_uid):
        return []
    path = f"/dicom-web/studies/{study_uid}" + (f"/series/{series_uid}" if series_uid else "") + "/metadata"
    try:
        answer = client.get(path)
    except NotFound:
        return []  # DICOMweb plugin not loaded, or the study went away: instances are read one by one
    if not isinstance(answer, list):
        raise client.unexpected("DICOMweb metadata", "not a list of instances")
    return [dicom_json_values(item) for item in answer if isinstance(item, dict)]


def dicom_json_values(item: dict[str, Any]) -> dict[int, str]:
    """{tag: text} of the wanted tags (_JSON_TAGS) of one instance of Orthanc's DICOMweb metadata answer."""
    values: dict[int, str] = {}
    for key, tag in _JSON_TAGS.items():
        element = item.get(key)
        if isinstance(element, dict) and isinstance(element.get("Value"), list):
            parts = [v for v in element["Value"] if isinstance(v, (str, int, float))]
            if parts:
                values[tag] = "\\".join(str(v) for v in parts)
    return values


def _simplified_tags(client: OrthancClient, orthanc_id: str) -> dict[int, str] | None:
    try:
        answer = client.get(f"/instances/{orthanc_id}/simplified-tags")
    except NotFound:
        return None
    if not isinstance(answer, dict):
        raise client.unexpected("simplified-tags", "not an object")
    return {tag: answer[name] for name, tag in TAGS.items() if isinstance(answer.get(name), str) and answer[name]}


def _store_deletions(
    con: duckdb.DuckDBPyConnection,
    source: str,
    deletions: list[tuple[str, datetime]],
    detected_by: str,
    harvest_id: str,
) -> None:
    for file_key, deleted_at in deletions:
        con.execute(
            """insert or ignore into raw.dicom_deletions (source, file_key, deleted_at, detected_by, harvest_id)
               values (?, ?, ?, ?, ?)""",
            [source, file_key, deleted_at, detected_by, harvest_id],
        )


def _reconcile_deletions(source: OrthancSourceConfig, client: OrthancClient, writer) -> None:
    """Harvested instances the server no longer holds are deleted now (Orthanc 1.10 does not log deletions)."""
    with writer.session() as con:
        stored = con.execute(
            """select file_key from raw.dicom_instances i where source = ? and not exists
               (select 1 from raw.dicom_deletions d where d.source = i.source and d.file_key = i.file_key)""",
            [source.name],
        ).fetchall()
    if not stored:
        return
    present = {writer.file_key(instance_path(source, i)) for i in client.instance_ids()}
    missing = [file_key for (file_key,) in stored if file_key not in present]
    if not missing:
        return
    now = datetime.now(UTC)
    with writer.session() as con:  # insert or ignore: a deletion another run stored meanwhile is kept as it was
        con.execute("begin transaction")
        try:
            _store_deletions(con, source.name, [(p, now) for p in missing], "reconciliation", writer.harvest_id)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    log.info("source %s: %d harvested instances are no longer in the archive", source.name, len(missing))
