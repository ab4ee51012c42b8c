"""The tags a standards-speaking archive is asked for, and reading them out of DICOM JSON (PS3.18 F.2).

PatientName and PatientBirthDate are never asked for; a server that sends them anyway (QIDO-RS has default return
attributes) has them dropped here, unread: only the tags below leave this module.
"""

from __future__ import annotations

import base64
from typing import Any

from analytics.dicom_reader import (
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
)
from analytics.errors import MalformedRecord

TRANSFER_SYNTAX_UID = 0x00020010
SOURCE_AE_TITLE = 0x00020016
AVAILABLE_TRANSFER_SYNTAX_UID = 0x00083002
SAMPLES_PER_PIXEL = 0x00280002
NUMBER_OF_FRAMES = 0x00280008
ROWS = 0x00280010
COLUMNS = 0x00280011
BITS_ALLOCATED = 0x00280100
STUDY_RELATED_INSTANCES = 0x00201208
SERIES_RELATED_INSTANCES = 0x00201209

STUDY_KEYS = (SPECIFIC_CHARACTER_SET, STUDY_INSTANCE_UID, STUDY_DATE, STUDY_TIME, PATIENT_ID, STUDY_RELATED_INSTANCES)
SERIES_KEYS = (
    SPECIFIC_CHARACTER_SET,
    STUDY_INSTANCE_UID,
    SERIES_INSTANCE_UID,
    MODALITY,
    SERIES_RELATED_INSTANCES,
    INSTITUTION_NAME,
    STATION_NAME,
    MANUFACTURER,
)
INSTANCE_KEYS = (
    SPECIFIC_CHARACTER_SET,
    STUDY_INSTANCE_UID,
    SERIES_INSTANCE_UID,
    SOP_INSTANCE_UID,
    SOP_CLASS_UID,
    MODALITY,
    INSTITUTION_NAME,
    STATION_NAME,
    MANUFACTURER,
    ROWS,
    COLUMNS,
    BITS_ALLOCATED,
    NUMBER_OF_FRAMES,
    SAMPLES_PER_PIXEL,
    AVAILABLE_TRANSFER_SYNTAX_UID,
)
HEADER_TAGS = frozenset(
    {
        SPECIFIC_CHARACTER_SET,
        SOP_CLASS_UID,
        SOP_INSTANCE_UID,
        STUDY_DATE,
        STUDY_TIME,
        MODALITY,
        MANUFACTURER,
        INSTITUTION_NAME,
        STATION_NAME,
        PATIENT_ID,
        STUDY_INSTANCE_UID,
        SERIES_INSTANCE_UID,
        TRANSFER_SYNTAX_UID,
        SOURCE_AE_TITLE,
        AVAILABLE_TRANSFER_SYNTAX_UID,
        SAMPLES_PER_PIXEL,
        NUMBER_OF_FRAMES,
        ROWS,
        COLUMNS,
        BITS_ALLOCATED,
        STUDY_RELATED_INSTANCES,
        SERIES_RELATED_INSTANCES,
    }
)
_NEVER = frozenset({0x00100010, 0x00100030})  # PatientName, PatientBirthDate


def tag_number(hex8: str) -> int:
    return int(hex8, 16)


def wanted_tags(*extra: str | None) -> frozenset[int]:
    """The header tags plus the source's configured sender / reception / size tags (never a patient's name)."""
    return (HEADER_TAGS | {tag_number(t) for t in extra if t}) - _NEVER


def from_dicom_json(item: Any, wanted: frozenset[int]) -> dict[int, str]:
    """{tag: text} of the wanted tags of one DICOM JSON object (multiple values joined by backslashes)."""
    if not isinstance(item, dict):
        raise MalformedRecord("malformed DICOM JSON (not an object)")
    values: dict[int, str] = {}
    for key, element in item.items():
        try:
            tag = int(key, 16)
        except (TypeError, ValueError):
            raise MalformedRecord("malformed DICOM JSON (a key is not a tag)") from None
        if tag not in wanted or not isinstance(element, dict):
            continue
        if element.get("vr") == "UN" and isinstance(element.get("InlineBinary"), str):
            text = _unknown_vr_text(element["InlineBinary"])  # a private tag of an implicit-VR file
            if text:
                values[tag] = text
            continue
        if not isinstance(element.get("Value"), list):
            continue
        parts = [str(v) for v in element["Value"] if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
        if parts:
            values[tag] = "\\".join(parts)
    return values


def _unknown_vr_text(inline: str) -> str | None:
    """The text of a value the server could only send as bytes (VR UN): a vendor attribute of an implicit-VR file."""
    try:
        raw = base64.b64decode(inline, validate=True)
    except ValueError:
        raise MalformedRecord("malformed DICOM JSON (InlineBinary is not base64)") from None
    return raw.decode("latin-1").strip("\x00 ") or None
