"""Small DICOM files made on the fly for tests (each quirk gets its own)."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

PATIENT_NAME = "Lefèvre^Hélène"
PATIENT_ID = "IPP-TEST-0042"


def make_dicom(
    path: Path,
    *,
    study_uid: str = "1.2.250.1.999.1",
    series_uid: str = "1.2.250.1.999.1.1",
    sop_uid: str | None = None,
    institution: str | None = "Hôpital Européen Georges-Pompidou",
    charset: str | None = "ISO_IR 100",
    ae_title: str | None = "HEGP_CT",
    transfer_syntax: str = ExplicitVRLittleEndian,
    modality: str = "CT",
    pixels: int = 64,
    sequence: bool = True,
    study_date: str = "20120305",
    station: str = "CT01",
) -> Path:
    meta = FileMetaDataset()
    sop_uid = sop_uid or generate_uid(prefix="1.2.250.1.999.2.")
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = transfer_syntax
    if ae_title is not None:
        meta.SourceApplicationEntityTitle = ae_title
    ds = Dataset()
    ds.file_meta = meta
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = study_date
    ds.StudyTime = "101112.5"
    ds.Modality = modality
    ds.Manufacturer = "GE MEDICAL SYSTEMS"
    if institution is not None:
        ds.InstitutionName = institution
    ds.StationName = station
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = "19470312"
    if sequence:  # a nested sequence of undefined length before the tags we want, as real files have
        item = Dataset()
        item.CodeValue = "123"
        item.CodeMeaning = "Scanner thorax"
        ds.ProcedureCodeSequence = [item]
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Rows = 8
    ds.Columns = pixels // 8
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(range(256))[:pixels] * (pixels // min(pixels, 256))
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True, implicit_vr=transfer_syntax == ImplicitVRLittleEndian)
    return path
