"""The `orthanc` source against a real Orthanc: same objects, same answers as `dicom_files`; faults; the sensor."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics import metering, operations, warehouse
from analytics.config import Settings, load_settings
from analytics.errors import SourceError
from analytics.file_keys import file_key
from analytics.orthanc.harvest import instance_path
from analytics.periods import Month
from tests.orthanc import (
    NETWORK_TEST_KEY,
    PASSWORD,
    USER,
    OrthancServer,
    files_by_calling_ae,
    orthanc_factory,  # noqa: F401  (a fixture)
    patients,
    require_orthanc,
)
from tests.tiny_corpus import query

MONTHS = [Month(2012, m) for m in range(1, 13)]
# Orthanc stores what it received with its own file meta header: a few dozen bytes per (tiny) sample file
BYTES_TOLERANCE = Decimal("0.10")
COMPARED_FIELDS = (
    "study_instance_uid",
    "series_instance_uid",
    "sop_class_uid",
    "modality",
    "study_date",
    "study_time",
    "institution_name",
    "station_name",
    "manufacturer",
    "specific_character_set",
    "transfer_syntax_uid",
    "establishment_id",
    "attributed_by",
)


def orthanc_config(
    folder: Path, url: str, *, contracts: Path, audit: Path | None = None, **options: object
) -> Settings:
    """A configuration whose archive is the Orthanc at `url` (plus, optionally, the sample's audit logs)."""
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())
    audit_source = f'[[sources]]\nname = "audit"\nkind = "audit_syslog"\npath = "{audit}"\n' if audit else ""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sansfilm.toml").write_text(
        f"""[warehouse]\npath = "warehouse/sansfilm.duckdb"\n[contracts]\ndir = "{contracts}"\n
[archive]\nae_titles = ["RSF_ARCHIVE"]\n[portal]\nae_titles = ["PORTAIL_VILLE"]
[[sources]]\nname = "pacs"\nkind = "orthanc"\nurl = "{url}"\nusername_env = "TEST_ORTHANC_USER"
password_env = "TEST_ORTHANC_PASSWORD"\n{extra}{audit_source}""",
        encoding="utf-8",
    )
    return load_settings(folder / "sansfilm.toml")


@pytest.fixture(autouse=True)
def _credentials(monkeypatch):
    monkeypatch.setenv("TEST_ORTHANC_USER", USER)
    monkeypatch.setenv("TEST_ORTHANC_PASSWORD", PASSWORD)
    # an archive read over the network refuses the development key (its patients may be real)
    monkeypatch.setenv("SANSFILM_PSEUDO_KEY", NETWORK_TEST_KEY)


def sample_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.source("archive-files").path.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def loaded(harvested, tmp_path_factory) -> Iterator[tuple[Settings, OrthancServer]]:
    """The whole sample sent to one Orthanc by C-STORE under each sender's AE title; stopped after the module."""
    require_orthanc()
    files_settings, _ = harvested
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-loaded"))
    server.start()
    try:
        server.store(files_by_calling_ae(sample_files(files_settings)))
        yield files_settings, server
    finally:
        server.stop(graceful=False)


def test_same_objects_same_answers_as_dicom_files(loaded, tmp_path):
    files, server = loaded
    with server.api() as api:
        assert api.get("/statistics").json()["CountInstances"] == len(sample_files(files))
    settings = orthanc_config(
        tmp_path / "o", server.url, contracts=files.contracts.dir, audit=files.source("audit").path, page_size=500
    )
    started = time.perf_counter()
    reports = {r.name: r for r in operations.harvest(settings)}
    harvest_seconds = time.perf_counter() - started
    operations.build_warehouse(settings)
    pacs = reports["pacs"]
    assert (pacs.kind, pacs.files_seen, pacs.files_parsed, pacs.quarantined) == (
        "orthanc",
        len(sample_files(files)),
        len(sample_files(files)),
        0,
    )
    assert pacs.records_added == pacs.files_parsed and harvest_seconds < 30

    count = "select count(*), count(distinct study_instance_uid) from staged.stg_dicom_instances"
    assert query(settings, count) == query(files, count)
    assert query(settings, "select count(*) from staged.int_studies") == query(
        files, "select count(*) from staged.int_studies"
    )
    fields = ", ".join(COMPARED_FIELDS)
    ours = {r[0]: r[1:] for r in query(settings, f"select sop_instance_uid, {fields} from staged.stg_dicom_instances")}
    theirs = {r[0]: r[1:] for r in query(files, f"select sop_instance_uid, {fields} from staged.stg_dicom_instances")}
    differing = [sop for sop in theirs if ours.get(sop) != theirs[sop]]
    assert not differing, (differing[:3], [(ours.get(s), theirs[s]) for s in differing[:3]])
    keys = "select sop_instance_uid, patient_key from staged.stg_dicom_instances"
    assert patients(query(settings, keys)) == patients(query(files, keys))  # the same patients, under the test key
    assert not {k for _, k in query(settings, keys)} & {k for _, k in query(files, keys)}
    attribution = "select establishment_id, attributed_by, count(*) from staged.int_studies group by all order by all"
    assert query(settings, attribution) == query(files, attribution)
    # RemoteAET stands in for the file meta's SourceApplicationEntityTitle (files without one were sent as NO_AE)
    ae = "select source_ae_title, count(*) from staged.stg_dicom_instances group by all order by all"
    assert {k or "RSF_TEST_NO_AE": n for k, n in query(settings, ae)} == {
        k or "RSF_TEST_NO_AE": n for k, n in query(files, ae)
    }
    # reception: ReceptionDate is "now"; Orthanc writes it in UTC although this server runs with TZ=Europe/Paris
    (newest,) = query(settings, "select max(received_at) from raw.dicom_instances where source = 'pacs'")[0]
    assert abs(newest.timestamp() - time.time()) < 600

    # usage metrics: the same once the instances carry the reception times of the files (Orthanc received them
    # today); bytes are the archive's stored sizes (Orthanc rewrites the file meta header), compared separately.
    con = warehouse.connect(settings.warehouse.path)
    try:
        con.execute("attach ? as files_wh (read_only)", [str(files.warehouse.path)])
        con.execute(
            """update raw.dicom_instances o set received_at = f.received_at
               from files_wh.staged.stg_dicom_instances f where f.sop_instance_uid = o.sop_instance_uid"""
        )
        con.execute("detach files_wh")
    finally:
        con.close()
    operations.build_warehouse(settings, full_refresh=True)  # raw changed in place, not by a harvest: rebuild
    metered_files = tmp_path / "files.duckdb"
    shutil.copy(files.warehouse.path, metered_files)
    for month in MONTHS:
        with warehouse.open_warehouse(settings.warehouse.path) as con:
            metering.meter_month(con, month)
            ours = metering.monthly_usage(con, month)
        with warehouse.open_warehouse(metered_files) as con:
            metering.meter_month(con, month)
            theirs = metering.monthly_usage(con, month)
        assert ours.keys() == theirs.keys(), month
        for establishment, metrics in theirs.items():
            for metric, value in metrics.items():
                if metric in ("bytes_archived", "storage_gb_month"):
                    assert abs(ours[establishment][metric] - value) <= value * BYTES_TOLERANCE, (
                        month,
                        establishment,
                        metric,
                    )
                else:
                    assert ours[establishment][metric] == value, (month, establishment, metric)
    stored = "select sum(size_bytes) from staged.stg_dicom_instances"
    with server.api() as api:
        assert query(settings, stored)[0][0] == int(api.get("/statistics").json()["TotalDiskSize"])


def _sent(server: OrthancServer, files: list[Path]) -> None:
    server.store(files_by_calling_ae(files))


def _subset(settings: Settings, per_establishment: int) -> list[Path]:
    """A few files of every establishment (and of the unrouted senders)."""
    root = settings.source("archive-files").path
    return [
        p
        for folder in sorted(root.iterdir())
        for p in sorted(q for q in folder.rglob("*") if q.is_file())[:per_establishment]
    ]


def test_outage_bounded_retries_then_resume_without_loss_or_double_count(
    orthanc_factory, sample_settings, tmp_path, monkeypatch
):
    from analytics.orthanc import harvest as orthanc_harvest

    server = orthanc_factory()
    files = _subset(sample_settings, 40)
    _sent(server, files)
    settings = orthanc_config(
        tmp_path / "o",
        server.url,
        contracts=sample_settings.contracts.dir,
        page_size=60,
        retries=2,
        backoff=0.05,
        timeout=2,
    )
    original = orthanc_harvest.write_page
    pages = {"n": 0}

    def stop_after_first_page(*args, **kwargs):
        original(*args, **kwargs)
        pages["n"] += 1
        if pages["n"] == 1:
            server.stop()  # the archive goes down in the middle of the harvest

    monkeypatch.setattr(orthanc_harvest, "write_page", stop_after_first_page)
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        operations.harvest(settings)
    assert "source 'pacs'" in str(err.value) and "unavailable" in str(err.value) and "3 times" in str(err.value)
    assert time.monotonic() - started < 20
    committed = query(settings, "select count(*) from raw.dicom_instances")[0][0]
    (cursor,) = query(settings, "select position from raw.harvest_cursors where source = 'pacs'")[0]
    assert 0 < committed < len(files) and cursor > 0  # the first page is kept with its cursor

    monkeypatch.setattr(orthanc_harvest, "write_page", original)
    server.start()
    (report,) = operations.harvest(settings)
    assert report.records_added == len(files) - committed and report.files_seen == len(files) - committed
    counts = "select count(*), count(distinct sop_instance_uid) from raw.dicom_instances"
    assert query(settings, counts) == [(len(files), len(files))]
    (again,) = operations.harvest(settings)
    assert (again.files_seen, again.records_added) == (0, 0)


def test_deleted_instances_leave_storage(orthanc_factory, sample_settings, tmp_path):
    server = orthanc_factory()
    _sent(server, _subset(sample_settings, 12))
    settings = orthanc_config(tmp_path / "o", server.url, contracts=sample_settings.contracts.dir)
    operations.harvest(settings)
    with server.api() as api:
        study = api.get("/studies").json()[0]
        doomed = {i["ID"] for i in api.get(f"/studies/{study}/instances").json()}
        assert api.delete(f"/studies/{study}").status_code == 200
    (report,) = operations.harvest(settings)
    assert report.records_added == 0
    operations.build_warehouse(settings)
    rows = query(settings, "select file_key, deleted_date from staged.stg_dicom_instances where deleted_at is not null")
    ((salt,),) = query(settings, "select salt from raw.file_key_salt")
    source = settings.sources[0]
    assert {k for k, _ in rows} == {file_key(salt, source.name, instance_path(source, i)) for i in doomed}
    today = rows[0][1]
    month = Month(today.year, today.month)
    with warehouse.open_warehouse(settings.warehouse.path) as con:
        metering.meter_month(con, month)
        stored, removed = con.execute(
            """select sum(stored_bytes) filter (where usage_date = $day),
                      (select sum(size_bytes) from staged.stg_dicom_instances where deleted_at is not null)
               from marts.fct_usage_daily where month = $month""",
            {"day": today, "month": str(month)},
        ).fetchone()
    total = query(settings, "select sum(size_bytes) from staged.stg_dicom_instances")[0][0]
    assert stored == total - removed  # received and deleted the same day: only what is left is stored
    (again,) = operations.harvest(settings)  # a deletion is recorded once
    assert query(settings, "select count(*) from raw.dicom_deletions") == [(len(doomed),)]


def test_wrong_password_is_a_clear_error_and_writes_nothing(orthanc_factory, sample_settings, tmp_path, monkeypatch):
    server = orthanc_factory()
    settings = orthanc_config(tmp_path / "o", server.url, contracts=sample_settings.contracts.dir)
    monkeypatch.setenv("TEST_ORTHANC_PASSWORD", "not-the-password")
    with pytest.raises(SourceError) as err:
        operations.harvest(settings)
    message = str(err.value)
    assert "source 'pacs'" in message and "HTTP 401" in message and "TEST_ORTHANC_PASSWORD" in message
    assert "not-the-password" not in message and PASSWORD not in message
    assert query(settings, "select count(*) from raw.dicom_instances") == [(0,)]
    assert query(settings, "select count(*) from raw.harvest_cursors") == [(0,)]


def test_missing_credentials_name_the_variables(sample_settings, tmp_path, monkeypatch):
    from analytics.errors import ConfigError

    settings = orthanc_config(tmp_path / "o", "http://127.0.0.1:9", contracts=sample_settings.contracts.dir)
    monkeypatch.delenv("TEST_ORTHANC_PASSWORD")
    with pytest.raises(ConfigError, match="TEST_ORTHANC_PASSWORD"):
        operations.harvest(settings)


@contextmanager
def fake_orthanc(reply) -> Iterator[str]:
    """A tiny HTTP server on loopback: `reply(handler)` answers every GET and POST."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            reply(self)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _garbage(handler) -> None:
    body = b'{"Changes": [{"Seq": 1, "ChangeType": "NewInst'
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _slow(handler) -> None:
    time.sleep(1.5)
    _garbage(handler)


def _wrong_shape(handler) -> None:
    body = json.dumps({"Changes": "none", "Done": True}).encode()
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.mark.parametrize(
    ("reply", "options", "message"),
    [
        (_garbage, {}, "malformed JSON"),
        (_wrong_shape, {}, "not what Orthanc sends"),
        (_slow, {"timeout": 0.3, "retries": 1, "backoff": 0}, "timed out after 0.3 s"),
    ],
)
def test_bad_answers_are_clear_errors_and_write_nothing(sample_settings, tmp_path, reply, options, message):
    with fake_orthanc(reply) as url:
        settings = orthanc_config(tmp_path / "o", url, contracts=sample_settings.contracts.dir, **options)
        with pytest.raises(SourceError) as err:
            operations.harvest(settings)
    assert "source 'pacs'" in str(err.value) and message in str(err.value)
    assert query(settings, "select count(*) from raw.dicom_instances") == [(0,)]
    assert query(settings, "select count(*) from raw.harvest_cursors") == [(0,)]


def test_cli_reports_the_orthanc_source_like_the_others(orthanc_factory, sample_settings, tmp_path):
    from pipelines.cli import app
    from tests.integration.test_cli import HARVEST_KEYS

    server = orthanc_factory()
    files = _subset(sample_settings, 3)
    _sent(server, files)
    settings = orthanc_config(tmp_path / "o", server.url, contracts=sample_settings.contracts.dir)
    result = CliRunner().invoke(app, ["--config", str(settings.config_path), "harvest", "--format", "json"])
    assert result.exit_code == 0, result.output
    (source,) = json.loads(result.stdout)["sources"]  # stderr may carry warnings (e.g. a retried request)
    assert HARVEST_KEYS <= set(source) and source["kind"] == "orthanc"
    assert (source["files_seen"], source["files_parsed"], source["records_added"]) == (len(files),) * 3
    failing = CliRunner().invoke(
        app, ["--config", str(settings.config_path), "harvest"], env={"TEST_ORTHANC_PASSWORD": "x"}
    )
    assert failing.exit_code == 2 and "source 'pacs'" in failing.output


def test_sensor_launches_a_harvest_when_the_feed_moves(orthanc_factory, sample_settings, tmp_path):
    import dagster as dg

    from pipelines.definitions import build_definitions

    server = orthanc_factory()
    settings = orthanc_config(tmp_path / "o", server.url, contracts=sample_settings.contracts.dir)
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("orthanc_pacs_changes")
    with dg.instance_for_test() as instance:
        idle = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        assert not list(idle.run_requests or [])
        _sent(server, _subset(sample_settings, 2))
        moved = sensor(dg.build_sensor_context(instance=instance, cursor=idle.cursor, definitions=defs))
        (request,) = moved.run_requests
        assert request.tags["sansfilm/source"] == "pacs"
        operations.harvest(settings)  # the run the request launches
        time.sleep(2.5)  # Orthanc logs StableSeries/StableStudy changes after StableAge (1 s): they start nothing
        done = sensor(dg.build_sensor_context(instance=instance, cursor=moved.cursor, definitions=defs))
        assert not list(done.run_requests or [])
    without = build_definitions(sample_settings)  # no Orthanc source: no change feed to watch, only the alerts
    assert [s.name for s in without.sensors or []] == ["sansfilm_alerts"]
