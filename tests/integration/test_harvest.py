"""Harvest end to end on a tiny hand-built corpus: attribution, incremental runs, copies, rotation, bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analytics import operations, warehouse
from analytics.config import load_settings
from analytics.pseudonym import DEVELOPMENT_KEY
from tests import audit_factory as af
from tests.dicom_factory import PATIENT_ID, make_dicom
from tests.tiny_corpus import CONFIG, event_line, query


def harvest(settings) -> dict:
    """The harvest's reports by source: raw tables only, for tests that read nothing built from them."""
    return {r.name: r.to_dict() for r in operations.harvest(settings)}


def harvest_and_build(settings) -> dict:
    reports = harvest(settings)
    operations.build_warehouse(settings)
    return reports


def test_attribution_by_ae_title_alias_and_unattributed(tiny):
    harvest_and_build(tiny)
    rows = dict(
        (sop, (est, how))
        for sop, est, how in query(
            tiny, "select sop_instance_uid, establishment_id, attributed_by from staged.stg_dicom_instances"
        )
    )
    assert rows == {
        "1.2.250.1.999.2.1": ("750000015", "ae_title"),
        "1.2.250.1.999.2.2": ("940000027", "institution_name"),  # case, accents and spaces ignored
        "1.2.250.1.999.2.3": ("UNATTRIBUTED", "none"),
        "1.2.250.1.999.2.4": ("750000015", "ae_title"),  # the AE title wins over the institution name
    }
    assert query(tiny, "select institution_name from staged.stg_dicom_instances where sop_instance_uid like '%.1'") == [
        ("Hôpital Européen Georges-Pompidou",)
    ]


def test_first_harvest_then_rerun_is_a_no_op(tiny):
    first = harvest(tiny)
    assert first["archive-files"] == {
        "name": "archive-files",
        "kind": "dicom_files",
        "files_seen": 4,
        "files_parsed": 4,
        "files_unchanged": 0,
        "quarantined": 0,
        "records_added": 4,
        "files_quarantined": 0,
        "records_flagged": 0,
    }
    assert first["audit"]["records_added"] == 5 and first["audit"]["files_parsed"] == 1
    second = harvest(tiny)
    for report in second.values():
        assert (report["files_parsed"], report["records_added"], report["files_unchanged"]) == (
            0,
            0,
            report["files_seen"],
        )
    assert query(tiny, "select count(*) from raw.dicom_instances") == [(4,)]
    assert query(tiny, "select count(*) from raw.audit_events") == [(5,)]


def test_names_that_are_not_utf8_are_harvested_once_like_any_other(tiny):
    """An archive written under Latin-1 (a folder `BÉNARD` as its bytes): its files are read, and found unchanged by
    the next harvest under the same stored text."""
    latin1 = os.fsdecode(b"B\xc9NARD")
    for source, name in ((tiny.sources[0].path, "a"), (tiny.sources[1].path, "archive.log")):
        (source / latin1).mkdir()
        (source / name).rename(source / latin1 / os.fsdecode(b"\xe9t\xe9-" + name.encode()))
    first = harvest(tiny)
    assert (first["archive-files"]["files_parsed"], first["audit"]["files_parsed"]) == (4, 1)
    assert (first["archive-files"]["records_added"], first["audit"]["records_added"]) == (4, 5)
    second = harvest(tiny)
    assert [(r["files_parsed"], r["files_unchanged"]) for r in second.values()] == [(0, 4), (0, 1)]
    stored = query(tiny, "select path from raw.harvest_files where path like '%NARD%' order by path")
    assert stored and all(p.startswith("not-utf8:/") and "B\\xc9NARD/\\xe9t\\xe9-" in p for (p,) in stored), stored


def walk_where_stat_fails(monkeypatch, root: Path, name: str, error: OSError) -> list[str]:
    """walk_files(root) with the file `name`'s stat raising `error` (listed, then gone or refused): the names walked."""
    from types import SimpleNamespace

    from analytics import harvest as harvest_module

    class Unstatable:
        def __init__(self, entry):
            self.name, self.path, self.is_dir, self.is_file = entry.name, entry.path, entry.is_dir, entry.is_file

        def stat(self, **_):
            raise error

    def scandir(folder):
        return [Unstatable(e) if e.name == name else e for e in os.scandir(folder)]

    monkeypatch.setattr(harvest_module, "os", SimpleNamespace(scandir=scandir, fspath=os.fspath))
    return [Path(path).name for path, _ in harvest_module.walk_files(root)]


def test_a_file_gone_between_the_listing_and_its_stat_is_passed_over(tmp_path, monkeypatch, caplog):
    """An archive purging files while the harvest walks it: a file listed, then gone before its size is read, is
    not an error (its path, maybe a patient's name, is printed nowhere); the next harvest finds it gone."""
    for name in ("IM1", "IM2", "IM3"):
        (tmp_path / name).write_bytes(b"x")
    gone = FileNotFoundError(2, "No such file or directory", str(tmp_path / "IM2"))
    assert walk_where_stat_fails(monkeypatch, tmp_path, "IM2", gone) == ["IM1", "IM3"]
    assert caplog.text == ""


def test_a_file_that_cannot_be_examined_is_logged_without_its_name(tmp_path, monkeypatch, caplog):
    patient = tmp_path / "DUPONT^JEAN"
    patient.mkdir()
    (patient / "IM1").write_bytes(b"x")
    refused = PermissionError(13, "Permission denied", str(patient / "IM1"))
    assert walk_where_stat_fails(monkeypatch, tmp_path, "IM1", refused) == []
    assert "a file below" in caplog.text and "Permission denied" in caplog.text and "DUPONT" not in caplog.text


def test_a_file_the_reader_failed_on_is_read_again_by_the_next_harvest(tiny, monkeypatch):
    """A reader's bug quarantines the file (the harvest goes on); the next harvest, by a mended sansfilm, reads it
    although it has not changed: a file found malformed is read again only once it changes."""
    from analytics import dicom_reader

    read = dicom_reader.read_instance

    def failing_on_im1(path, pseudonymise):
        if path.endswith("IM1"):
            raise RecursionError("maximum recursion depth exceeded")
        return read(path, pseudonymise)

    monkeypatch.setattr(dicom_reader, "read_instance", failing_on_im1)
    first = harvest(tiny)["archive-files"]
    assert (first["files_quarantined"], first["records_added"]) == (1, 3)
    monkeypatch.undo()
    second = harvest(tiny)["archive-files"]
    assert (second["files_parsed"], second["records_added"], second["files_unchanged"]) == (1, 1, 3)
    assert harvest(tiny)["archive-files"]["files_unchanged"] == 4


def test_the_harvest_stores_the_uids_as_the_numbers_the_models_find_them_by(tiny):
    harvest(tiny)
    numbered = query(
        tiny,
        """select sop_hash = md5_number(sop_instance_uid) and study_hash = md5_number(study_instance_uid)
                  and file_key_hint = md5_number(file_key) >> 96 and sop_hint = sop_hash >> 96, count(*)
           from raw.dicom_instances group by all""",
    )
    assert numbered == [(True, 4)]


def test_copied_files_add_nothing(tiny):
    harvest_and_build(tiny)
    root = tiny.sources[0].path
    shutil.copy2(root / "a" / "IM1", root / "c" / "IM1-copy")
    shutil.copy2(tiny.sources[1].path / "archive.log", tiny.sources[1].path / "archive-copy.log")
    reports = harvest_and_build(tiny)
    assert reports["archive-files"]["files_parsed"] == 1 and reports["archive-files"]["records_added"] == 0
    assert reports["audit"]["files_parsed"] == 1 and reports["audit"]["records_added"] == 0
    assert query(tiny, "select count(*), count(distinct sop_instance_uid) from staged.stg_dicom_instances") == [(4, 4)]
    assert query(tiny, "select max(copies_harvested) from staged.stg_dicom_instances") == [(1,)]
    assert query(tiny, "select count(*) from staged.stg_audit_events") == [(5,)]


def test_an_instance_sharing_a_stored_instances_hint_is_stored_and_a_copy_is_not(tiny):
    """The harvest compares a batch with the stored records of its SOP Instance UIDs' hints (raw's sop_hint: 32 bits,
    not unique), then by their keys: a new instance whose hint every stored one shares (made so here) is stored; a
    copy of a stored file, whose hint and key are stored, is not."""
    harvest(tiny)
    root = tiny.sources[0].path
    new_uid = "1.2.250.1.999.2.424242"
    make_dicom(root / "c" / "IM-new", sop_uid=new_uid)
    shutil.copy2(root / "a" / "IM1", root / "c" / "IM1-copy")
    con = warehouse.connect(tiny.warehouse.path)
    try:
        con.execute("update raw.dicom_instances set sop_hint = (md5_number(?) >> 96)::uinteger", [new_uid])
    finally:
        con.close()
    report = harvest(tiny)["archive-files"]
    assert (report["files_parsed"], report["records_added"]) == (2, 1)
    stored = "select count(*), count(distinct record_key), count(*) filter (where sop_instance_uid = ?)"
    assert query(tiny, f"{stored} from raw.dicom_instances", [new_uid]) == [(5, 5, 1)]


def _spoil_line_in_place(path: Path, line_index: int) -> None:
    """Overwrite one already-read line with garbage of the same length: only a re-read would notice it."""
    data = bytearray(path.read_bytes())
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    begin, end = starts[line_index], starts[line_index + 1] - 1
    assert begin > 1024  # beyond the head that identifies the file
    data[begin:end] = b"x" * (end - begin)
    stat = path.stat()
    path.write_bytes(bytes(data))
    return stat


def test_appended_log_is_read_from_where_the_last_harvest_stopped(tiny):
    harvest(tiny)
    log = tiny.sources[1].path / "archive.log"
    _spoil_line_in_place(log, 2)
    with log.open("ab") as fh:
        fh.write(event_line("1.2.250.1.999.9", "2012-03-09T10:00:00Z"))
        fh.write(b"<85>1 2012-03-09T10:00:01Z host app - - - <AuditMessage>")  # still being written: no newline
    report = harvest(tiny)["audit"]
    assert (report["files_parsed"], report["records_added"], report["quarantined"]) == (1, 1, 0)
    with log.open("ab") as fh:
        fh.write(b"</AuditMessage>\n")  # the line is now complete, and malformed (no EventIdentification)
    report = harvest(tiny)["audit"]
    assert (report["records_added"], report["quarantined"]) == (0, 1)
    reasons = query(tiny, "select line, reason from raw.quarantine")
    assert len(reasons) == 1 and reasons[0][0] == 7


def test_rotated_log_is_continued_not_reread(tiny):
    harvest(tiny)
    audit = tiny.sources[1].path
    _spoil_line_in_place(audit / "archive.log", 2)
    (audit / "archive.log").rename(audit / "archive.log.1")
    (audit / "archive.log").write_bytes(event_line("1.2.250.1.999.9", "2012-03-09T10:00:00Z"))
    report = harvest(tiny)["audit"]
    assert report == {**report, "files_seen": 2, "files_parsed": 2, "records_added": 1, "quarantined": 0}
    assert query(tiny, "select count(*) from raw.audit_events") == [(6,)]


def test_bad_input_is_quarantined_with_reasons_and_the_rest_harvested(tiny):
    dicom, audit = tiny.sources[0].path, tiny.sources[1].path
    good = make_dicom(dicom / "d" / "IM5", sop_uid="1.2.250.1.999.2.5")
    (dicom / "d" / "IM6").write_bytes(good.read_bytes()[:-30])  # truncated in the pixel data
    (dicom / "d" / "empty").write_bytes(b"")
    (dicom / "d" / "notes.txt").write_text("Compte rendu non structuré\n", encoding="utf-8")
    with (audit / "archive.log").open("ab") as fh:
        fh.write(af.syslog(af.audit_xml()[:-40]))  # malformed XML record
        fh.write(event_line("1.2.250.1.999.6", "2012-03-06T10:00:00Z"))
    reports = harvest(tiny)
    assert reports["archive-files"] == {
        **reports["archive-files"],
        "files_seen": 8,
        "files_parsed": 5,
        "quarantined": 3,
        "files_quarantined": 3,
        "records_added": 5,
    }
    assert reports["audit"] == {**reports["audit"], "records_added": 6, "quarantined": 1, "files_quarantined": 0}
    rows = query(
        tiny,
        """select q.source, regexp_replace(f.path, '.*/', ''), q.line, q.reason from raw.quarantine q
                          join raw.harvest_files f using (source, file_key) order by 2""",
    )  # the path: file state only
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("archive-files", "IM6", None),
        ("audit", "archive.log", 6),
        ("archive-files", "empty", None),
        ("archive-files", "notes.txt", None),
    ]
    reasons = {r[1]: r[3] for r in rows}
    assert reasons["IM6"].startswith("truncated file")
    assert reasons["empty"] == "empty file"
    assert reasons["notes.txt"].startswith("not a DICOM file")
    assert "XML" in reasons["archive.log"]
    again = harvest(tiny)  # nothing changed: the bad files are accounted as unchanged, not quarantined twice
    assert again["archive-files"]["files_unchanged"] == 8
    assert query(tiny, "select count(*) from raw.quarantine") == [(4,)]


def test_failed_harvest_leaves_nothing_half_written(tiny, monkeypatch):
    from analytics.raw_batches import BatchWriter

    calls = {"n": 0}
    original = BatchWriter.write

    def failing_write(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BatchWriter, "write", failing_write)
    with pytest.raises(RuntimeError):
        operations.harvest(tiny)
    monkeypatch.setattr(BatchWriter, "write", original)
    reports = harvest(tiny)
    assert reports["archive-files"]["files_unchanged"] == 4  # the first batch was committed with its file states
    assert reports["audit"]["records_added"] == 5  # the failed batch left no trace and is read again
    assert query(tiny, "select count(*) from raw.audit_events") == [(5,)]


def test_pseudonymisation_key_is_required_outside_the_sample(tiny, tmp_path):
    config = tmp_path / "sansfilm.toml"
    config.write_text(CONFIG.replace("allow_development_key = true", "allow_development_key = false"))
    from analytics.errors import PrivacyError

    with pytest.raises(PrivacyError, match="SANSFILM_PSEUDO_KEY"):
        operations.harvest(load_settings(config))
    assert not (tmp_path / "warehouse").exists() or query(tiny, "select count(*) from raw.dicom_instances") == [(0,)]


def test_the_development_key_is_refused_for_an_archive_read_over_the_network(tiny, tmp_path):
    """A sample configuration edited to read a PACS keeps `allow_development_key = true`: its patients are real, and
    the development key is published, so the harvest refuses to start (one line, before reading anything) until
    the programme's key is set."""
    network = '[[sources]]\nname = "pacs"\nkind = "orthanc"\nurl = "http://127.0.0.1:9"\nusername_env = "U"\n'
    config = tmp_path / "sansfilm.toml"
    config.write_text(CONFIG + network + 'password_env = "P"\nretries = 0\n', encoding="utf-8")
    command = [str(Path(sys.executable).with_name("sansfilm")), "--config", str(config), "harvest"]
    env = {k: v for k, v in os.environ.items() if k != "SANSFILM_PSEUDO_KEY"} | {"U": "user", "P": "password"}
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode == 2, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert "SANSFILM_PSEUDO_KEY is not set" in line and "source 'pacs'" in line and "development key" in line, line
    assert not (tmp_path / "warehouse").exists()  # nothing read, nothing written: not even the file sources
    published = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env | {"SANSFILM_PSEUDO_KEY": DEVELOPMENT_KEY}
    )
    assert published.returncode == 2 and "is the published development key" in published.stderr, published.stderr
    assert not (tmp_path / "warehouse").exists()
    keyed = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env | {"SANSFILM_PSEUDO_KEY": "k" * 16}
    )
    # with the programme's key, past it: the file sources are harvested, then the PACS (down here) fails in its line
    assert keyed.returncode == 2 and "source 'pacs': Orthanc at http://127.0.0.1:9 is unavailable" in keyed.stderr
    assert query(load_settings(config), "select count(*) > 0 from raw.dicom_instances") == [(True,)]


def test_patient_key_follows_the_configured_secret(tiny, monkeypatch):
    monkeypatch.setenv("SANSFILM_PSEUDO_KEY", "a-real-secret-from-the-vault")
    harvest(tiny)
    keys = {k for (k,) in query(tiny, "select distinct patient_key from raw.dicom_instances")}
    from analytics.pseudonym import Pseudonymiser

    assert keys == {Pseudonymiser("a-real-secret-from-the-vault")(PATIENT_ID)}


@pytest.mark.filterwarnings("ignore")
def test_pydicom_bundled_test_files_harvest_without_a_crash(tmp_path):
    import pydicom

    from analytics.config import HarvestConfig, SourceConfig
    from analytics.harvest import harvest_source
    from analytics.pseudonym import Pseudonymiser

    folder = tmp_path / "test_files"
    shutil.copytree(Path(pydicom.__file__).parent / "data" / "test_files", folder)
    source = SourceConfig(name="pydicom", kind="dicom_files", path=folder)
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        report = harvest_source(con, source, Pseudonymiser("x" * 16), HarvestConfig(workers=2, batch_files=50))
        reasons = con.execute("select reason, count(*) from raw.quarantine group by 1").fetchall()
        stored = con.execute("select count(*) from raw.harvest_files where source = 'pydicom'").fetchone()[0]
    assert report.files_seen == report.files_parsed + report.quarantined == stored
    assert report.files_parsed > 100 and report.quarantined > 10
    assert sum(n for _, n in reasons) == report.quarantined
    assert all(reason for reason, _ in reasons)


def test_readers_are_not_blocked_by_a_running_pipeline(tiny):
    """A dashboard in another process reads the published copy while the pipeline holds the working file."""
    import subprocess
    import sys

    harvest_and_build(tiny)
    writer = warehouse.connect(tiny.warehouse.path)  # holds DuckDB's write lock, as a running pipeline does
    try:
        code = (
            "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print(con.execute('select count(*) from staged.stg_dicom_instances').fetchone()[0])"
        )
        done = subprocess.run([sys.executable, "-c", code, str(tiny.published_path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "4"
        blocked = subprocess.run([sys.executable, "-c", code, str(tiny.warehouse.path)], capture_output=True, text=True)
        assert blocked.returncode != 0 and "lock" in blocked.stderr.lower()  # why readers use the published copy
        warehouse.publish(writer, tiny.published_path)
    finally:
        writer.close()
