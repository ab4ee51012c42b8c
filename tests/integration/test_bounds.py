"""Bounded input: a gzip bomb, an over-long log line, header values beyond their VR, impossible study dates, and
quarantined files touched again. Each is quarantined or flagged with its reason; nothing else is lost or counted twice.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from analytics import metering, operations, warehouse
from analytics.config import load_settings
from analytics.errors import ConfigError
from analytics.periods import Month
from tests import audit_factory as af
from tests.audit_factory import write_gzip_bomb
from tests.dicom_factory import make_dicom
from tests.tiny_corpus import event_line, make_tiny_corpus, query

SANSFILM = Path(sys.executable).with_name("sansfilm")
MEASURED = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the harvest's peak resident memory (Linux: KiB)
print(json.dumps({"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr, "peak_mib": peak_kib / 1024}))
"""


def test_a_gzip_bomb_is_quarantined_while_the_harvest_stays_under_500_mb(tmp_path):
    settings = make_tiny_corpus(tmp_path)
    bomb = settings.source("audit").path / "archive.log.1.gz"
    write_gzip_bomb(bomb, 1200)
    assert 1_000_000 < bomb.stat().st_size < 1_500_000  # ~1.2 MB expanding to ~1.2 GB
    command = [str(SANSFILM), "--config", str(settings.config_path), "harvest", "--format", "json"]
    done = subprocess.run([sys.executable, "-c", MEASURED, *command], capture_output=True, text=True, check=True)
    measured = json.loads(done.stdout)
    assert measured["code"] == 0, measured["stderr"]
    assert measured["peak_mib"] < 500, measured  # v0.1.0 read the line whole: several GB
    audit = next(s for s in json.loads(measured["stdout"])["sources"] if s["name"] == "audit")
    assert (audit["files_seen"], audit["files_parsed"], audit["files_quarantined"], audit["records_added"]) == (
        2,
        1,
        1,
        5,
    )
    rows = query(
        settings,
        """select f.path, q.line, q.reason from raw.quarantine q
                              join raw.harvest_files f using (source, file_key)""",
    )
    reason = "gzip file decompresses to more than 1073741824 bytes (max_log_decompressed_bytes): not read"
    assert rows == [(str(bomb), None, reason)]


def test_an_over_long_line_is_quarantined_as_a_record_and_the_rest_of_its_log_kept(tmp_path):
    settings = make_tiny_corpus(tmp_path)
    with settings.config_path.open("a", encoding="utf-8") as fp:  # a bound of this source's own
        fp.write("max_log_line_bytes = 65536\n")  # the last [[sources]] block is the audit source
    settings = load_settings(settings.config_path)
    assert settings.source("audit").max_log_line_bytes == 65536 and settings.harvest.max_log_line_bytes == 1 << 20
    log = settings.source("audit").path / "archive.log"
    with log.open("ab") as fp:
        fp.write(
            af.syslog(
                af.audit_xml(objects=af.study("1.2.250.1.999.31", [(af.CT_IMAGE, "1")])).replace(
                    "<AuditMessage", "<!--" + "x" * 100_000 + "--><AuditMessage"
                )
            )
        )  # valid, but longer than the bound
        fp.write(event_line("1.2.250.1.999.32", "2012-03-07T10:00:00+01:00"))
    (audit,) = operations.harvest(settings, ["audit"])
    assert (audit.files_parsed, audit.records_added, audit.quarantined, audit.files_quarantined) == (1, 6, 1, 0)
    assert query(settings, "select line, reason from raw.quarantine") == [
        (6, "line longer than 65536 bytes (max_log_line_bytes): not read")
    ]
    studies = {u for (u,) in query(settings, "select study_instance_uid from raw.audit_events")}
    assert "1.2.250.1.999.32" in studies and "1.2.250.1.999.31" not in studies
    (again,) = operations.harvest(settings, ["audit"])
    assert (again.files_unchanged, again.quarantined) == (1, 0)
    assert query(settings, "select count(*) from raw.quarantine") == [(1,)]


def test_quarantined_files_touched_again_keep_one_quarantine_row(tmp_path):
    settings = make_tiny_corpus(tmp_path)
    dicom, audit = settings.source("archive-files").path, settings.source("audit").path
    broken = dicom / "d" / "IM9"
    broken.parent.mkdir()
    broken.write_bytes(make_dicom(tmp_path / "spare" / "IM9").read_bytes()[:-30])
    corrupt = audit / "archive.log.2.gz"
    corrupt.write_bytes(
        gzip.compress(b"".join(event_line(f"1.2.250.1.999.4{i}", "2012-03-08T10:00:00Z") for i in range(3)))[:-9]
    )
    reports = {r.name: r for r in operations.harvest(settings)}
    assert (reports["archive-files"].files_quarantined, reports["audit"].files_quarantined) == (1, 1)
    first = query(settings, "select quarantine_key, reason, quarantined_at from raw.quarantine order by 1")
    assert len(first) == 2
    for round_ in range(2):
        stamp = datetime(2012, 4, 1 + round_).timestamp()
        for path in (broken, corrupt):
            os.utime(path, (stamp, stamp))  # same content, new mtime
        if round_:
            broken.write_bytes(b"still not DICOM")  # still broken, differently
        reports = {r.name: r for r in operations.harvest(settings)}
        assert (reports["archive-files"].files_quarantined, reports["audit"].files_quarantined) == (1, 1)
        assert query(settings, "select quarantine_key, reason, quarantined_at from raw.quarantine order by 1") == first
    unbalanced = query(settings, (Path(warehouse.SQL_DIR) / "quality" / "harvest_runs_unbalanced.sql").read_text())
    assert unbalanced == []  # every run's files add up, though later runs found their quarantine rows already there
    operations.build_warehouse(settings)
    assert query(settings, "select sum(files) from marts.mart_quarantine") == [(2,)]


def test_header_values_beyond_their_vr_are_not_stored_and_a_study_dated_9999_is_not_billed_then(tmp_path):
    settings = make_tiny_corpus(tmp_path)
    dicom = settings.source("archive-files").path
    huge = make_dicom(
        dicom / "e" / "IM7",
        sop_uid="1.2.250.1.999.2.7",
        study_uid="1.2.250.1.999.77",
        institution="CHI de Créteil " + "Z" * 5_000_000,
        ae_title=None,
        study_date="99991231",
    )
    long_uid = make_dicom(dicom / "e" / "IM8", sop_uid="1.2.250.1.999.2." + "8" * 60)
    stamp = datetime.fromisoformat("2012-03-05T10:00:00+01:00").timestamp()
    for path in dicom.rglob("*"):
        if path.is_file():
            os.utime(path, (stamp, stamp))
    (report,) = operations.harvest(settings, ["archive-files"])
    assert (report.files_parsed, report.files_quarantined, report.records_flagged) == (5, 1, 1)
    operations.build_warehouse(settings)
    assert query(settings, "select reason from raw.quarantine") == [
        ("SOPInstanceUID longer than 64 characters (VR UI)",)
    ]
    assert query(settings, "select records_flagged from raw.harvest_runs") == [(1,)]
    con = warehouse.connect(settings.published_path, read_only=True)
    try:
        row = con.execute(
            """select institution_name, establishment_id, study_date, value_flags from staged.stg_dicom_instances
               where sop_instance_uid = '1.2.250.1.999.2.7'"""
        ).fetchone()
        longest = con.execute("select max(length(institution_name)) from staged.stg_dicom_instances").fetchone()[0]
        study = con.execute(
            "select study_date from staged.int_studies where study_instance_uid = '1.2.250.1.999.77'"
        ).fetchone()
    finally:
        con.close()
    assert row == (
        "CHI de Créteil " + "Z" * 49,
        "UNATTRIBUTED",
        None,
        "study_date:out_of_range,institution_name:truncated",
    )
    assert longest == 64 and study == (None,)
    with warehouse.open_warehouse(settings.warehouse.path) as con:
        months = [str(m) for m in metering.months_with_data(con)]
        for month in months:
            metering.meter_month(con, Month.parse(month))
        billed = con.execute("select distinct month from marts.fct_usage_daily where studies_archived > 0").fetchall()
    assert months == ["2012-03"] and billed == [("2012-03",)]  # billed when received, never in 9999
    assert huge.exists() and long_uid.exists()


@pytest.mark.parametrize("key", ["max_log_line_bytes", "max_log_decompressed_bytes"])
def test_bounds_below_a_kibibyte_are_refused_at_load(tmp_path, key):
    settings = make_tiny_corpus(tmp_path)
    text = settings.config_path.read_text(encoding="utf-8").replace("[harvest]\n", f"[harvest]\n{key} = 10\n")
    settings.config_path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"'harvest.{key}': Input should be greater than or equal to 1024"):
        load_settings(settings.config_path)


def test_log_bounds_on_a_dicom_source_are_refused_at_load(tmp_path):
    settings = make_tiny_corpus(tmp_path)
    text = settings.config_path.read_text(encoding="utf-8").replace(
        'kind = "dicom_files"\n', 'kind = "dicom_files"\nmax_log_line_bytes = 4096\n'
    )
    settings.config_path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="apply to audit_syslog sources only"):
        load_settings(settings.config_path)
