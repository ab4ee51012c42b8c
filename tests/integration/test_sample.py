"""The committed sample corpus, harvested: every source, attribution, decoding, and no health data anywhere."""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from pathlib import Path

import dagster as dg
import pydicom
import pytest

from analytics import operations, warehouse
from analytics.samples import generate_corpus
from pipelines.definitions import ALL_ASSETS_JOB, build_definitions
from tests.conftest import REPO, SAMPLE
from tests.privacy import database_text, name_variants

ALL_EVENT_IDS = {f"1101{n:02d}" for n in range(15)}


def query(path: Path, sql: str):
    con = warehouse.connect(path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_committed_sample_is_what_the_generator_makes(tmp_path):
    fresh = tmp_path / "fresh"
    generate_corpus(fresh)
    committed = {p.relative_to(SAMPLE) for p in SAMPLE.rglob("*") if p.is_file() and "warehouse" not in p.parts}
    made = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
    assert committed == made
    for rel in sorted(made):
        assert (
            hashlib.sha256((SAMPLE / rel).read_bytes()).digest() == hashlib.sha256((fresh / rel).read_bytes()).digest()
        ), rel
    for name in ("establishments.csv", "framework.yaml", "price_index.csv", "commitments.csv", "opinion_pairs.csv"):
        assert (REPO / "contracts" / name).read_bytes() == (SAMPLE / "contracts" / name).read_bytes(), name


def test_each_source_is_harvested_completely(harvested):
    settings, reports = harvested
    dicom, audit = reports
    dicom_files = sum(1 for p in (SAMPLE / "dicom").rglob("*") if p.is_file())
    assert (dicom.files_seen, dicom.files_parsed, dicom.quarantined, dicom.records_added) == (dicom_files,) * 2 + (
        0,
        dicom_files,
    )
    audit_files = sum(1 for p in (SAMPLE / "audit").rglob("*") if p.is_file())
    assert (audit.files_seen, audit.files_parsed, audit.quarantined) == (audit_files, audit_files, 0)
    stored = query(settings.warehouse.path, "select count(*) from raw.audit_events")[0][0]
    assert audit.records_added == stored > 1000
    event_ids = {e for (e,) in query(settings.published_path, "select distinct event_id from staged.stg_audit_events")}
    assert event_ids == ALL_EVENT_IDS
    # every record names the log it came from by that log's key (each log of the sample holds records)
    keys = query(
        settings.warehouse.path,
        """select count(distinct e.file_key), count(*) filter (f.file_key is null) from raw.audit_events as e
           left join raw.harvest_files as f using (source, file_key)""",
    )[0]
    assert keys == (audit_files, 0)


def test_rerun_on_the_sample_is_a_no_op(sample_settings):
    operations.harvest(sample_settings)
    again = operations.harvest(sample_settings)
    assert all(r.files_unchanged == r.files_seen and r.records_added == 0 and r.files_parsed == 0 for r in again)


def test_attribution_paths_all_occur_and_nothing_is_dropped(harvested):
    settings, _ = harvested
    rows = dict(
        query(settings.published_path, "select attributed_by, count(*) from staged.stg_dicom_instances group by 1")
    )
    assert set(rows) == {"ae_title", "institution_name", "none"}
    assert (
        sum(rows.values())
        == query(settings.warehouse.path, "select count(distinct sop_instance_uid) from raw.dicom_instances")[0][0]
    )
    unknown = query(
        settings.published_path,
        "select distinct institution_name from staged.stg_dicom_instances where establishment_id = 'UNATTRIBUTED'",
    )
    assert unknown == [("CABINET RADIOLOGIE DES LILAS",)]


def test_latin1_and_utf8_names_decode(harvested):
    settings, _ = harvested
    names = {
        n for (n,) in query(settings.published_path, "select distinct institution_name from staged.stg_dicom_instances")
    }
    assert any("é" in n for n in names)
    assert not any("\ufffd" in n or "Ã" in n for n in names)  # no replacement characters, no mojibake
    charsets = {
        c
        for (c,) in query(
            settings.published_path, "select distinct specific_character_set from staged.stg_dicom_instances"
        )
    }
    assert {"ISO_IR 100", "ISO_IR 192", None} <= charsets


def patient_identity() -> tuple[set[str], set[str]]:
    """Names and IDs of the sample's patients, read from the sample itself (DICOM headers and audit messages), and
    the RPPS numbers of its community doctors (requesting users of the portal's audit messages) among the IDs.

    Family names that also occur in the public registry (a hospital named after someone) are left out.
    """
    names, ids = set(), set()
    for path in (SAMPLE / "dicom").rglob("*"):
        if path.is_file():
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            names |= name_variants(str(ds.PatientName))
            ids.add(str(ds.PatientID))
    for path in (SAMPLE / "audit").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            text = (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8")
            for name in re.findall(r"<ParticipantObjectName>([^<]*)<", text):
                names |= name_variants(name)
            ids.update(
                i.split("^")[0]
                for i in re.findall(r'ParticipantObjectID="([^"]*)" ParticipantObjectTypeCode="1"', text)
            )
            ids.update(re.findall(r'UserID="(?:RPPS:|8)?(\d{11})"', text))  # any form contains the 11 digits
    public = (SAMPLE / "contracts" / "establishments.csv").read_text(encoding="utf-8")
    return {n for n in names if n not in public}, ids


def test_no_patient_name_or_id_in_anything_sansfilm_wrote(harvested, caplog):
    settings, _ = harvested
    names, ids = patient_identity()
    assert len(names) > 50 and len(ids) > 100 and len({i for i in ids if re.fullmatch(r"10\d{9}", i)}) > 50
    with caplog.at_level(logging.DEBUG):
        operations.harvest(settings)  # logs of a (no-op) harvest
    for db in (settings.warehouse.path, settings.published_path):
        text = database_text(db)
        assert "1.2.250.1.999" in text  # the scan does see the stored values
        leaked = sorted(s for s in names | ids if s in text)
        assert leaked == [], f"{db.name}: {leaked[:5]}"
    assert not [s for s in names | ids if s in caplog.text]


def test_sample_materialises_with_dagster_and_its_event_log_is_clean(sample_settings):
    defs = build_definitions(sample_settings)
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(ALL_ASSETS_JOB).execute_in_process(instance=instance)
    assert result.success
    failed_errors = [
        e.check_name
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failed_errors == []
    events = "\n".join(r.event_log_entry.to_json() for r in instance.get_records_for_run(result.run_id).records)
    names, ids = patient_identity()
    assert not [s for s in names | ids if s in events]
    assert query(sample_settings.published_path, "select count(*) from staged.int_studies")[0][0] > 400


@pytest.mark.parametrize("table", ["marts.mart_archive_daily", "marts.dim_establishments", "staged.int_studies"])
def test_marts_are_published_for_readers(harvested, table):
    settings, _ = harvested
    assert query(settings.published_path, f"select count(*) from {table}")[0][0] > 0


def test_a_tele_opinion_report_leaves_its_study_under_the_study_modality(harvested):
    """The pilot's 14 SR reports count as instances received, under SR; their 12 studies keep the modality they had:
    the October 2012 ultrasound of 750238172 (modalities 'SR/US') is a US study, not an SR one."""
    settings, _ = harvested
    path = settings.published_path
    modalities = "select modalities from staged.int_studies where study_instance_uid = '1.2.250.1.999.2010.1.1.89'"
    assert query(path, modalities) == [("SR/US",)]
    sql = """select sum(studies_received), sum(instances_received) from marts.mart_archive_daily
             where modality = 'SR' or (establishment_id = '750238172' and received_date = date '2012-10-12')
             group by modality = 'SR' order by modality = 'SR'"""
    assert [tuple(int(v) for v in row) for row in query(path, sql)] == [(1, 8), (0, 14)]
