"""What a stored DICOM header value may be: the length its VR allows, and a study date that can be true.

A sender can put anything in a header (a 5,000,000-character InstitutionName, StudyDate 99991231). What sansfilm
stores and publishes stays within DICOM PS3.5 table 6.2-1, field by field (docs/harvest.md, "Header values"):

* a UID longer than 64 characters makes the file unreadable as an instance: quarantined (analytics.dicom_reader);
* a name (LO, SH) longer than its VR allows is truncated to it, and flagged: the rest of the instance is good;
* a code (CS, AE) or a time (TM) longer than its VR allows is set aside (stored NULL) and flagged: a cut code would
  be another code, and could attribute the instance to the wrong establishment;
* a StudyDate before 1900, after the harvest's day plus a tolerance, or unparsable is set aside and flagged.

Flags are short codes (`institution_name:truncated`), never the value: the record's `value_flags`, counted per
harvest run (`records_flagged`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

# DICOM PS3.5 table 6.2-1, maximum length in characters (LO, SH) or bytes (CS, AE, TM, DA: ASCII).
MAX_LENGTH = {"AE": 16, "CS": 16, "DA": 8, "LO": 64, "SH": 16, "TM": 14, "UI": 64}
EARLIEST_STUDY_DATE = date(1900, 1, 1)
STUDY_DATE_TOLERANCE = timedelta(days=2)  # modality clocks and time zones: a study "tomorrow" is not an error


class ValueFlags:
    """The flags of one record, in the order they were raised."""

    __slots__ = ("_flags",)

    def __init__(self) -> None:
        self._flags: list[str] = []

    def add(self, field: str, problem: str) -> None:
        self._flags.append(f"{field}:{problem}")

    def joined(self) -> str | None:
        return ",".join(self._flags) or None


def truncated(value: str | None, vr: str, field: str, flags: ValueFlags) -> str | None:
    """A name cut to its VR's length (trailing spaces of the cut removed), flagged when cut."""
    limit = MAX_LENGTH[vr]
    if value is None or len(value) <= limit:
        return value
    flags.add(field, "truncated")
    return value[:limit].rstrip() or None


def within(value: str | None, vr: str, field: str, flags: ValueFlags) -> str | None:
    """A code or time as sent, or None (flagged) when longer than its VR allows."""
    if value is None or len(value) <= MAX_LENGTH[vr]:
        return value
    flags.add(field, "too_long")
    return None


def study_time(text: str | None, flags: ValueFlags) -> str | None:
    """DICOM TM as sent, or None (flagged) when longer than 14 characters once the colons of the old ACR-NEMA form
    (HH:MM:SS.FFFFFF, still sent by some modalities and read by the staged model) are left out."""
    if text is None or len(text.replace(":", "")) <= MAX_LENGTH["TM"]:
        return text
    flags.add("study_time", "too_long")
    return None


def study_date(text: str | None, flags: ValueFlags, today: date | None = None) -> date | None:
    """DICOM DA (YYYYMMDD, or ACR-NEMA YYYY.MM.DD) as a date, or None (flagged) when unparsable or out of range."""
    if text is None:
        return None
    digits = text.replace(".", "")
    try:
        if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
            raise ValueError
        value = date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        flags.add("study_date", "unparsable")
        return None
    latest = (today or datetime.now(UTC).date()) + STUDY_DATE_TOLERANCE
    if not EARLIEST_STUDY_DATE <= value <= latest:
        flags.add("study_date", "out_of_range")
        return None
    return value
