"""Audit-log reader: syslog framing, both AuditMessage code styles, times, privacy, malformed input, files."""

from __future__ import annotations

import gzip
import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from analytics.audit_log_files import LogLine, read_log
from analytics.audit_reader import parse_syslog_line
from analytics.errors import MalformedRecord
from analytics.pseudonym import Pseudonymiser, participant_key
from tests.audit_factory import (
    CT_IMAGE,
    PATIENT_ID,
    PATIENT_NAME,
    SR_DOC,
    STUDY_A,
    STUDY_B,
    UTC,
    audit_xml,
    participant,
    patient,
    study,
    syslog,
)

KEY = Pseudonymiser("test-key-0123456789")


def parse(line: bytes):
    return parse_syslog_line(line, KEY)


@pytest.mark.parametrize("style", ["dicom", "rfc3881"])
def test_the_text_sent_with_the_event_code_is_never_kept(style: str) -> None:
    """originalText / displayName are free text: a sender may put anything there, a patient's name included. A code
    of CID 400 keeps its standard name, any other code none."""
    (known,) = parse(syslog(audit_xml(style=style, event_text=f"Transfert {PATIENT_NAME}")))
    assert (known.event_id, known.event_name) == ("110104", "DICOM Instances Transferred")
    (other,) = parse(syslog(audit_xml(style=style, event_id="PRIV-42", event_text=f"Vue par {PATIENT_NAME}")))
    assert (other.event_id, other.event_name) == ("PRIV-42", None)
    assert PATIENT_NAME not in repr((known, other))


@pytest.mark.parametrize("style", ["dicom", "rfc3881"])
def test_both_code_styles_give_the_same_record(style: str) -> None:
    (record,) = parse(syslog(audit_xml(style=style)))
    assert record.event_id == "110104"
    assert record.event_name == "DICOM Instances Transferred"
    assert (record.action, record.outcome) == ("R", 0)
    assert record.event_time == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert (record.source_ae, record.destination_ae) == ("ORTHANC", "CT_SALLE1")
    assert record.audit_source_id == "PACS-IDF-1"
    assert (record.study_instance_uid, record.instance_count) == (STUDY_A, 120)
    assert record.patient_key == KEY(PATIENT_ID)  # the CX ID component, as for the DICOM PatientID


@pytest.mark.parametrize(
    ("sent", "utc"),
    [
        ("2012-10-28T02:30:00+01:00", datetime(2012, 10, 28, 1, 30, tzinfo=UTC)),
        ("2012-10-28T02:30:00+02:00", datetime(2012, 10, 28, 0, 30, tzinfo=UTC)),
        ("2024-03-01T10:00:00.123456789Z", datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-03-01T10:00:00.5-05:30", datetime(2024, 3, 1, 15, 30, 0, 500000, tzinfo=UTC)),
        ("2024-03-01T10:00:00,25+0100", datetime(2024, 3, 1, 9, 0, 0, 250000, tzinfo=UTC)),
        ("2024-12-31T23:59:59.999999999-01:00", datetime(2025, 1, 1, 0, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_event_time_is_normalised_to_utc(sent: str, utc: datetime) -> None:
    (record,) = parse(syslog(audit_xml(when=sent)))
    assert record.event_time == utc
    assert record.event_time.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "framing",
    [
        {},
        {"bom": True},
        {"eol": "\r\n"},
        {"eol": ""},
        {"bom": True, "eol": "\r\n"},
        {"sd": '[origin ip="10.0.0.1" software="Orthanc"]'},
        {"sd": r'[meta x="a\]b \"q\" c\\"][timeQuality tzKnown="1"]', "bom": True},
        {"sd": r'[meta x="unescaped ] inside quotes"]'},
    ],
)
@pytest.mark.parametrize("declaration", [False, True])
def test_syslog_framing_variants(framing: dict, declaration: bool) -> None:
    line = syslog(audit_xml(declaration=declaration), **framing)
    (record,) = parse(line)
    assert (record.study_instance_uid, record.instance_count) == (STUDY_A, 120)
    assert record.message_sha256 == hashlib.sha256(line.rstrip(b"\r\n")).hexdigest()


def test_spaces_around_msg_are_framing_not_xml() -> None:
    (record,) = parse(syslog("  " + audit_xml(declaration=True) + " \t", bom=True))
    assert record.study_instance_uid == STUDY_A


def test_same_message_has_same_identity_whatever_the_line_ending() -> None:
    msg = audit_xml()
    identities = {parse(syslog(msg, eol=eol))[0].message_sha256 for eol in ("\n", "\r\n", "")}
    assert len(identities) == 1
    assert parse(syslog(msg, pri="<86>"))[0].message_sha256 not in identities


@pytest.mark.parametrize(
    ("user_id", "alternative", "expected"),
    [
        ("  CT_SALLE1 ", None, "CT_SALLE1"),
        ("2817", "AE=ORTHANC", "ORTHANC"),
        ("2817", "AE=ORTHANC,AE=ORTHANC2", "ORTHANC"),
        ("2817", "AE=ORTHANC;pid=2817", "ORTHANC"),
        ("2817", "AETITLES= ORTHANC;ORTHANC2", "ORTHANC"),
        ("2817", "pid=2817", "2817"),
        ("", None, None),
    ],
)
def test_ae_title_from_user_id_or_alternative_user_id(user_id: str, alternative: str | None, expected: str) -> None:
    participants = participant("110153", user_id, alternative) + participant("110152", "DEST", "AE=DEST_AE")
    (record,) = parse(syslog(audit_xml(participants=participants)))
    assert (record.source_ae, record.destination_ae) == (expected, "DEST_AE")


def test_first_participant_of_a_role_wins_and_roles_may_be_combined() -> None:
    both_roles = (
        '<ActiveParticipant UserID="LOOP" UserIsRequestor="true"><RoleIDCode csd-code="110152"/>'
        '<RoleIDCode code="110153"/></ActiveParticipant>'
    )
    participants = both_roles + participant("110153", "LATER_SOURCE") + participant("110152", "LATER_DEST")
    (record,) = parse(syslog(audit_xml(participants=participants)))
    assert (record.source_ae, record.destination_ae) == ("LOOP", "LOOP")


def test_multi_study_event_gives_one_record_per_study_in_order() -> None:
    objects = (
        study(STUDY_B, [(CT_IMAGE, "10"), (SR_DOC, "2")])
        + patient()
        + study(STUDY_A, [])
        + study(STUDY_B, [(CT_IMAGE, "10")])  # the same study again: not a new record, not counted twice
    )
    records = parse(syslog(audit_xml(objects=objects)))
    assert [(r.study_instance_uid, r.instance_count) for r in records] == [(STUDY_B, 12), (STUDY_A, None)]
    assert len({r.message_sha256 for r in records}) == 1
    assert {r.patient_key for r in records} == {KEY(PATIENT_ID)}


def test_event_naming_no_study_gives_one_record() -> None:
    xml = audit_xml(event_id="110114", objects="", participants=participant("110153", "admin"))
    (record,) = parse(syslog(xml))
    assert record.event_id == "110114"
    assert (record.study_instance_uid, record.instance_count, record.patient_key) == (None, None, None)
    assert record.destination_ae is None


@pytest.mark.parametrize("style", ["dicom", "rfc3881"])
def test_application_activity_keeps_its_event_type_code(style: str) -> None:
    xml = audit_xml(style=style, event_id="110100", objects="", event_type=("110121", "Application Stop"))
    (record,) = parse(syslog(xml))
    assert (record.event_id, record.event_type_code) == ("110100", "110121")
    (plain,) = parse(syslog(audit_xml(style=style)))
    assert plain.event_type_code is None


@pytest.mark.parametrize(("sent", "outcome"), [("4", 4), ("8", 8), ("12", 12), (None, None)])
def test_failure_outcomes(sent: str | None, outcome: int | None) -> None:
    (record,) = parse(syslog(audit_xml(outcome=sent)))
    assert record.outcome == outcome


def test_patient_identity_never_appears_in_records() -> None:
    records = parse(syslog(audit_xml(objects=study(STUDY_A, []) + patient() + study(STUDY_B, []))))
    text = repr(records)
    assert PATIENT_ID not in text
    assert "DUPONT" not in text and "JEANNE" not in text


def _bomb(entity: str) -> str:
    return f'<?xml version="1.0"?><!DOCTYPE AuditMessage [{entity}]><AuditMessage>&e;</AuditMessage>'


BILLION_LAUGHS = _bomb(
    '<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    '<!ENTITY e "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
)
EXTERNAL_ENTITY = _bomb('<!ENTITY e SYSTEM "file:///etc/passwd">')
GOOD = audit_xml()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param(b"Mar  1 10:00:00 pacs01 orthanc: " + GOOD.encode(), "not an RFC 5424 syslog", id="not-syslog"),
        pytest.param(syslog(GOOD, pri="<192>"), "PRI out of range", id="pri-192"),
        pytest.param(syslog(GOOD, pri="<1000>"), "PRI out of range", id="pri-4-digits"),
        pytest.param(syslog(GOOD, pri="<x>"), "malformed PRI", id="pri-not-digits"),
        pytest.param(syslog(GOOD, version="2"), "unsupported VERSION", id="version-2"),
        pytest.param(b"<34>Oct 11 22:14:15 mymachine su: " + GOOD.encode(), "no VERSION", id="bsd-syslog"),
        pytest.param(b"<85>1 2024-03-01T10:00:00Z pacs01 ORTHANC", "truncated", id="header-truncated"),
        pytest.param(syslog(GOOD).replace(b"2024-03-01T10:00:00.123", b"01/03/2024"), "TIMESTAMP", id="timestamp"),
        pytest.param(syslog(GOOD, sd='[bad id="x"'), "STRUCTURED-DATA", id="sd-unclosed"),
        pytest.param(syslog(GOOD, sd="[ok]x"), "STRUCTURED-DATA", id="sd-no-space"),
        pytest.param(syslog(GOOD, sd="{}"), "STRUCTURED-DATA", id="sd-garbage"),
        pytest.param(syslog("").rstrip(b" \n"), "no MSG", id="no-msg"),
        pytest.param(syslog(GOOD[:-40]), "audit XML", id="truncated-xml"),
        pytest.param(syslog("not xml at all"), "audit XML", id="msg-not-xml"),
        pytest.param(syslog(audit_xml(root="Audit")), "root element is not AuditMessage", id="wrong-root"),
        pytest.param(syslog(audit_xml(event_id=None)), "no EventID", id="missing-event-id"),
        pytest.param(syslog(GOOD.replace('csd-code="110104" ', "")), "EventID has no code", id="event-id-no-code"),
        pytest.param(syslog(audit_xml(when="2024-03-01T10:00:00")), "no time zone", id="time-without-zone"),
        pytest.param(syslog(audit_xml(when="01/03/2024 10:00")), "not an ISO 8601", id="time-not-iso"),
        pytest.param(syslog(audit_xml(when="2024-02-30T10:00:00Z")), "not a valid calendar", id="time-feb-30"),
        pytest.param(syslog(audit_xml(when="2024-03-01T10:00:00.1234567890Z")), "9 digits", id="time-10-digits"),
        pytest.param(syslog(audit_xml(outcome="success")), "EventOutcomeIndicator", id="outcome-text"),
        pytest.param(syslog(GOOD.replace('EventActionCode="R"', 'EventActionCode="X"')), "EventActionCode", id="act"),
        pytest.param(syslog(audit_xml(objects=study("1.2.abc", []))), "not a DICOM UID", id="uid-letters"),
        pytest.param(syslog(audit_xml(objects=study("1." * 32 + "1", []))), "not a DICOM UID", id="uid-65-chars"),
        pytest.param(syslog(audit_xml(objects=study("", []))), "not a DICOM UID", id="uid-empty"),
        pytest.param(
            syslog(audit_xml(objects=study(STUDY_A, [(CT_IMAGE, "12.5")]) + patient())),
            "NumberOfInstances",
            id="instances-not-integer",
        ),
        pytest.param(syslog(audit_xml(objects=study(STUDY_A, [(CT_IMAGE, "-1")]))), "NumberOfInstances", id="neg"),
        pytest.param(syslog(GOOD).replace(b"pacs01", b"pacs\xe9"), "not valid UTF-8", id="invalid-utf8-header"),
        pytest.param(syslog(GOOD).replace(b"DICOM", b"DIC\xc3OM"), "not valid UTF-8", id="invalid-utf8-msg"),
        pytest.param(syslog(BILLION_LAUGHS), "DTD", id="billion-laughs"),
        pytest.param(syslog(EXTERNAL_ENTITY), "DTD", id="external-entity"),
        pytest.param(syslog(GOOD.replace("<AuditMessage>", "<AuditMessage>&ext;")), "undefined entity", id="entity"),
    ],
)
def test_malformed_lines_are_rejected_with_a_reason(line: bytes, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason):
        parse(line)


@pytest.mark.parametrize(
    "xml",
    [
        audit_xml(when="1970-01-01T00:00:00"),
        audit_xml(objects=patient() + study(PATIENT_ID + "X", [])),
        audit_xml(objects=patient() + study(STUDY_A, [(CT_IMAGE, PATIENT_NAME)])),
        audit_xml(objects=patient()).replace("</AuditMessage>", f"<{PATIENT_ID}"),
    ],
    ids=["no-zone", "bad-uid", "bad-count", "truncated"],
)
def test_error_messages_never_quote_patient_data(xml: str) -> None:
    with pytest.raises(MalformedRecord) as caught:
        parse(syslog(xml))
    message = str(caught.value)
    assert PATIENT_ID not in message and "DUPONT" not in message and "1970" not in message


def test_namespaced_audit_message_is_accepted() -> None:
    xml = audit_xml().replace("<AuditMessage>", '<AuditMessage xmlns="urn:example:audit">')
    (record,) = parse(syslog(xml))
    assert (record.event_id, record.study_instance_uid, record.source_ae) == ("110104", STUDY_A, "ORTHANC")


def test_audit_source_id_as_child_element() -> None:
    xml = audit_xml().replace(
        '<AuditSourceIdentification AuditSourceID="PACS-IDF-1"/>',
        "<AuditSourceIdentification><AuditSourceID> OLD-PACS </AuditSourceID></AuditSourceIdentification>",
    )
    (record,) = parse(syslog(xml))
    assert record.audit_source_id == "OLD-PACS"


# --- read_log -----------------------------------------------------------------------------------------------------


def lines(n: int, first: int = 1) -> list[bytes]:
    """n distinct valid lines (one study each, numbered from `first`)."""
    return [syslog(audit_xml(objects=study(f"1.2.250.1.59.{i}", [(CT_IMAGE, "1")]))) for i in range(first, first + n)]


def uids(log_lines: list[LogLine]) -> list[str]:
    return [line.records[0].study_instance_uid for line in log_lines if line.records]


def test_read_log_resumes_from_the_last_offset_after_append(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    first = lines(3)
    path.write_bytes(b"".join(first))
    read = list(read_log(path, KEY))
    assert [line.line_no for line in read] == [1, 2, 3]
    assert [line.end_offset for line in read] == [sum(map(len, first[: i + 1])) for i in range(3)]
    assert all(line.error is None for line in read)

    with path.open("ab") as f:
        f.write(b"".join(lines(2, first=4)))
    last = read[-1]
    more = list(read_log(path, KEY, start_offset=last.end_offset, start_line=last.line_no))
    assert [line.line_no for line in more] == [4, 5]
    assert uids(more) == ["1.2.250.1.59.4", "1.2.250.1.59.5"]
    assert more[-1].end_offset == path.stat().st_size


def test_partial_last_line_waits_until_completed(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    complete, partial = lines(2), lines(1, first=3)[0]
    path.write_bytes(b"".join(complete) + partial[:50])
    read = list(read_log(path, KEY))
    assert uids(read) == ["1.2.250.1.59.1", "1.2.250.1.59.2"]
    assert read[-1].end_offset == sum(map(len, complete))

    with path.open("ab") as f:
        f.write(partial[50:])
    more = list(read_log(path, KEY, start_offset=read[-1].end_offset, start_line=read[-1].line_no))
    assert [(line.line_no, line.error) for line in more] == [(3, None)]
    assert uids(more) == ["1.2.250.1.59.3"]


def test_blank_and_malformed_lines(tmp_path: Path) -> None:
    good = lines(2)
    path = tmp_path / "audit.log"
    path.write_bytes(b"\n" + good[0] + b"   \r\n" + syslog(GOOD, pri="<999>") + b"\n" + good[1])
    read = list(read_log(path, KEY))
    assert [line.line_no for line in read] == [2, 4, 6]
    assert read[1].records is None and "PRI out of range" in (read[1].error or "")
    assert uids(read) == ["1.2.250.1.59.1", "1.2.250.1.59.2"]
    assert read[-1].end_offset == path.stat().st_size


def test_offset_not_after_a_newline_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(b"".join(lines(2)))
    with pytest.raises(ValueError, match="not just after a newline"):
        read_log(path, KEY, start_offset=10)
    with pytest.raises(ValueError, match="not just after a newline"):  # file truncated since the last read
        read_log(path, KEY, start_offset=path.stat().st_size + 100)


@pytest.mark.parametrize("name", ["audit.log.1.gz", "audit.log.1"])  # by suffix, or by magic bytes
def test_gzip_file_is_read_whole_including_last_line(tmp_path: Path, name: str) -> None:
    data = b"\n".join(line.rstrip(b"\n") for line in lines(3)) + b"\n\n" + lines(1, first=4)[0].rstrip(b"\n")
    path = tmp_path / name
    path.write_bytes(gzip.compress(data))
    read = list(read_log(path, KEY))
    assert [line.line_no for line in read] == [1, 2, 3, 5]
    assert uids(read) == [f"1.2.250.1.59.{i}" for i in (1, 2, 3, 4)]
    assert read[-1].end_offset == len(data)
    with pytest.raises(ValueError, match="start_offset must be 0"):
        read_log(path, KEY, start_offset=read[0].end_offset)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda blob: blob[: len(blob) // 2], "truncated"),
        (lambda blob: blob[:-4] + b"\x00\x00\x00\x00", "corrupt"),  # wrong length in the trailer
        (lambda blob: blob[:20] + bytes(b ^ 0xFF for b in blob[20:60]) + blob[60:], "corrupt"),
        (lambda blob: b"not gzip at all", "corrupt"),
    ],
    ids=["truncated", "bad-trailer", "bad-data", "not-gzip"],
)
def test_corrupt_gzip_raises_before_yielding_anything(tmp_path: Path, damage, reason: str) -> None:
    path = tmp_path / "audit.log.2.gz"
    path.write_bytes(damage(gzip.compress(b"".join(lines(50)))))
    iterator = read_log(path, KEY)
    with pytest.raises(MalformedRecord, match=reason) as caught:
        next(iterator)
    assert str(path) not in str(caught.value) and path.name not in str(caught.value)  # a path may name a patient


# --- bounds: a line or a gzip file too big is rejected without being held in memory --------------------------------


def _with_a_long_line(length: int) -> bytes:
    good = lines(2)
    long = b"<110>1 2024-03-01T10:00:00Z host app - - - " + b"A" * length + b"\n"
    return good[0] + long + good[1]


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_line_longer_than_the_bound_is_rejected_and_the_lines_around_it_read(
    tmp_path: Path, compressed: bool
) -> None:
    data = _with_a_long_line(10_000)
    path = tmp_path / ("audit.log.1.gz" if compressed else "audit.log")
    path.write_bytes(gzip.compress(data) if compressed else data)
    read = list(read_log(path, KEY, max_line_bytes=4096))
    assert [entry.line_no for entry in read] == [1, 2, 3]
    assert read[1].records is None and read[1].error == "line longer than 4096 bytes (max_log_line_bytes): not read"
    assert uids(read) == ["1.2.250.1.59.1", "1.2.250.1.59.2"]
    first, second = lines(2)
    assert [e.end_offset for e in read] == [len(first), len(data) - len(second), len(data)]  # where a read resumes


def test_a_line_exactly_at_the_bound_is_read(tmp_path: Path) -> None:
    (line,) = lines(1)
    path = tmp_path / "audit.log"
    path.write_bytes(line)
    (entry,) = read_log(path, KEY, max_line_bytes=len(line) - 1)  # the newline is not counted
    assert entry.records is not None
    (entry,) = read_log(path, KEY, max_line_bytes=len(line) - 2)
    assert entry.error is not None and "longer than" in entry.error


def test_an_unfinished_long_line_of_a_plain_log_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(lines(1)[0] + b"<110>1 " + b"A" * 10_000)
    read = list(read_log(path, KEY, max_line_bytes=4096))
    assert [e.line_no for e in read] == [1]
    with path.open("ab") as fh:
        fh.write(b"\n")
    (entry,) = read_log(path, KEY, start_offset=read[0].end_offset, start_line=1, max_line_bytes=4096)
    assert (entry.line_no, entry.end_offset) == (2, path.stat().st_size) and "longer than" in entry.error


def test_a_gzip_file_bigger_than_the_bound_is_refused_before_any_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.log.1.gz"
    path.write_bytes(gzip.compress(b"".join(lines(20))))
    size = len(gzip.decompress(path.read_bytes()))
    assert len(list(read_log(path, KEY, max_decompressed_bytes=size))) == 20
    with pytest.raises(MalformedRecord, match=rf"decompresses to more than {size - 1} bytes") as caught:
        next(read_log(path, KEY, max_decompressed_bytes=size - 1))
    assert path.name not in str(caught.value)


def _user(user_id: str, requestor: bool | None = True) -> str:
    flag = "" if requestor is None else f' UserIsRequestor="{"true" if requestor else "false"}"'
    return f'<ActiveParticipant UserID="{user_id}"{flag} NetworkAccessPointID="192.168.1.7"/>'


PORTAL_KEY = participant_key(KEY, "PORTAIL_VILLE")


@pytest.mark.parametrize(
    "user_id",
    [
        "10001234567",
        "RPPS:10001234567",
        "rpps = 10001234567",
        "RPPS 10001234567",
        "RPPS-10001234567",
        "ANS:810001234567",
        "810001234567",
        "10001234567^DUPONT^JEAN",
    ],
)
def test_a_requesting_rpps_number_is_one_keyed_practitioner_whatever_its_form(user_id: str) -> None:
    participants = _user(user_id) + _user("PORTAIL_VILLE", requestor=False)
    (record,) = parse(syslog(audit_xml(event_id="110103", participants=participants)))
    assert record.practitioner_key == KEY("RPPS:10001234567")
    assert record.practitioner_key != KEY("10001234567")  # never the key a patient ID of those digits would get
    assert PORTAL_KEY in record.participant_keys
    assert "10001234567" not in repr(record) and "DUPONT" not in repr(record)


@pytest.mark.parametrize(
    "user_id",
    ["dr.martin", "1000123456", "100012345678", "710001234567", "10001234567x"],  # not 11 digits, nor 8 + 11 digits
)
def test_a_requestor_that_is_not_an_rpps_number_is_no_practitioner_and_is_not_kept(user_id: str) -> None:
    participants = _user(user_id) + participant("110152", "PORTAIL_VILLE")
    (record,) = parse(syslog(audit_xml(event_id="110106", participants=participants)))
    assert record.practitioner_key is None and record.destination_ae == "PORTAIL_VILLE"
    assert record.participant_keys == (participant_key(KEY, user_id.upper()),)  # keyed: the ID itself is not kept
    assert user_id not in repr(record) and user_id.upper() not in repr(record)


def test_no_participant_id_is_kept_in_clear_only_keyed_and_a_requesting_portal_still_counts() -> None:
    participants = _user("PORTAIL_VILLE") + _user("10001234567", requestor=False) + _user("j.dupont@chu")
    (record,) = parse(syslog(audit_xml(event_id="110103", participants=participants)))
    assert record.practitioner_key is None  # the RPPS number did not request
    assert record.participant_keys[0] == PORTAL_KEY and len(record.participant_keys) == 3
    assert not {"10001234567", "J.DUPONT@CHU", "j.dupont@chu", "PORTAIL_VILLE"} & set(repr(record).split("'"))


def test_a_participant_without_the_requestor_flag_requests() -> None:
    (record,) = parse(syslog(audit_xml(event_id="110103", participants=_user("10001234567", requestor=None))))
    assert record.practitioner_key == KEY("RPPS:10001234567")
