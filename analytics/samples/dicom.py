"""Write planned studies as DICOM Part-10 files, the way the regional archive stores what it receives.

Layout: `dicom/<FINESS>/<StudyDate>/ST<number>/<file>`, files named `IM000001` (most sites), `IM000001.dcm`
or `<SOPInstanceUID>.dcm` (sites whose own PACS exports them); objects from AE titles the archive has no route
for go under `dicom/unrouted/`. Each file's mtime is the instance's reception time, as an archive's would be.
Pixel data is a tiny random 8-bit MONOCHROME2 image (`image_side`²): the headers are what matters.

Vendor and site quirks written here (each is named again where it is made):
* InstitutionName variants that differ from the registry alias by case, accents or whitespace
  ("CHI  DE CRETEIL " for "CHI de Créteil"), and an ASCII-only site that sends no SpecificCharacterSet;
* character sets: ISO_IR 100 (Latin-1 bytes) for most sites, ISO_IR 192 (UTF-8) for two, none for one;
* Manufacturer with trailing spaces (Siemens) and StationName padded with NUL bytes (Canon);
* StudyTime with fractional seconds (Philips, Toshiba) or shortened to HHMM (Fujifilm);
* Implicit VR Little Endian for Agfa, Explicit VR Little Endian for everyone else;
* no SourceApplicationEntityTitle for institution-only sites and for a few files of the others;
* a station of an unregistered practice (unknown InstitutionName and AE title: UNATTRIBUTED downstream);
* patients with several studies at one site (see `plan.RETURNING_PATIENT`).
"""

from __future__ import annotations

import io
import os
import random
from dataclasses import dataclass
from pathlib import Path

from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from analytics.samples.clock import to_ns
from analytics.samples.plan import Study
from analytics.samples.vocabulary import VENDORS, fit_charset

IMPLEMENTATION_CLASS_UID = "1.2.250.1.999.0.1"
IMPLEMENTATION_VERSION_NAME = "RSF_ARCHIVE_2.1"


@dataclass(frozen=True, slots=True)
class WrittenFile:
    path: str  # relative to the corpus root, POSIX separators
    mtime_ns: int
    size: int


def write_study(root: Path, study: Study, rng: random.Random, image_side: int) -> list[WrittenFile]:
    """Write every instance of one study; returns the files with their reception times."""
    folder = root / study.folder
    folder.mkdir(parents=True, exist_ok=True)
    vendor = VENDORS[study.station.vendor]
    dataset = _study_dataset(study, image_side)
    transfer_syntax = ImplicitVRLittleEndian if vendor.implicit_vr else ExplicitVRLittleEndian  # quirk: Agfa
    written: list[WrittenFile] = []
    position = 0
    for series in study.series:
        dataset.SeriesInstanceUID = series.uid
        dataset.SeriesNumber = series.number
        for number in range(1, series.instances + 1):
            sop_instance_uid = f"{series.uid}.{number}"
            dataset.SOPInstanceUID = sop_instance_uid
            dataset.InstanceNumber = number
            dataset.PixelData = _pixels(rng, image_side)
            dataset.file_meta = _file_meta(study, sop_instance_uid, transfer_syntax)
            buffer = io.BytesIO()
            dcmwrite(buffer, dataset, enforce_file_format=True)
            data = buffer.getvalue()
            name = _file_name(study.site.file_naming, position + 1, sop_instance_uid)
            path = folder / name
            path.write_bytes(data)
            mtime_ns = to_ns(study.received[position])
            os.utime(path, ns=(mtime_ns, mtime_ns))
            written.append(WrittenFile(f"{study.folder}/{name}", mtime_ns, len(data)))
            position += 1
    return written


def _study_dataset(study: Study, image_side: int) -> Dataset:
    site, station = study.site, study.station
    vendor = VENDORS[station.vendor]
    ds = Dataset()
    if site.charset is not None:  # quirk: the ASCII-only site sends no SpecificCharacterSet at all
        ds.SpecificCharacterSet = site.charset
    ds.SOPClassUID = study.sop_class_uid
    ds.StudyDate = study.study_date
    ds.SeriesDate = study.study_date
    ds.StudyTime = study.study_time  # quirk: HHMMSS.FFFFFF or HHMM depending on the vendor
    ds.AccessionNumber = study.accession
    ds.Modality = study.modality
    ds.Manufacturer = vendor.manufacturer  # quirk: Siemens' value keeps trailing spaces
    # quirk: InstitutionName as the station sends it, possibly a case/accent/whitespace variant of the alias
    ds.InstitutionName = fit_charset(station.institution_name, site.charset)
    ds.StationName = _station_name(station.station_name, vendor.nul_padded_station)
    ds.StudyDescription = study.description
    ds.ManufacturerModelName = vendor.models.get(study.modality, "Reporting workstation")  # SR: a reading station
    ds.PatientName = study.patient.name
    ds.PatientID = study.patient.patient_id
    ds.PatientBirthDate = study.patient.birth_date
    ds.PatientSex = study.patient.sex
    ds.StudyInstanceUID = study.uid
    ds.StudyID = str(study.number)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = image_side
    ds.Columns = image_side
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    return ds


def _station_name(name: str, nul_padded: bool) -> str:
    """Quirk (Canon): pad with NUL bytes instead of the space DICOM prescribes, to an even length."""
    if not nul_padded:
        return name
    return name + ("\x00" if len(name) % 2 else "\x00\x00")


def _file_meta(study: Study, sop_instance_uid: str, transfer_syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = study.sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    # quirk: absent for institution-only sites and for the few files re-sent without it
    if study.meta_ae and study.station.ae_title:
        meta.SourceApplicationEntityTitle = study.station.ae_title
    return meta


def _file_name(naming: str, position: int, sop_instance_uid: str) -> str:
    if naming == "uid":
        return f"{sop_instance_uid}.dcm"
    if naming == "dcm":
        return f"IM{position:06d}.dcm"
    return f"IM{position:06d}"


def _pixels(rng: random.Random, side: int) -> bytes:
    data = rng.randbytes(side * side)
    return data + b"\x00" if len(data) % 2 else data
