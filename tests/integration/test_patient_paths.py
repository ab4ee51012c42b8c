"""Paths are patient data too: archives are often laid out by patient (`.../DUPONT^JEAN_IPP123/...`).

A corpus nobody tuned to (another seed, size and start than the sample) is moved into folders and files named after a
patient, with broken files among them; the user's commands run on it (samples, harvest, run), every month is metered
and published, the dashboards' queries are read. Then everything written is scanned for the patient's name and ID:
every text value of the working warehouse (but raw.harvest_files.path, the one place a path is kept) and of the
published copy, every Parquet file of the lake, every other file written beside the corpus (the Dagster instance's
event log and run storage, the ledger), the Python logs and the CLI's output.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

from typer.testing import CliRunner

from analytics import metering, warehouse
from analytics.config import load_settings
from analytics.reporting import programme
from analytics.reporting.scope import Filters, Viewer
from pipelines.cli import app
from tests.privacy import database_text, leaked, parquet_text

FAMILY, GIVEN, PATIENT_ID = "DUPONTIER", "JEANNINE", "IPP7316289"
FOLDER = f"{FAMILY}^{GIVEN}_{PATIENT_ID}"
SECRETS = {FAMILY, GIVEN, PATIENT_ID, PATIENT_ID.removeprefix("IPP")}
INPUTS = ("dicom", "audit", "contracts")


def sansfilm(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def lay_out_by_patient(root: Path) -> None:
    """Every file moved into a folder named after the patient, every DICOM file renamed after the patient's ID, and
    broken files (quarantined with their reasons) among them."""
    for source in ("dicom", "audit"):
        files = sorted(p for p in (root / source).rglob("*") if p.is_file())
        for path in files:
            relative = path.relative_to(root / source)
            name = f"{PATIENT_ID}_{path.name}" if source == "dicom" else path.name
            target = root / source / relative.parts[0] / FOLDER / Path(*relative.parts[1:-1]) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)
    patient_dicom = next((root / "dicom").rglob(f"{PATIENT_ID}_*"))
    (patient_dicom.parent / f"{PATIENT_ID}_truncated.dcm").write_bytes(patient_dicom.read_bytes()[:-40])
    (patient_dicom.parent / f"{PATIENT_ID}_odd.dcm").write_bytes(
        b"\0" * 128 + b"DICM" + b"\xff" * 40
    )  # pydicom complains
    patient_log = next((root / "audit").rglob("*.log*"))
    logs = patient_log.parent
    (logs / f"{FAMILY}_{PATIENT_ID}.log.gz").write_bytes(gzip.compress(patient_log.read_bytes())[:-9])  # truncated
    (logs / f"{FAMILY}_{PATIENT_ID}.log").write_bytes(b"<85>1 - h a - - - <AuditMessage/>\n" + b"x" * 2_000_000 + b"\n")


def test_no_patient_name_or_id_from_a_path_in_anything_sansfilm_wrote(tmp_path, monkeypatch, caplog):
    root = tmp_path / "corpus"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "corpus" / ".dagster"))
    output = sansfilm(
        "samples", "--out", str(root), "--seed", "7", "--establishments", "3", "--months", "2", "--start", "2014-10"
    )
    lay_out_by_patient(root)
    monkeypatch.setenv("SANSFILM_CONFIG", str(root / "sansfilm.toml"))
    settings = load_settings(root / "sansfilm.toml")
    with caplog.at_level(logging.DEBUG):
        output += sansfilm("harvest", "--format", "json")
        output += sansfilm("harvest")
        output += sansfilm("run")
        with warehouse.open_warehouse(settings.warehouse.path) as con:
            for month in metering.months_with_data(con):
                metering.meter_month(con, month)
            warehouse.publish(con, settings.published_path)
        pages = _dashboard_queries(settings)

    with warehouse.connect(settings.warehouse.path, read_only=True) as con:
        paths = [p for (p,) in con.execute("select path from raw.harvest_files").fetchall()]
        reasons = dict(
            con.execute("""select regexp_replace(f.path, '.*/', ''), q.reason from raw.quarantine q
                                      join raw.harvest_files f using (source, file_key)""").fetchall()
        )
        stored = con.execute("select count(*) from raw.dicom_instances").fetchone()[0]
    assert paths and all(FOLDER in p for p in paths)  # the file-state table does know every path
    assert set(reasons) >= {
        f"{PATIENT_ID}_truncated.dcm",
        f"{PATIENT_ID}_odd.dcm",
        f"{FAMILY}_{PATIENT_ID}.log.gz",
        f"{FAMILY}_{PATIENT_ID}.log",
    }
    assert stored > 100 and pages > 5

    working = database_text(settings.warehouse.path)
    assert "1.2.250.1.999" in working and "truncated" in working  # the scan does see stored values and reasons
    assert leaked(working, SECRETS) == []
    assert leaked(database_text(settings.warehouse.path, allowed=()), {FAMILY}) == [FAMILY]  # ...in harvest_files only
    assert leaked(database_text(settings.published_path), SECRETS) == []
    lake = parquet_text(settings.lake.root)
    assert "1.2.250.1.999" in lake and leaked(lake, SECRETS) == []
    written = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.relative_to(root).parts[0] not in INPUTS
        and p.suffix not in (".duckdb", ".parquet", ".wal")
    ]
    texts = {path: path.read_bytes().decode("utf-8", "replace") for path in written}
    dagster = [text for path, text in texts.items() if ".dagster" in path.parts]
    assert any("harvest_archive_files" in text for text in dagster)  # the scan does read Dagster's event log
    for path, text in texts.items():
        assert leaked(text, SECRETS) == [], path.relative_to(root)
    assert "files_quarantined" in output and leaked(output, SECRETS) == []
    assert "harvested archive-files" in caplog.text  # the scan does see the harvest's log
    assert leaked(caplog.text, SECRETS) == []


def _dashboard_queries(settings) -> int:
    """Every query the dashboards' pages read, for the operator (who sees everything), on the published copy."""
    operator, everything = Viewer("ops", "operator"), Filters()
    con = warehouse.connect(settings.published_path, read_only=True)
    frames = []
    try:
        for name in (
            "rollout_sites",
            "adoption",
            "silent_sites",
            "sharing",
            "sharing_departements",
            "storage",
            "ingestion_delay",
            "failure_rates",
            "busiest_hours",
            "source_freshness",
            "quarantine",
            "usage_monthly",
            "unbilled",
            "service_levels",
        ):
            frames.append(getattr(programme, name)(con, operator, everything))
        frames.append(programme.volumes(con, operator, everything, "modality"))
    finally:
        con.close()
    for frame in frames:
        text = frame.write_csv()
        assert leaked(text, SECRETS) == []
    return sum(1 for f in frames if f.height)
