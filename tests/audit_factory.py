"""Audit syslog lines made on the fly for tests: DICOM PS3.15 A.5 AuditMessage XML in RFC 5424 records."""

from __future__ import annotations

import gzip
from datetime import UTC
from pathlib import Path

PATIENT_ID = "PAT778899"
PATIENT_NAME = "DUPONT^JEANNE"
STUDY_A = "1.2.250.1.59.453.859.1"
STUDY_B = "1.2.250.1.59.453.859.2"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
SR_DOC = "1.2.840.10008.5.1.4.1.1.88.22"
UTC = UTC


def coded(tag: str, code: str, text: str, style: str) -> str:
    if style == "dicom":
        return f'<{tag} csd-code="{code}" codeSystemName="DCM" originalText="{text}"/>'
    return f'<{tag} code="{code}" codeSystemName="DCM" displayName="{text}"/>'


def participant(role: str, user_id: str, alternative: str | None = None, style: str = "dicom") -> str:
    alt = f' AlternativeUserID="{alternative}"' if alternative is not None else ""
    role_name = "Source" if role == "110153" else "Destination"
    return (
        f'<ActiveParticipant UserID="{user_id}"{alt} UserIsRequestor="false" NetworkAccessPointID="10.0.0.5"'
        f' NetworkAccessPointTypeCode="2">{coded("RoleIDCode", role, role_name, style)}</ActiveParticipant>'
    )


def study(uid: str, sop_classes: list[tuple[str, str]], style: str = "dicom") -> str:
    sops = "".join(f'<SOPClass UID="{sop}" NumberOfInstances="{n}"/>' for sop, n in sop_classes)
    description = f"<ParticipantObjectDescription>{sops}</ParticipantObjectDescription>" if sop_classes else ""
    return (
        f'<ParticipantObjectIdentification ParticipantObjectID="{uid}" ParticipantObjectTypeCode="2"'
        f' ParticipantObjectTypeCodeRole="3">{coded("ParticipantObjectIDTypeCode", "110180", "Study UID", style)}'
        f"{description}</ParticipantObjectIdentification>"
    )


def patient(style: str = "dicom") -> str:
    return (
        f'<ParticipantObjectIdentification ParticipantObjectID="{PATIENT_ID}^^^&amp;1.2.250.1.71&amp;ISO"'
        f' ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">'
        f"{coded('ParticipantObjectIDTypeCode', '2', 'Patient Number', style)}"
        f"<ParticipantObjectName>{PATIENT_NAME}</ParticipantObjectName></ParticipantObjectIdentification>"
    )


def audit_xml(
    *,
    style: str = "dicom",
    root: str = "AuditMessage",
    event_id: str | None = "110104",
    when: str = "2024-03-01T10:00:00Z",
    outcome: str | None = "0",
    participants: str | None = None,
    objects: str | None = None,
    declaration: bool = False,
    event_type: tuple[str, str] | None = None,
    event_text: str = "DICOM Instances Transferred",
) -> str:
    outcome_attr = f' EventOutcomeIndicator="{outcome}"' if outcome is not None else ""
    event = coded("EventID", event_id, event_text, style) if event_id else ""
    if event_type is not None:
        event += coded("EventTypeCode", *event_type, style)
    if participants is None:
        participants = participant("110153", "orthanc", "AE=ORTHANC", style) + participant(
            "110152", "CT_SALLE1", None, style
        )
    if objects is None:
        objects = study(STUDY_A, [(CT_IMAGE, "120")], style) + patient(style)
    head = '<?xml version="1.0" encoding="UTF-8"?>' if declaration else ""
    return (
        f'{head}<{root}><EventIdentification EventActionCode="R" EventDateTime="{when}"{outcome_attr}>{event}'
        f"</EventIdentification>{participants}"
        f'<AuditSourceIdentification AuditSourceID="PACS-IDF-1"/>{objects}</{root}>'
    )


def syslog(
    msg: str, *, pri: str = "<85>", version: str = "1", sd: str = "-", bom: bool = False, eol: str = "\n"
) -> bytes:
    header = f"{pri}{version} 2024-03-01T10:00:00.123+01:00 pacs01.example.org ORTHANC 2817 IHE+RFC-3881 {sd} "
    return header.encode() + (b"\xef\xbb\xbf" if bom else b"") + msg.encode() + eol.encode()


def write_gzip_bomb(path: Path, mebibytes: int) -> None:
    """One line of `mebibytes` MiB, as gzip members of 1 MiB each (~1 KiB compressed apiece): a bomb of ~1,000:1."""
    chunk = b"A" * (1 << 20)
    member = gzip.compress(chunk, compresslevel=9, mtime=0)
    with path.open("wb") as fp:
        fp.write(gzip.compress(b"<110>1 2012-03-01T10:00:00Z host app - - - <AuditMessage>", mtime=0))
        for _ in range(mebibytes):
            fp.write(member)
        fp.write(gzip.compress(b"</AuditMessage>\n", mtime=0))
