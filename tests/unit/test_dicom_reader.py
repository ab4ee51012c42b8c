import os
import warnings
from datetime import date
from pathlib import Path

import pydicom
import pytest
from pydicom.filewriter import dcmwrite
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from analytics.dicom_bounds import ValueFlags, study_date, study_time
from analytics.dicom_reader import read_instance
from analytics.errors import MalformedRecord
from analytics.pseudonym import Pseudonymiser
from tests.dicom_factory import PATIENT_ID, PATIENT_NAME, make_dicom

PSEUDO = Pseudonymiser("unit-test-key-0123456789")
PYDICOM_TEST_FILES = sorted(
    p for p in (Path(pydicom.__file__).parent / "data" / "test_files").rglob("*") if p.is_file()
)


def test_latin1_header_decodes_and_patient_is_hashed(tmp_path):
    path = make_dicom(tmp_path / "IM0001")
    os.utime(path, ns=(1_330_938_672_000_000_000, 1_330_938_672_000_000_000))
    record = read_instance(path, PSEUDO)
    assert record.institution_name == "Hôpital Européen Georges-Pompidou"
    assert record.source_ae_title == "HEGP_CT"
    assert record.study_instance_uid == "1.2.250.1.999.1"
    assert record.modality == "CT"
    assert record.study_date.isoformat() == "2012-03-05"
    assert record.size_bytes == path.stat().st_size
    assert record.received_at.isoformat() == "2012-03-05T09:11:12+00:00"
    assert record.patient_key == PSEUDO(PATIENT_ID) != PATIENT_ID
    assert PATIENT_ID not in repr(record) and "Lefèvre" not in repr(record)


def test_latin1_bytes_really_are_latin1(tmp_path):
    raw = make_dicom(tmp_path / "IM0001").read_bytes()
    assert "Européen".encode("latin-1") in raw and "Européen".encode() not in raw


def test_utf8_and_implicit_vr(tmp_path):
    path = make_dicom(
        tmp_path / "a", charset="ISO_IR 192", institution="Clinique Müller", transfer_syntax=ImplicitVRLittleEndian
    )
    record = read_instance(path, PSEUDO)
    assert record.institution_name == "Clinique Müller"
    assert record.transfer_syntax_uid == ImplicitVRLittleEndian


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("Compte rendu: RAS\n" * 20), "not a DICOM file"),
        (lambda p: p.write_bytes(make_dicom(p).read_bytes()[:-20]), "truncated file"),
        (lambda p: p.write_bytes(make_dicom(p).read_bytes()[:300]), "truncated file"),
        (lambda p: p.write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 40), "missing required tag|not a readable DICOM"),
    ],
    ids=["empty", "text", "truncated-pixels", "truncated-header", "garbage-after-preamble"],
)
def test_bad_files_raise_a_reason(tmp_path, make, reason):
    path = tmp_path / "bad"
    make(path)
    with pytest.raises(MalformedRecord, match=reason) as err:
        read_instance(path, PSEUDO)
    assert PATIENT_ID not in str(err.value) and PATIENT_NAME not in str(err.value)


def test_missing_study_uid_is_named(tmp_path):
    path = make_dicom(tmp_path / "x")
    ds = pydicom.dcmread(path)
    del ds.StudyInstanceUID
    ds.save_as(path)
    with pytest.raises(MalformedRecord, match="missing required tag StudyInstanceUID"):
        read_instance(path, PSEUDO)


def _via_pydicom(path):
    return read_instance(path, PSEUDO, walk=False)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("path", PYDICOM_TEST_FILES, ids=lambda p: p.name)
def test_pydicom_test_files_parse_or_quarantine_and_agree_with_pydicom(path):
    """The fast walker gives the same record as pydicom's own reader, or a reason; it never crashes."""
    try:
        fast = read_instance(path, PSEUDO)
    except MalformedRecord as exc:
        assert str(exc)
        return
    assert fast == _via_pydicom(path)


# --- values beyond what their VR allows, dates that cannot be true (analytics.dicom_bounds) -------------------------


def test_values_longer_than_their_vr_are_truncated_or_set_aside_and_flagged(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns that the values break their VR: that is the point
        path = make_dicom(
            tmp_path / "IM1",
            institution="CHU " + "X" * 5_000_000,
            station="S" * 40,
            modality="CT" * 10,
            ae_title="A" * 40,
        )
    record = read_instance(path, PSEUDO)
    assert record.institution_name == "CHU " + "X" * 60  # LO: 64 characters
    assert record.station_name == "S" * 16  # SH: 16
    assert (record.modality, record.source_ae_title) == (None, None)  # a cut code would be another code
    assert record.value_flags == (
        "modality:too_long,institution_name:truncated,station_name:truncated,source_ae_title:too_long"
    )
    assert read_instance(make_dicom(tmp_path / "IM2"), PSEUDO).value_flags is None


@pytest.mark.parametrize("tag", ["sop_uid", "study_uid", "series_uid"])
def test_a_uid_longer_than_64_characters_is_quarantined(tmp_path, tag):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = make_dicom(tmp_path / "IM1", **{tag: "1.2.250." + "1" * 60})
    with pytest.raises(MalformedRecord, match=r"InstanceUID longer than 64 characters \(VR UI\)"):
        read_instance(path, PSEUDO)


@pytest.mark.parametrize(
    ("sent", "stored", "flag"),
    [
        ("20120305", date(2012, 3, 5), None),
        ("2012.03.05", date(2012, 3, 5), None),  # ACR-NEMA
        ("19000101", date(1900, 1, 1), None),
        ("18991231", None, "study_date:out_of_range"),
        ("99991231", None, "study_date:out_of_range"),
        ("20270101", None, "study_date:out_of_range"),  # after the harvest's day and its tolerance
        ("20261206", date(2026, 12, 6), None),  # within the tolerance (modality clocks, time zones)
        ("20120230", None, "study_date:unparsable"),
        ("2012AB05", None, "study_date:unparsable"),
        ("201203", None, "study_date:unparsable"),
    ],
)
def test_study_dates_out_of_range_are_set_aside_and_flagged(sent, stored, flag):
    flags = ValueFlags()
    assert study_date(sent, flags, today=date(2026, 12, 4)) == stored
    assert flags.joined() == flag


def test_a_study_dated_9999_is_stored_without_its_date(tmp_path):
    record = read_instance(make_dicom(tmp_path / "IM1", study_date="99991231"), PSEUDO)
    assert (record.study_date, record.value_flags) == (None, "study_date:out_of_range")


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("101112.123456", "101112.123456"),
        ("10:11:12.123456", "10:11:12.123456"),
        ("1011", "1011"),
        ("101112.12345678", None),
        ("1" * 40, None),
    ],
)
def test_a_study_time_longer_than_tm_allows_is_set_aside(sent, stored):
    flags = ValueFlags()
    assert study_time(sent, flags) == stored
    assert flags.joined() == (None if stored else "study_time:too_long")


@pytest.mark.parametrize("big_endian", [False, True], ids=["walker", "pydicom"])
def test_huge_header_elements_are_jumped_over_not_read(tmp_path, big_endian):
    """A 20 MB private blob and a 5 MB InstitutionName before the pixels: the walker reads a window, not the file;
    pydicom (Big Endian here) defers what is long and sansfilm reads 1 KiB of what it keeps."""
    import tracemalloc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = make_dicom(tmp_path / "IM1", institution="CHU " + "X" * 5_000_000)
        ds = pydicom.dcmread(path)
        ds.add_new(0x00091010, "OB", b"\0" * 20_000_000)  # private, between the tags kept
        if big_endian:
            ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
            dcmwrite(path, ds, implicit_vr=False, little_endian=False, force_encoding=True)
        else:
            ds.save_as(path)
    tracemalloc.start()
    try:
        record = read_instance(path, PSEUDO)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (record.institution_name, record.value_flags) == ("CHU " + "X" * 60, "institution_name:truncated")
    assert record.sop_instance_uid and record.study_date.isoformat() == "2012-03-05"
    assert peak < 1_000_000, peak  # the file is 25 MB


def nested(path: Path, depth: int) -> Path:
    """`path` with `depth` private sequences of undefined length nested before its pixels (Explicit VR Little)."""
    import struct

    data = path.read_bytes()
    pixels = data.rfind(b"\xe0\x7f\x10\x00")
    opened = struct.pack("<HH2sHIHHI", 0x0009, 0x1010, b"SQ", 0, 0xFFFFFFFF, 0xFFFE, 0xE000, 0xFFFFFFFF)  # SQ, item
    closed = struct.pack("<HHIHHI", 0xFFFE, 0xE00D, 0, 0xFFFE, 0xE0DD, 0)  # item, then sequence, delimited
    path.write_bytes(data[:pixels] + opened * depth + closed * depth + data[pixels:])
    return path


def test_thousands_of_nested_sequences_are_walked_not_recursed(tmp_path):
    """A crafted file once stopped every harvest with a RecursionError: the walker now reads 3,000 nested sequences
    like any other; pydicom, the reference, reads the file or gives a reason for the quarantine."""
    path = nested(make_dicom(tmp_path / "IM1"), 3000)
    record = read_instance(path, PSEUDO)
    assert record.study_date.isoformat() == "2012-03-05" and record.institution_name.startswith("Hôpital")
    assert read_instance(nested(make_dicom(tmp_path / "IM2"), 3), PSEUDO, walk=False).study_date == record.study_date
    try:  # pydicom 3 recurses past Python's limit here; whatever a later one does, it never raises anything else
        assert read_instance(path, PSEUDO, walk=False).study_date == record.study_date
    except MalformedRecord as exc:
        assert str(exc).startswith("not a readable DICOM file")


def test_a_reader_failure_quarantines_the_file_and_the_batch_goes_on(tmp_path, monkeypatch):
    from analytics import dicom_reader

    good, bad = make_dicom(tmp_path / "IM1"), make_dicom(tmp_path / "IM2")
    read = dicom_reader.read_instance

    def failing_on_bad(path, pseudonymise):
        if path == str(bad):
            raise RecursionError("maximum recursion depth exceeded")
        return read(path, pseudonymise)

    monkeypatch.setattr(dicom_reader, "read_instance", failing_on_bad)
    (first, none), (nothing, reason) = dicom_reader.parse_dicom_files([(str(good),), (str(bad),)], PSEUDO)
    assert first is not None and none is None and nothing is None
    assert reason == "not read: sansfilm's reader failed (RecursionError); please report it"
