"""Audit-log reader: RFC 5424 syslog lines whose MSG is a DICOM PS3.15 A.5 / RFC 3881 `AuditMessage`.

Usage is billed from these events, so a line is either fully understood or rejected with a reason (the caller
quarantines it); nothing is guessed. Files are read, line by line and within bounds, by `analytics.audit_log_files`.
Patient identity is pseudonymised here, at parse time, and error messages describe the problem without ever quoting
the input (a log line can carry patient names and IDs).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ErrorString

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.ElementTree import fromstring

from analytics.audit_codes import AUDIT_EVENT_TYPES
from analytics.errors import MalformedRecord
from analytics.pseudonym import RPPS_DOMAIN, Pseudonymiser, participant_key
from analytics.records import AuditRecord
from analytics.registry import ae_title_key

SOURCE_ROLE = "110153"
DESTINATION_ROLE = "110152"
STUDY_INSTANCE_UID_TYPE = "110180"
PATIENT_NUMBER_TYPE = "2"  # RFC 3881 ParticipantObjectIDTypeCode "Patient Number"
ACTION_CODES = frozenset("CRUDE")

_BOM = "\ufeff"

# RFC 5424 header pieces. PRINTUSASCII is %d33-126; SD-NAME excludes '=', SP, ']' and '"'.
_PRI = re.compile(r"<(\d+)>", re.ASCII)
_VERSION = re.compile(r"(\d{1,3}) ", re.ASCII)
_PRINTUSASCII = re.compile(r"[!-~]+", re.ASCII)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII)
_SD_NAME = r"[!#-<>-\\^-~]{1,32}"
# A PARAM-VALUE escapes '"', '\' and ']' with '\'; an unescaped ']' inside the quotes is unambiguous, so tolerated.
_SD_ELEMENT = re.compile(rf'\[{_SD_NAME}(?: {_SD_NAME}="(?:[^"\\]|\\.)*")*\]', re.DOTALL)
_HEADER_FIELDS = (("HOSTNAME", 255), ("APP-NAME", 48), ("PROCID", 128), ("MSGID", 32))

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?",
    re.ASCII,
)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_UID = re.compile(r"\d+(?:\.\d+)*", re.ASCII)
# DICOM writes AE titles as "AETITLES= AE1;AE2"; some senders write "AE=AE1,AE=AE2". The first one wins.
_AE_IN_ALTERNATIVE_ID = re.compile(r"(?:^|[,;\s])(?:AE|AETITLES)\s*=\s*([^,;]*)", re.IGNORECASE)
# A health professional's RPPS number: 11 digits, bare, after a prefix ("RPPS:", "RPPS ", "ANS:", "IDNPS="...), or as
# the national identifier IdNat_PS ("8" then the RPPS number); an HL7 XCN form keeps it in its first component. Every
# form gives the same practitioner.
_RPPS = re.compile(r"(?:(?:RPPS|ANS|IDNPS|IDNAT)\s*[:=\-]?\s*)?8?(\d{11})", re.IGNORECASE | re.ASCII)


def parse_syslog_line(line: bytes, pseudonymise: Pseudonymiser) -> list[AuditRecord]:
    """One syslog line to one AuditRecord per study it names (or one record with no study).

    Raises MalformedRecord with a reason that never quotes the input.
    """
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    # The identity of the message: the same line in a copied or rotated file hashes the same.
    message_sha256 = hashlib.sha256(line).hexdigest()
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MalformedRecord(f"line is not valid UTF-8 (byte {err.start})") from None
    root = _parse_xml(_syslog_msg(text))
    return _audit_records(root, pseudonymise, message_sha256)


def _syslog_msg(text: str) -> str:
    """Validate the RFC 5424 header and return MSG (BOM removed)."""
    pri = _PRI.match(text)
    if pri is None:
        if text.startswith("<"):
            raise MalformedRecord("syslog header: malformed PRI (expected <0..191>)")
        raise MalformedRecord("not an RFC 5424 syslog record: the line does not start with <PRI>")
    if len(pri.group(1)) > 3 or int(pri.group(1)) > 191:
        raise MalformedRecord("syslog header: PRI out of range (0..191)")
    version = _VERSION.match(text, pri.end())
    if version is None:
        raise MalformedRecord("syslog header: no VERSION after PRI (only RFC 5424 syslog is supported)")
    if version.group(1) != "1":
        raise MalformedRecord("syslog header: unsupported VERSION (only 1, RFC 5424)")
    fields = text[version.end() :].split(" ", 5)
    if len(fields) < 6:
        raise MalformedRecord("syslog header: truncated (TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA)")
    timestamp, rest = fields[0], fields[5]
    if timestamp != "-" and _RFC3339.fullmatch(timestamp) is None:
        raise MalformedRecord("syslog header: TIMESTAMP is neither '-' nor an RFC 3339 date-time")
    for (name, max_length), value in zip(_HEADER_FIELDS, fields[1:5], strict=False):
        if len(value) > max_length or _PRINTUSASCII.fullmatch(value) is None:
            raise MalformedRecord(f"syslog header: {name} must be 1 to {max_length} printable ASCII characters")
    if rest.startswith("-"):
        end = 1
    elif rest.startswith("["):
        end = 0
        while (element := _SD_ELEMENT.match(rest, end)) is not None:
            end = element.end()
        if end == 0:
            raise MalformedRecord("syslog header: malformed STRUCTURED-DATA element")
    else:
        raise MalformedRecord("syslog header: STRUCTURED-DATA must be '-' or [elements]")
    if end < len(rest) and rest[end] != " ":
        raise MalformedRecord("syslog header: malformed STRUCTURED-DATA (no space before MSG)")
    msg = rest[end + 1 :].removeprefix(_BOM).strip()  # stray framing spaces would hide the XML declaration
    if not msg:
        raise MalformedRecord("syslog record has no MSG (no audit message)")
    return msg


def _parse_xml(msg: str) -> Element:
    """Parse without DTDs or entities: a billion-laughs or external entity is rejected, never expanded."""
    try:
        root = fromstring(msg, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise MalformedRecord("audit XML: a DTD (DOCTYPE) is not allowed") from None
    except DefusedXmlException:  # entities or external references (unreachable while DTDs are refused)
        raise MalformedRecord("audit XML: entity declarations and external references are not allowed") from None
    except ParseError as err:
        line, column = err.position
        raise MalformedRecord(f"audit XML: {ErrorString(err.code)} (line {line}, column {column})") from None
    if _local(root.tag) != "AuditMessage":
        raise MalformedRecord("audit XML: root element is not AuditMessage")
    return root


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _first(element: Element, name: str) -> Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _stripped(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


def _code(element: Element | None) -> str | None:
    """The code of a coded value, DICOM style (csd-code) or RFC 3881 style (code)."""
    if element is None:
        return None
    return _stripped(element.get("csd-code")) or _stripped(element.get("code"))


def _integer(value: str) -> int | None:
    value = value.strip()
    return int(value) if _INTEGER.fullmatch(value) else None


def _audit_records(root: Element, pseudonymise: Pseudonymiser, message_sha256: str) -> list[AuditRecord]:
    event = _first(root, "EventIdentification")
    if event is None:
        raise MalformedRecord("AuditMessage has no EventIdentification")
    event_id_element = _first(event, "EventID")
    if event_id_element is None:
        raise MalformedRecord("EventIdentification has no EventID")
    event_id = _code(event_id_element)
    if event_id is None:
        raise MalformedRecord("EventID has no code (csd-code or code)")
    # the standard name of a CID 400 code; never the text sent (originalText, displayName): free text a sender could
    # fill with anything, a patient's name included, and sansfilm writes no health data
    event_name = AUDIT_EVENT_TYPES.get(event_id)
    event_type_code = _code(_first(event, "EventTypeCode"))  # Application Activity: start (110120) / stop (110121)

    action = _stripped(event.get("EventActionCode"))
    if action is not None and action not in ACTION_CODES:
        raise MalformedRecord("EventActionCode is not one of C, R, U, D, E")
    outcome_text = event.get("EventOutcomeIndicator")
    outcome = None
    if outcome_text is not None:
        outcome = _integer(outcome_text)
        if outcome is None:
            raise MalformedRecord("EventOutcomeIndicator is not an integer")
    event_time = _event_time(event.get("EventDateTime"))

    source_ae, destination_ae = _participant_aes(root)
    practitioner_key, participants = _practitioner_and_participants(root, pseudonymise)
    audit_source_id = _audit_source_id(root)
    studies, patient_key = _participant_objects(root, pseudonymise)

    no_study = AuditRecord(
        event_id=event_id,
        event_name=event_name,
        action=action,
        outcome=outcome,
        event_time=event_time,
        source_ae=source_ae,
        destination_ae=destination_ae,
        audit_source_id=audit_source_id,
        study_instance_uid=None,
        instance_count=None,
        patient_key=patient_key,
        message_sha256=message_sha256,
        event_type_code=event_type_code,
        practitioner_key=practitioner_key,
        participant_keys=participants,
    )
    if not studies:
        return [no_study]
    return [
        replace(no_study, study_instance_uid=uid, instance_count=sum(counts.values()) if counts else None)
        for uid, counts in studies.items()
    ]


def _event_time(value: str | None) -> datetime:
    """ISO 8601 with a zone, to aware UTC; fractions beyond microseconds are truncated."""
    if value is None:
        raise MalformedRecord("EventIdentification has no EventDateTime")
    match = _DATETIME.fullmatch(value.strip())
    if match is None:
        raise MalformedRecord("EventDateTime is not an ISO 8601 date-time")
    year, month, day, hour, minute, second, fraction, zulu, sign, offset_h, offset_m = match.groups()
    if fraction is not None and len(fraction) > 9:
        raise MalformedRecord("EventDateTime has a fraction of a second longer than 9 digits")
    if zulu is None and sign is None:
        raise MalformedRecord("EventDateTime has no time zone (Z or an offset such as +01:00 is required)")
    if zulu is not None:
        zone = UTC
    else:
        if int(offset_h) > 23 or int(offset_m) > 59:
            raise MalformedRecord("EventDateTime has an invalid time-zone offset")
        offset = timedelta(hours=int(offset_h), minutes=int(offset_m))
        zone = timezone(-offset if sign == "-" else offset)
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(*map(int, (year, month, day, hour, minute, second)), microsecond, tzinfo=zone)
    except ValueError:
        raise MalformedRecord("EventDateTime is not a valid calendar date and time") from None
    return moment.astimezone(UTC)


def _participant_aes(root: Element) -> tuple[str | None, str | None]:
    """AE titles of the first source (110153) and first destination (110152) participants."""
    aes: dict[str, str | None] = {}
    for participant in _children(root, "ActiveParticipant"):
        roles = {_code(role) for role in _children(participant, "RoleIDCode")}
        for role in roles & {SOURCE_ROLE, DESTINATION_ROLE}:
            if role not in aes:
                aes[role] = _ae_title(participant)
    return aes.get(SOURCE_ROLE), aes.get(DESTINATION_ROLE)


def _practitioner_and_participants(root: Element, pseudonymise: Pseudonymiser) -> tuple[str | None, tuple[str, ...]]:
    """The keyed hash of the first requesting participant's RPPS number (None when no requestor's UserID is one; a
    participant without UserIsRequestor requests, RFC 3881's default), and the keyed hashes (participant_key) of the
    IDs of the participants that are neither Source nor Destination (those are kept as source_ae/destination_ae): a
    portal the event went through is found by its key, whether it requested or not, and no ID that may name a person
    (a login, an RPPS number) is kept in clear."""
    practitioner_key: str | None = None
    keys: list[str] = []
    for participant in _children(root, "ActiveParticipant"):
        requestor = (participant.get("UserIsRequestor") or "true").strip().lower() in ("true", "1")
        rpps = _RPPS.fullmatch((participant.get("UserID") or "").split("^")[0].strip())
        if requestor and practitioner_key is None and rpps is not None:
            practitioner_key = pseudonymise(RPPS_DOMAIN + rpps.group(1))
        if {_code(role) for role in _children(participant, "RoleIDCode")} & {SOURCE_ROLE, DESTINATION_ROLE}:
            continue
        title = ae_title_key(_ae_title(participant))
        if title is not None and (key := participant_key(pseudonymise, title)) not in keys:
            keys.append(key)
    return practitioner_key, tuple(keys)


def _ae_title(participant: Element) -> str | None:
    alternative = participant.get("AlternativeUserID")
    if alternative:
        match = _AE_IN_ALTERNATIVE_ID.search(alternative)
        if match is not None and match.group(1).strip():
            return match.group(1).strip()
    return _stripped(participant.get("UserID"))


def _audit_source_id(root: Element) -> str | None:
    source = _first(root, "AuditSourceIdentification")
    if source is None:
        return None
    value = source.get("AuditSourceID")
    if value is None:  # older variants carry it as a child element
        child = _first(source, "AuditSourceID")
        value = child.text if child is not None else None
    return _stripped(value)


def _participant_objects(
    root: Element, pseudonymise: Pseudonymiser
) -> tuple[dict[str, dict[str | None, int]], str | None]:
    """Studies in document order (instances per SOP class) and the first patient's pseudonym.

    A study listed twice in one message is one study: per SOP class the larger count is kept, so a repeated
    entry is not counted twice while entries for different SOP classes still add up.
    """
    studies: dict[str, dict[str | None, int]] = {}
    patient_key: str | None = None
    seen_patient = False
    for obj in _children(root, "ParticipantObjectIdentification"):
        id_type = _code(_first(obj, "ParticipantObjectIDTypeCode"))
        if id_type == STUDY_INSTANCE_UID_TYPE:
            uid = (obj.get("ParticipantObjectID") or "").strip().rstrip("\x00")
            if len(uid) > 64 or _UID.fullmatch(uid) is None:
                raise MalformedRecord(
                    "study ParticipantObjectID is not a DICOM UID (digits and dots, at most 64 characters)"
                )
            counts = studies.setdefault(uid, {})
            for sop_class, number in _instances_per_sop_class(obj).items():
                counts[sop_class] = max(counts.get(sop_class, 0), number)
        elif not seen_patient and _is_patient(obj, id_type):
            seen_patient = True  # ParticipantObjectName (the patient's name) is never read
            patient_key = pseudonymise(_patient_id(obj.get("ParticipantObjectID")))
    return studies, patient_key


def _instances_per_sop_class(obj: Element) -> dict[str | None, int]:
    counts: dict[str | None, int] = {}
    for description in _children(obj, "ParticipantObjectDescription"):
        for sop_class in _children(description, "SOPClass"):
            text = sop_class.get("NumberOfInstances")
            if text is None:
                continue
            number = _integer(text)
            if number is None or number < 0:
                raise MalformedRecord("SOPClass NumberOfInstances is not a non-negative integer")
            uid = _stripped(sop_class.get("UID"))
            counts[uid] = counts.get(uid, 0) + number
    return counts


def _is_patient(obj: Element, id_type: str | None) -> bool:
    """Patient Number by ID type, or object type Person (1) in role Patient (1)."""
    object_type = _stripped(obj.get("ParticipantObjectTypeCode"))
    role = _stripped(obj.get("ParticipantObjectTypeCodeRole"))
    return id_type == PATIENT_NUMBER_TYPE or (object_type, role) == ("1", "1")


def _patient_id(value: str | None) -> str | None:
    """The ID component of an HL7 CX value ("ID^^^&issuer&ISO", as IHE sends it), so the pseudonym matches the
    one computed from the DICOM PatientID of the same patient."""
    if value is None:
        return None
    return value.split("^", 1)[0]
