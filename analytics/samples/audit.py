"""Write planned audit events as RFC 5424 syslog files carrying DICOM PS3.15 A.5 `AuditMessage` XML, one per line.

Layout, one folder per node (`audit/<host>/`), one file per Paris month:
* rsf-archive-01 and rsf-viewer-01: older months gzip-compressed (`2012-01.log.gz`), the last month split by
  logrotate into `archive.log.1` / `viewer.log.1` (before the rotation day) and `archive.log` / `viewer.log`;
* rsf-archive-02: the same, except that the month before the last is still plain (`2012-11.log`);
* rsf-ris-01: every month plain (`2012-01.log` …), no rotation.

Variation a parser must absorb, drawn per message: about a third in the older RFC 3881 attribute style
(`code`/`displayName`, an `xsi` namespace declaration, an AuditSourceTypeCode child) and the rest in DICOM style
(`csd-code`/`originalText`); EventDateTime in UTC (`Z`) or with the Paris offset of that date; a UTF-8 BOM before
`<?xml` now and then. Per node: the syslog TIMESTAMP in Paris time (archives) or UTC (viewer, RIS), the PROCID
changing at each application restart, and the RIS writing patient IDs in HL7 CX form (`ID^^^&OID&ISO`).
Gzip members carry no name and mtime 0, so the bytes depend on the content only.
"""

from __future__ import annotations

import gzip
import heapq
import io
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import groupby
from pathlib import Path
from xml.sax.saxutils import escape

from analytics.audit_codes import AUDIT_EVENT_TYPES
from analytics.samples.clock import Period, iso_local, iso_utc, month_key, paris_instant, round_ms, to_ns
from analytics.samples.events import RIS_HOST, VIEWER_HOST, AuditEvent, OtherObject, Participant, StudyObject

MSGID = "IHE+RFC-3881"
APP_NAMES = {
    "rsf-archive-01": "rsf-archive",
    "rsf-archive-02": "rsf-archive",
    VIEWER_HOST: "rsf-viewer",
    RIS_HOST: "rsf-ris",
}
FIRST_PROCID = {"rsf-archive-01": 2201, "rsf-archive-02": 3117, VIEWER_HOST: 1408, RIS_HOST: 905}
ROTATED_NAME = {"rsf-archive-01": "archive.log", "rsf-archive-02": "archive.log", VIEWER_HOST: "viewer.log"}
PLAIN_MONTHS_BEFORE_LAST = {"rsf-archive-02": 1, RIS_HOST: 10**6}  # months kept uncompressed before the last one
UTC_TIMESTAMPS = {VIEWER_HOST: 6, RIS_HOST: 3}  # syslog TIMESTAMP in UTC with that many fraction digits
RFC3881_SHARE, UTC_EVENT_TIME_SHARE, BOM_SHARE = 0.33, 0.4, 0.1
BOM = "\ufeff"

TYPE_NAMES = {
    "110120": "Application Start",
    "110121": "Application Stop",
    "110122": "Login",
    "110123": "Logout",
    "110124": "Attach",
    "110125": "Detach",
    "110126": "Node Authentication",
}
ROLE_NAMES = {
    "110150": "Application",
    "110151": "Application Launcher",
    "110152": "Destination Role ID",
    "110153": "Source Role ID",
    "110155": "Source Media",
}


@dataclass(frozen=True, slots=True)
class AuditFile:
    path: str  # relative to the corpus root, POSIX separators
    records: int
    size: int
    mtime_ns: int


def write_audit(
    root: Path,
    events: list[AuditEvent],
    period: Period,
    rng: random.Random,
    extras: Sequence[tuple[list[AuditEvent], random.Random]] = (),
) -> list[AuditFile]:
    """Render every event (events come sorted by host, then time) and write the per-node, per-month files. Each list
    of `extras` (sorted likewise) is rendered with its own random stream and merged in time order, so that adding
    one leaves every other record as it was."""
    written: list[AuditFile] = []
    months = [f"{m.year:04d}-{m.month:02d}" for m in period.month_starts()]
    added = [({h: list(e) for h, e in groupby(more, key=lambda e: e.host)}, stream) for more, stream in extras]
    for host, host_events in groupby(events, key=lambda e: e.host):
        records = _render_host(host, list(host_events), rng)
        mores = [_render_host(host, by_host[host], stream) for by_host, stream in added if host in by_host]
        if mores:
            records = list(heapq.merge(records, *mores, key=lambda r: r[0]))
        by_month: dict[str, list[tuple[datetime, bytes]]] = {}
        for stamp, line in records:
            by_month.setdefault(month_key(stamp), []).append((stamp, line))
        folder = root / "audit" / host
        folder.mkdir(parents=True, exist_ok=True)
        for position, month in enumerate(months):
            month_records = by_month.get(month, [])
            if not month_records:
                continue
            is_last = position == len(months) - 1
            if is_last and host in ROTATED_NAME:
                split = _rotation_instant(month, rng)
                before = [r for r in month_records if r[0] < split]
                after = [r for r in month_records if r[0] >= split]
                name = ROTATED_NAME[host]
                written.append(_write(folder / f"{name}.1", root, before, gz=False, empty_mtime=split))
                written.append(_write(folder / name, root, after, gz=False, empty_mtime=split))
            else:
                plain = len(months) - 1 - position <= PLAIN_MONTHS_BEFORE_LAST.get(host, 0)
                name = f"{month}.log" if plain else f"{month}.log.gz"
                written.append(_write(folder / name, root, month_records, gz=not plain))
    return written


def _rotation_instant(month: str, rng: random.Random) -> datetime:
    year, number = (int(part) for part in month.split("-"))
    return paris_instant(datetime(year, number, rng.randint(8, 22)).date(), time(0))


def _write(
    path: Path, root: Path, records: list[tuple[datetime, bytes]], *, gz: bool, empty_mtime: datetime | None = None
) -> AuditFile:
    """One log file, its mtime the TIMESTAMP of its last record (or the rotation instant when it is empty)."""
    payload = b"".join(line for _, line in records)
    if gz:
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as stream:
            stream.write(payload)
        payload = buffer.getvalue()
    path.write_bytes(payload)
    last = records[-1][0] if records else empty_mtime
    assert last is not None, "only a rotated pair may hold an empty file"
    mtime_ns = to_ns(last)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return AuditFile(path.relative_to(root).as_posix(), len(records), len(payload), mtime_ns)


def _render_host(host: str, events: list[AuditEvent], rng: random.Random) -> list[tuple[datetime, bytes]]:
    """Syslog lines of one node, ordered by their own TIMESTAMP."""
    procid = FIRST_PROCID[host]
    records: list[tuple[datetime, int, bytes]] = []
    for index, event in enumerate(events):
        if event.event_id == "110100" and event.type_code == "110120":  # a new process starts
            procid += rng.randint(40, 900)
        stamp = round_ms(event.at + timedelta(milliseconds=rng.randint(1, 400)))
        records.append((stamp, index, _syslog_line(host, procid, stamp, event, rng)))
    records.sort(key=lambda r: (r[0], r[1]))
    return [(stamp, line) for stamp, _, line in records]


def _syslog_line(host: str, procid: int, stamp: datetime, event: AuditEvent, rng: random.Random) -> bytes:
    severity = 4 if event.outcome or event.event_id == "110113" else 5
    pri = 10 * 8 + severity  # facility 10: security/authorization
    digits = UTC_TIMESTAMPS.get(host)
    timestamp = iso_utc(stamp, digits) if digits else iso_local(stamp, 3)
    dicom_style = rng.random() >= RFC3881_SHARE
    event_time = iso_utc(event.at) if rng.random() < UTC_EVENT_TIME_SHARE else iso_local(event.at)
    bom = BOM if rng.random() < BOM_SHARE else ""
    message = _audit_message(event, event_time, dicom_style, cx_patient_ids=host == RIS_HOST)
    header = f"<{pri}>1 {timestamp} {host} {APP_NAMES[host]} {procid} {MSGID} -"
    return f"{header} {bom}{message}\n".encode()


def _audit_message(event: AuditEvent, event_time: str, dicom_style: bool, *, cx_patient_ids: bool) -> str:
    code = _coded_dicom if dicom_style else _coded_rfc3881
    parts = ['<?xml version="1.0" encoding="UTF-8"?>']
    if dicom_style:
        parts.append("<AuditMessage>")
    else:
        parts.append(
            '<AuditMessage xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            ' xsi:noNamespaceSchemaLocation="healthcare-security-audit.xsd">'
        )
    parts.append(
        f'<EventIdentification EventActionCode="{event.action}" EventDateTime="{event_time}"'
        f' EventOutcomeIndicator="{event.outcome}">'
    )
    parts.append(code("EventID", event.event_id, "DCM", AUDIT_EVENT_TYPES[event.event_id]))
    if event.type_code:
        parts.append(code("EventTypeCode", event.type_code, "DCM", TYPE_NAMES[event.type_code]))
    parts.append("</EventIdentification>")
    parts.extend(_participant(p, code) for p in event.participants)
    if dicom_style:
        parts.append(f"<AuditSourceIdentification AuditSourceID={_attr(event.audit_source_id)}/>")
    else:
        parts.append(
            f'<AuditSourceIdentification AuditEnterpriseSiteID="RSF-IDF" AuditSourceID={_attr(event.audit_source_id)}>'
            '<AuditSourceTypeCode code="4"/></AuditSourceIdentification>'
        )
    parts.extend(_study(s, code) for s in event.studies)
    for patient in event.patients:
        patient_id = f"{patient.patient_id}^^^&{patient.issuer}&ISO" if cx_patient_ids else patient.patient_id
        parts.append(
            f'<ParticipantObjectIdentification ParticipantObjectID={_attr(patient_id)} ParticipantObjectTypeCode="1"'
            ' ParticipantObjectTypeCodeRole="1">'
            + code("ParticipantObjectIDTypeCode", "2", "RFC-3881", "Patient Number")
            + f"<ParticipantObjectName>{escape(patient.name)}</ParticipantObjectName></ParticipantObjectIdentification>"
        )
    parts.extend(_other(o, code) for o in event.others)
    parts.append("</AuditMessage>")
    return "".join(parts)


def _participant(participant: Participant, code) -> str:  # noqa: ANN001
    attributes = [f"UserID={_attr(participant.user_id)}"]
    if participant.alternative_user_id:
        attributes.append(f"AlternativeUserID={_attr(participant.alternative_user_id)}")
    attributes.append(f'UserIsRequestor="{"true" if participant.is_requestor else "false"}"')
    if participant.network_access_point:
        address = _attr(participant.network_access_point)
        attributes.append(f'NetworkAccessPointID={address} NetworkAccessPointTypeCode="2"')
    opening = "<ActiveParticipant " + " ".join(attributes)
    if participant.role is None:
        return opening + "/>"
    return f"{opening}>{code('RoleIDCode', participant.role, 'DCM', ROLE_NAMES[participant.role])}</ActiveParticipant>"


def _study(study: StudyObject, code) -> str:  # noqa: ANN001
    text = (
        f'<ParticipantObjectIdentification ParticipantObjectID={_attr(study.uid)} ParticipantObjectTypeCode="2"'
        ' ParticipantObjectTypeCodeRole="3">'
        + code("ParticipantObjectIDTypeCode", "110180", "DCM", "Study Instance UID")
    )
    if study.sop_class_uid is not None:
        text += "<ParticipantObjectDescription>"
        if study.accession:
            text += f"<Accession Number={_attr(study.accession)}/>"
        text += f'<SOPClass UID="{study.sop_class_uid}" NumberOfInstances="{study.instances}"/>'
        text += "</ParticipantObjectDescription>"
    return text + "</ParticipantObjectIdentification>"


def _other(other: OtherObject, code) -> str:  # noqa: ANN001
    text = (
        f"<ParticipantObjectIdentification ParticipantObjectID={_attr(other.object_id)}"
        f' ParticipantObjectTypeCode="{other.type_code}" ParticipantObjectTypeCodeRole="{other.role_code}">'
        + code("ParticipantObjectIDTypeCode", *other.id_type)
    )
    if other.query is not None:
        text += f"<ParticipantObjectQuery>{other.query}</ParticipantObjectQuery>"
    return text + "</ParticipantObjectIdentification>"


def _coded_dicom(tag: str, value: str, system: str, text: str) -> str:
    return f"<{tag} csd-code={_attr(value)} codeSystemName={_attr(system)} originalText={_attr(text)}/>"


def _coded_rfc3881(tag: str, value: str, system: str, text: str) -> str:
    return f"<{tag} code={_attr(value)} codeSystemName={_attr(system)} displayName={_attr(text)}/>"


def _attr(value: str) -> str:
    return '"' + escape(value, {'"': "&quot;"}) + '"'
