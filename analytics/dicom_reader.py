"""Read the header of one DICOM Part-10 file into an `InstanceRecord`, never its pixel data.

Two paths, one result:

* a lean element walker for the transfer syntaxes that cover almost every archive (Explicit and Implicit VR Little
  Endian, and every compressed syntax, which keep their dataset in Explicit VR LE). It reads the first block of the
  file, walks element headers with `struct`, keeps the raw bytes of the dozen tags we need (at most 1 KiB of each:
  longer breaks their VR anyway), jumps over everything else (sequences included) without reading it, and stops at
  Pixel Data, whose announced length is checked against the file size so that a truncated file is caught without
  reading the pixels. Its memory does not grow with what a header holds;
* pydicom's own reader (`stop_before_pixels`) for everything else: Big Endian, deflated datasets, files without
  preamble, and any file the walker finds odd. pydicom also does the character-set decoding in both paths.

Patient identity: PatientName and PatientBirthDate are never read; PatientID is read only to be hashed, here.
Errors are `MalformedRecord` with a reason that never quotes header values (nor the file's path). Values are kept
within their VR's length by analytics.dicom_bounds.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import warnings
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pydicom
import pydicom.multival
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.errors import InvalidDicomError

from analytics.dicom_bounds import MAX_LENGTH, ValueFlags, study_date, study_time, truncated, within
from analytics.errors import MalformedRecord
from analytics.pseudonym import Pseudonymiser
from analytics.records import InstanceRecord

# The tags we keep, as (group << 16) | element.
SPECIFIC_CHARACTER_SET = 0x00080005
SOP_CLASS_UID = 0x00080016
SOP_INSTANCE_UID = 0x00080018
STUDY_DATE = 0x00080020
STUDY_TIME = 0x00080030
MODALITY = 0x00080060
MANUFACTURER = 0x00080070
INSTITUTION_NAME = 0x00080080
STATION_NAME = 0x00081010
PATIENT_ID = 0x00100020
STUDY_INSTANCE_UID = 0x0020000D
SERIES_INSTANCE_UID = 0x0020000E
PIXEL_DATA = 0x7FE00010
_WANTED = frozenset(
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
    }
)
_TEXT_TAGS = (INSTITUTION_NAME, STATION_NAME, MANUFACTURER)  # decoded with SpecificCharacterSet

_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_DEFLATED = "1.2.840.10008.1.2.1.99"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_FIRST_READ = 16 * 1024
_READ_AHEAD = 64 * 1024
# The most of a wanted value read: every wanted tag's VR allows at most 64 characters (256 bytes in UTF-8), so a
# longer value is truncated, set aside or quarantined (analytics.dicom_bounds) whatever its rest holds.
_KEPT_BYTES = 1024

# pydicom logs what it finds odd with the name of the file it reads, and a path may name a patient: its messages are
# dropped (the quarantine reason, or the record, says what matters).
logging.getLogger("pydicom").addFilter(lambda record: False)

_u16 = struct.Struct("<H").unpack_from
_u32 = struct.Struct("<I").unpack_from
_tag_vr = struct.Struct("<HH2s").unpack_from
_tag_len = struct.Struct("<HHI").unpack_from


class _NotForWalker(Exception):
    """The walker does not handle this file: let pydicom read it."""


class _Truncated(Exception):
    """The file ends before a value it announces."""


def read_instance(
    path: Path | str, pseudonymise: Pseudonymiser, stat: os.stat_result | None = None, *, walk: bool = True
) -> InstanceRecord:
    """Parse one file. Raises MalformedRecord (with a reason fit for the quarantine table) if it cannot. walk=False
    reads it with pydicom only: the reference the fast walker must agree with."""
    path = os.fspath(path)
    try:
        stat = stat or os.stat(path)
        if stat.st_size == 0:
            raise MalformedRecord("empty file")
        with open(path, "rb") as fp:
            try:
                if not walk:
                    raise _NotForWalker
                values, transfer_syntax = _walk(fp, stat.st_size)
            except _NotForWalker:
                fp.seek(0)
                values, transfer_syntax = _read_with_pydicom(fp)
    except _Truncated as exc:
        raise MalformedRecord(f"truncated file: {exc}") from None
    except OSError as exc:
        raise MalformedRecord(f"unreadable file: {exc.strerror or type(exc).__name__}") from None
    return _record(values, transfer_syntax, stat, pseudonymise)


# --- batches, for worker processes ------------------------------------------------------------------------------

INSTANCE_FIELDS = tuple(f.name for f in fields(InstanceRecord))
# how the reason of a file the reader failed on begins: the harvest reads such a file again each time (a later
# sansfilm may read it), where a file found malformed is read again only once it changes
READER_FAILED = "not read: sansfilm's reader failed"


def parse_dicom_files(files, pseudonymise: Pseudonymiser) -> list[tuple[tuple | None, str | None]]:
    """Worker entry point (kept in this light module so worker processes start fast): parse a chunk of files;
    each gives (record fields, None) or (None, quarantine reason)."""
    out: list[tuple[tuple | None, str | None]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about vendor quirks; the record or the reason says enough
        for path, *_ in files:
            try:
                record = read_instance(path, pseudonymise)
                out.append((tuple(getattr(record, name) for name in INSTANCE_FIELDS), None))
            except MalformedRecord as exc:
                out.append((None, str(exc)))
            except Exception as exc:  # a reader's bug must not stop the harvest: the file waits in quarantine
                out.append((None, f"{READER_FAILED} ({type(exc).__name__}); please report it"))
    return out


# --- the walker -------------------------------------------------------------------------------------------------


def _walk(fp, file_size: int) -> tuple[dict[int, bytes], str | None]:
    buf = fp.read(_FIRST_READ)
    if len(buf) < 132 or buf[128:132] != b"DICM":
        raise _NotForWalker
    meta: dict[int, bytes] = {}
    pos = 132
    while True:  # file meta: always Explicit VR Little Endian, group 0002
        if pos + 8 > len(buf):
            raise _Truncated("the file meta information is cut short") if len(buf) >= file_size else _NotForWalker
        group, element, vr = _tag_vr(buf, pos)
        if group != 0x0002:
            break
        if vr in _LONG_VRS:
            length = _u32(buf, pos + 8)[0]
            pos += 12
        else:
            length = _u16(buf, pos + 6)[0]
            pos += 8
        if length == _UNDEFINED:
            raise _NotForWalker
        if pos + length > len(buf):
            raise _Truncated("the file meta information is cut short") if len(buf) >= file_size else _NotForWalker
        meta[(group << 16) | element] = buf[pos : pos + length]
        pos += length
    transfer_syntax = _ascii(meta.get(0x00020010))
    if transfer_syntax is None or transfer_syntax in (_DEFLATED, _BIG_ENDIAN):
        raise _NotForWalker
    walker = _Walker(fp, buf, file_size, implicit=transfer_syntax == _IMPLICIT_LE)
    values = walker.dataset(pos)
    if 0x00020016 in meta:
        values[0x00020016] = meta[0x00020016]
    return values, transfer_syntax


class _Walker:
    """Walks element headers over a window of the file that only moves forward; reads what a header or a kept value
    needs and jumps over the rest, so a huge element (a private blob, a 5 MB InstitutionName) is never held whole."""

    def __init__(self, fp, buf: bytes, file_size: int, *, implicit: bool) -> None:
        self.fp, self.buf, self.base, self.file_size, self.implicit = fp, buf, 0, file_size, implicit

    def _need(self, start: int, end: int) -> int:
        """Make the window hold the file's bytes [start, end); returns where `start` is in it."""
        if self.base <= start and end <= self.base + len(self.buf):
            return start - self.base
        if end > self.file_size:
            raise _Truncated("an element header runs past the end of the file")
        if self.base <= start <= self.base + len(self.buf):  # what follows the window: extend it, drop what is behind
            self.fp.seek(self.base + len(self.buf))
            kept = self.buf[start - self.base :]
            self.buf = kept + self.fp.read(max(end - start - len(kept), _READ_AHEAD))
        else:  # beyond the window: jump
            self.fp.seek(start)
            self.buf = self.fp.read(max(end - start, _READ_AHEAD))
        self.base = start
        if start + len(self.buf) < end:
            raise _Truncated("the file is shorter than its size says")
        return 0

    def _header(self, pos: int) -> tuple[int, bytes | None, int, int]:
        """(tag, vr, length, value position) of the element at pos."""
        at = self._need(pos, pos + 8)
        if self.implicit:
            group, element, length = _tag_len(self.buf, at)
            return (group << 16) | element, None, length, pos + 8
        group, element, vr = _tag_vr(self.buf, at)
        if group == 0xFFFE:  # item and delimiter tags carry no VR
            return (group << 16) | element, None, _u32(self.buf, at + 4)[0], pos + 8
        if vr in _LONG_VRS:
            at = self._need(pos, pos + 12)
            return (group << 16) | element, vr, _u32(self.buf, at + 8)[0], pos + 12
        if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
            raise _NotForWalker  # not a VR: the dataset is not what the meta says
        return (group << 16) | element, vr, _u16(self.buf, at + 6)[0], pos + 8

    def dataset(self, pos: int) -> dict[int, bytes]:
        """Top level: keep wanted values, stop at Pixel Data after checking it fits in the file."""
        values: dict[int, bytes] = {}
        while pos < self.file_size:
            tag, vr, length, pos = self._header(pos)
            if tag == PIXEL_DATA:
                self._check_pixel_data(pos, length)
                break
            if length == _UNDEFINED:
                pos = self._skip_undefined(pos)
                continue
            if pos + length > self.file_size:
                raise _Truncated("a header value runs past the end of the file")
            if tag in _WANTED:
                kept = min(length, _KEPT_BYTES)  # beyond, a value breaks its VR whatever it holds (dicom_bounds)
                at = self._need(pos, pos + kept)
                values[tag] = self.buf[at : at + kept]
            pos += length
        return values

    def _skip_undefined(self, pos: int) -> int:
        """Skip a sequence of undefined length (items of defined or undefined length) and return what follows. A loop
        with a stack of what is open, not a recursion: a file nesting thousands of sequences is read like any other."""
        open_: list[bool] = [False]  # per level: inside an item of undefined length (True) or a sequence (False)
        while open_:
            tag, _, length, pos = self._header(pos)
            if open_[-1]:  # an item of undefined length: elements until the item delimiter
                if tag == _ITEM_END:
                    open_.pop()
                elif length == _UNDEFINED:
                    open_.append(False)
                else:
                    pos += length
            elif tag == _SEQ_END:
                open_.pop()
            elif tag != _ITEM:
                raise _NotForWalker
            elif length == _UNDEFINED:
                open_.append(True)
            else:
                pos += length
        return pos

    def _check_pixel_data(self, pos: int, length: int) -> None:
        if length != _UNDEFINED:
            if pos + length > self.file_size:
                raise _Truncated(f"pixel data announces {length} bytes, the file holds {self.file_size - pos}")
            return
        while True:  # encapsulated: fragments as items, then the sequence delimiter; read only their headers
            if pos + 8 > self.file_size:
                raise _Truncated("encapsulated pixel data ends without its delimiter")
            self.fp.seek(pos)
            header = self.fp.read(8)
            group, element, item_length = _tag_len(header, 0)
            tag = (group << 16) | element
            if tag == _SEQ_END:
                return
            if tag != _ITEM:
                raise _Truncated("encapsulated pixel data holds something other than fragments")
            pos += 8 + item_length
            if pos > self.file_size:
                raise _Truncated("a pixel data fragment runs past the end of the file")


# --- the pydicom path -----------------------------------------------------------------------------------------------


def _read_with_pydicom(fp) -> tuple[dict[int, bytes | str], str | None]:
    forced = False
    try:
        try:
            ds = pydicom.dcmread(fp, stop_before_pixels=True, defer_size=_KEPT_BYTES)
        except InvalidDicomError:
            fp.seek(0)
            forced = True
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True, defer_size=_KEPT_BYTES)
    except MalformedRecord:
        raise
    except Exception as exc:  # pydicom raises many types on garbage; the reason names the type, not the values
        raise MalformedRecord(f"not a readable DICOM file ({type(exc).__name__})") from None
    values: dict[int, bytes | str] = {}
    try:
        for tag in _WANTED:
            if tag in ds:
                raw = ds.get_item(tag, keep_deferred=True)  # a value longer than _KEPT_BYTES is not read yet
                value = raw.value if hasattr(raw, "value") else None
                if value is None and getattr(raw, "length", 0) > _KEPT_BYTES:
                    value = _first_bytes(fp, ds, raw)
                if isinstance(value, bytes):
                    values[tag] = value
                elif isinstance(value, (list, tuple, pydicom.multival.MultiValue)):  # converted multi-valued
                    values[tag] = "\\".join(str(v) for v in value)
                elif value is not None:  # pydicom converted it already (character set, big endian): keep the text
                    values[tag] = str(value)
        meta = getattr(ds, "file_meta", None)
        transfer_syntax = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None
        if meta is not None and "SourceApplicationEntityTitle" in meta:
            values[0x00020016] = str(meta.SourceApplicationEntityTitle).encode("ascii", "replace")
    except Exception as exc:
        raise MalformedRecord(f"not a readable DICOM file ({type(exc).__name__})") from None
    if forced and (STUDY_INSTANCE_UID not in values or SOP_INSTANCE_UID not in values):
        raise MalformedRecord("not a DICOM file (no 'DICM' marker and no readable dataset)")
    return values, transfer_syntax


def _first_bytes(fp, ds, raw) -> bytes | str | None:
    """The first _KEPT_BYTES of a value pydicom deferred (enough to judge it against its VR), read where it lies in
    the file; from a deflated dataset (not a position in the file), the value as pydicom reads it."""
    if ds.file_meta.get("TransferSyntaxUID") == _DEFLATED:
        return ds.get_item(raw.tag).value
    fp.seek(raw.value_tell)
    return fp.read(_KEPT_BYTES)


# --- values -> record ---------------------------------------------------------------------------------------------


def _ascii(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    text = (raw if isinstance(raw, str) else raw.decode("ascii", "replace")).strip("\x00 ")
    return text or None


def _uid(values: dict[int, bytes | str], tag: int, name: str, required: bool) -> str | None:
    uid = _ascii(values.get(tag))
    if uid is None:
        if required:
            raise MalformedRecord(f"missing required tag {name}")
        return None
    if len(uid) > MAX_LENGTH["UI"]:
        raise MalformedRecord(f"{name} longer than {MAX_LENGTH['UI']} characters (VR UI)")
    if not _UID.match(uid):
        raise MalformedRecord(f"malformed {name} (not a DICOM UID)")
    return uid


def _text(raw: bytes | str | None, encodings: list[str]) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw
    else:
        try:
            text = decode_bytes(raw, encodings, {0x5C})
        except Exception:
            text = raw.decode("latin-1")
    text = text.replace("\x00", "").strip()
    return text or None


def _record(
    values: dict[int, bytes | str], transfer_syntax: str | None, stat, pseudonymise: Pseudonymiser
) -> InstanceRecord:
    received_at = datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=UTC)
    return header_record(values, transfer_syntax, stat.st_size, received_at, pseudonymise)


def header_record(
    values: dict[int, bytes | str],
    transfer_syntax: str | None,
    size_bytes: int,
    received_at: datetime,
    pseudonymise: Pseudonymiser,
    *,
    size_estimated: bool = False,
    received_at_estimated: bool = False,
) -> InstanceRecord:
    """The record of header values however they were read (a file, an archive's JSON or a C-FIND answer): the same
    normalisation of character sets, padding and UIDs everywhere. Values are raw bytes or already decoded text."""
    charset_terms = [t.strip() for t in (_ascii(values.get(SPECIFIC_CHARACTER_SET)) or "").split("\\")]
    try:
        encodings = convert_encodings([t for t in charset_terms] or [""])
    except Exception:
        encodings = ["iso8859"]
    modality = _ascii(values.get(MODALITY))
    if transfer_syntax is not None and len(transfer_syntax) > MAX_LENGTH["UI"]:
        raise MalformedRecord(f"TransferSyntaxUID longer than {MAX_LENGTH['UI']} characters (VR UI)")
    flags = ValueFlags()  # values longer than their VR allows, dates that cannot be true: see analytics.dicom_bounds
    charset = "\\".join(t for t in charset_terms if t) or None
    if any(len(t) > MAX_LENGTH["CS"] for t in charset_terms):  # multi-valued: each term is a CS
        charset = None
        flags.add("specific_character_set", "too_long")
    return InstanceRecord(
        study_instance_uid=_uid(values, STUDY_INSTANCE_UID, "StudyInstanceUID", True),
        series_instance_uid=_uid(values, SERIES_INSTANCE_UID, "SeriesInstanceUID", True),
        sop_instance_uid=_uid(values, SOP_INSTANCE_UID, "SOPInstanceUID", True),
        sop_class_uid=_uid(values, SOP_CLASS_UID, "SOPClassUID", False),
        modality=within(modality.upper() if modality else None, "CS", "modality", flags),
        study_date=study_date(_ascii(values.get(STUDY_DATE)), flags),
        study_time=study_time(_ascii(values.get(STUDY_TIME)), flags),
        institution_name=truncated(_text(values.get(INSTITUTION_NAME), encodings), "LO", "institution_name", flags),
        station_name=truncated(_text(values.get(STATION_NAME), encodings), "SH", "station_name", flags),
        manufacturer=truncated(_text(values.get(MANUFACTURER), encodings), "LO", "manufacturer", flags),
        source_ae_title=within(_ascii(values.get(0x00020016)), "AE", "source_ae_title", flags),
        specific_character_set=charset,
        transfer_syntax_uid=transfer_syntax,
        size_bytes=size_bytes,
        received_at=received_at,
        patient_key=pseudonymise(_text(values.get(PATIENT_ID), encodings)),
        size_estimated=size_estimated,
        received_at_estimated=received_at_estimated,
        value_flags=flags.joined(),
    )
