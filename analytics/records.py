"""The records the readers return: parsed, pseudonymised, not yet stored.

Readers build these; `analytics.harvest` stores them. Times are timezone-aware (UTC). No field ever holds a patient
name, birth date or raw patient identifier: `patient_key` is a keyed hash (see `analytics.pseudonym`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """One DICOM instance as found in the archive (one Part-10 file or one archive resource)."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str | None
    modality: str | None
    study_date: date | None
    study_time: str | None  # DICOM TM as sent (HHMMSS.FFFFFF, possibly shortened)
    institution_name: str | None
    station_name: str | None
    manufacturer: str | None
    source_ae_title: str | None  # file meta (0002,0016), or the archive's RemoteAET
    specific_character_set: str | None
    transfer_syntax_uid: str | None
    size_bytes: int
    received_at: datetime  # aware
    patient_key: str | None  # HMAC-SHA256 of PatientID, hex
    # archives queried through the standards (DICOMweb, C-FIND) may not say: see analytics.pacs.sizes
    size_estimated: bool = False  # size_bytes is an estimate, not the stored size
    received_at_estimated: bool = False  # received_at is when a harvest first saw the instance, not its receipt
    # values set aside or truncated to their VR's length, e.g. "institution_name:truncated" (analytics.dicom_bounds)
    value_flags: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit event for one study (an event naming no study gives one record with study_instance_uid None)."""

    event_id: str  # DCM code, e.g. "110104"
    event_name: str | None  # the code's standard name (DICOM CID 400), None for another code: never the text sent
    action: str | None  # EventActionCode C/R/U/D/E
    outcome: int | None  # EventOutcomeIndicator: 0 success, 4/8/12 failures
    event_time: datetime  # aware
    source_ae: str | None  # participant with RoleIDCode 110153
    destination_ae: str | None  # participant with RoleIDCode 110152
    audit_source_id: str | None
    study_instance_uid: str | None
    instance_count: int | None  # NumberOfInstances summed over the study's SOP classes
    patient_key: str | None  # HMAC of the patient participant's ID, when the message names one
    message_sha256: str  # hash of the whole syslog message: with study_instance_uid, the record's identity
    event_type_code: str | None = None  # first EventTypeCode (DCM), e.g. 110120 Application Start, 110121 Stop
    practitioner_key: str | None = None  # HMAC of the requesting user's RPPS number (a portal's doctor), if it is one
    participant_keys: tuple[str, ...] = ()  # keyed hashes of every participant's AE title or ID (a portal is one)
