import os
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import ImplicitVRLittleEndian

import analytics.dicom_reader as dicom_reader
from analytics.dicom_reader import read_instance
from analytics.errors import MalformedRecord
from analytics.pseudonym import Pseudonymiser
from tests.dicom_factory import PATIENT_ID, PATIENT_NAME, make_dicom

PSEUDO = Pseudonymiser("unit-test-key-0123456789")
PYDICOM_TEST_FILES = sorted(p for p in (Path(pydicom.__file__).parent / "data" / "test_files").rglob("*") if p.is_file())


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
    assert "Européen".encode("latin-1") in raw and "Européen".encode("utf-8") not in raw


def test_utf8_and_implicit_vr(tmp_path):
    path = make_dicom(tmp_path / "a", charset="ISO_IR 192", institution="Clinique Müller", transfer_syntax=ImplicitVRLittleEndian)
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
    original = dicom_reader._walk

    def refuse(fp, size):
        raise dicom_reader._NotForWalker

    dicom_reader._walk = refuse
    try:
        return read_instance(path, PSEUDO)
    finally:
        dicom_reader._walk = original


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
