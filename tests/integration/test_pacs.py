"""The `dicomweb` and `dimse` sources against real servers: Orthanc (DICOMweb plugin, and as a C-FIND SCP) and
dcmtk's dcmqrscp, each loaded once per module with the whole sample by storescu. Same studies and instances per
establishment as `dicom_files`; outages resume from the cursor; errors are one clear line."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import httpx
import pytest
from pynetdicom import AE

from analytics import operations, warehouse
from analytics.config import Settings, load_settings
from analytics.dicom_reader import STUDY_INSTANCE_UID, read_instance
from analytics.errors import SourceError
from analytics.harvest import harvest_source
from analytics.pacs.dicomweb import DicomwebArchive
from analytics.pacs.dimse import ASKS, DROPPED, DimseArchive
from analytics.pseudonym import Pseudonymiser
from tests.dcmqrscp import AE_TITLE as QR_AE
from tests.dcmqrscp import Dcmqrscp, require_dcmqrscp
from tests.integration.test_orthanc import sample_files  # the same sample
from tests.orthanc import (
    ARCHIVE_AE,
    NETWORK_TEST_KEY,
    PASSWORD,
    USER,
    OrthancServer,
    files_by_calling_ae,
    patients,
    require_orthanc,
)
from tests.tiny_corpus import query

CALLING_AE = "SANSFILM"
PER_ESTABLISHMENT = """select establishment_id, count(*), count(distinct study_instance_uid)
                       from staged.stg_dicom_instances group by all order by all"""
TOTALS = "select count(*), count(distinct study_instance_uid) from staged.stg_dicom_instances"


@pytest.fixture(scope="module")
def orthanc(harvested, tmp_path_factory) -> Iterator[OrthancServer]:
    """The whole sample in one Orthanc, which also answers C-FIND from CALLING_AE."""
    require_orthanc()
    files, _ = harvested
    server = OrthancServer(
        tmp_path_factory.mktemp("orthanc-pacs"),
        extra_config={"DicomModalities": {"sansfilm": [CALLING_AE, "127.0.0.1", 1]}},
    )
    server.start()
    try:
        for _attempt in range(2):  # on a loaded machine a C-STORE may time out: send again (duplicates are ignored)
            server.store(files_by_calling_ae(sample_files(files)))
            with server.api() as api:
                held = api.get("/statistics").json()["CountInstances"]
            if held == len(sample_files(files)):
                break
        assert held == len(sample_files(files)), server.log_tail()  # the comparisons below need every file
        yield server
    finally:
        server.stop(graceful=False)


QR_FILES = 1000  # dcmqrscp's index grows by a linear scan per stored instance: the whole sample takes minutes


@pytest.fixture(scope="module")
def dcmqrscp(harvested, tmp_path_factory) -> Iterator[tuple[Dcmqrscp, Path]]:
    """The first QR_FILES files of the sample in dcmqrscp, and a folder holding the same files."""
    require_dcmqrscp()
    files, _ = harvested
    subset = sample_files(files)[:QR_FILES]
    folder = tmp_path_factory.mktemp("dcmqrscp-files")
    for i, path in enumerate(subset):
        shutil.copy2(path, folder / f"{i:05d}.dcm")
    server = Dcmqrscp(tmp_path_factory.mktemp("dcmqrscp"))
    server.start()
    try:
        server.store(subset)  # checks by C-FIND that dcmqrscp holds exactly the files sent (sends the missing again)
        yield server, folder
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _credentials(monkeypatch):
    monkeypatch.setenv("TEST_DICOMWEB_USER", USER)
    monkeypatch.setenv("TEST_DICOMWEB_PASSWORD", PASSWORD)
    # an archive read over the network refuses the development key (its patients may be real)
    monkeypatch.setenv("SANSFILM_PSEUDO_KEY", NETWORK_TEST_KEY)


def config(folder: Path, files: Settings, source: dict, *, audit: bool = False, extra: list[dict] = ()) -> Settings:
    sources = [{"name": "pacs", **source}, *extra]
    if audit:
        sources.append({"name": "audit", "kind": "audit_syslog", "path": str(files.source("audit").path)})
    body = "".join("[[sources]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in s.items()) for s in sources)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sansfilm.toml").write_text(
        f'[warehouse]\npath = "warehouse/sansfilm.duckdb"\n[contracts]\ndir = "{files.contracts.dir}"\n'
        f'[archive]\nae_titles = ["RSF_ARCHIVE"]\n{body}',
        encoding="utf-8",
    )
    return load_settings(folder / "sansfilm.toml")


def dicomweb(server: OrthancServer, **options) -> dict:
    return {
        "kind": "dicomweb",
        "url": f"{server.url}/dicom-web",
        "auth": "basic",
        "username_env": "TEST_DICOMWEB_USER",
        "password_env": "TEST_DICOMWEB_PASSWORD",
        "page_size": 50,
        "retries": 0,
        **options,
    }


def dimse(port: int, called_ae: str, **options) -> dict:
    return {
        "kind": "dimse",
        "host": "127.0.0.1",
        "port": port,
        "called_ae": called_ae,
        "calling_ae": CALLING_AE,
        "timeout": 60,
        **options,
    }  # a loaded CI machine answers slowly


def harvest_and_build(settings: Settings, names: list[str] | None = None) -> dict:
    reports = {r.name: r for r in operations.harvest(settings, names)}
    operations.build_warehouse(settings)
    return reports


@pytest.mark.parametrize("kind", ["dicomweb", "dimse"])
def test_orthanc_same_establishments_studies_and_instances_as_files(kind, harvested, orthanc, tmp_path):
    files, _ = harvested
    source = dicomweb(orthanc) if kind == "dicomweb" else dimse(orthanc.dicom_port, ARCHIVE_AE)
    settings = config(tmp_path / kind, files, source)
    report = harvest_and_build(settings)["pacs"]
    n = len(sample_files(files))
    assert (report.files_seen, report.files_parsed, report.records_added, report.quarantined) == (n, n, n, 0)
    assert query(settings, PER_ESTABLISHMENT) == query(files, PER_ESTABLISHMENT)
    # what the standards do not say is flagged; the header fields are those of the files
    # no audit logs here: reception is the first harvest that saw the instance
    flags = "select distinct size_estimated, received_at_from from staged.stg_dicom_instances"
    assert query(settings, flags) == [(True, "first_harvest")]
    fields = "sop_instance_uid, series_instance_uid, modality, study_date, study_time, institution_name"
    assert set(query(settings, f"select {fields} from staged.stg_dicom_instances")) == set(
        query(files, f"select {fields} from staged.stg_dicom_instances")
    )
    keys = "select sop_instance_uid, patient_key from staged.stg_dicom_instances"
    assert patients(query(settings, keys)) == patients(query(files, keys))  # the same patients, under the test key
    again = harvest_and_build(settings)["pacs"]  # the cursor is today: the recent windows hold none of 2012's studies
    assert (again.files_seen, again.records_added) == (0, 0)


def test_dcmqrscp_same_studies_and_instances_sizes_from_the_files(harvested, dcmqrscp, tmp_path):
    files, _ = harvested
    server, folder = dcmqrscp
    source = {"name": "files", "kind": "dicom_files", "path": str(folder)}
    settings = config(tmp_path / "qr", files, dimse(server.port, QR_AE), extra=[source])
    reports = harvest_and_build(settings, ["pacs"])
    assert (reports["pacs"].files_parsed, reports["pacs"].records_added, reports["pacs"].quarantined) == (
        QR_FILES,
        QR_FILES,
        0,
    )
    only_files = config(tmp_path / "files", files, {"kind": "dicom_files", "path": str(folder)})
    harvest_and_build(only_files)
    assert query(settings, TOTALS) == query(only_files, TOTALS)
    # dcmqrscp returns no InstitutionName: nothing to attribute by, and sizes come from the modality alone
    assert query(settings, "select distinct establishment_id, size_estimated from staged.stg_dicom_instances") == [
        ("UNATTRIBUTED", True)
    ]
    # the same instances' files, harvested next: real sizes, receptions and attribution replace the estimates
    harvest_and_build(settings, ["files"])
    assert query(settings, TOTALS) == query(only_files, TOTALS)
    assert query(settings, PER_ESTABLISHMENT) == query(only_files, PER_ESTABLISHMENT)
    sizes = (
        "select sop_instance_uid, size_bytes, received_at, size_estimated, establishment_id "
        "from staged.stg_dicom_instances"
    )
    assert set(query(settings, sizes)) == set(query(only_files, sizes))
    assert query(settings, "select min(copies_harvested), max(copies_harvested) from staged.stg_dicom_instances") == [
        (2, 2)
    ]


def test_reception_from_audit_receipt_else_first_harvest(harvested, orthanc, tmp_path):
    files, _ = harvested
    settings = config(tmp_path / "audit", files, dicomweb(orthanc), audit=True)
    harvest_and_build(settings)
    receipts = dict(
        query(
            settings,
            """select study_instance_uid, min(event_time) from staged.stg_audit_events
                                       where event_id = '110104' and succeeded and destination_is_platform
                                       and study_instance_uid is not null group by 1""",
        )
    )
    rows = query(settings, "select study_instance_uid, received_at, received_at_from from staged.stg_dicom_instances")
    assert len(rows) == len(sample_files(files)) and receipts  # every sample study has its receipt in the logs
    for uid, received_at, origin in rows:
        assert (origin, received_at) == ("audit_receipt", receipts[uid])


class _FailAfter(httpx.HTTPTransport):
    """A real transport to the real server that drops the connection after `allowed` requests (an outage)."""

    def __init__(self, allowed: int) -> None:
        super().__init__()
        self.allowed = allowed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.allowed <= 0:
            raise httpx.ConnectError("connection refused (injected outage)", request=request)
        self.allowed -= 1
        return super().handle_request(request)


def _harvest_with(settings: Settings, archive) -> object:
    with warehouse.open_warehouse(settings.warehouse.path) as con:
        with mock.patch("analytics.pacs.harvest.open_archive", return_value=archive):
            return harvest_source(con, settings.source("pacs"), Pseudonymiser(NETWORK_TEST_KEY))


class _AbortAfter(AE):
    """An application entity whose association aborts before its n-th C-FIND, after which the archive accepts no new
    association (associating gives the aborted one back)."""

    def __init__(self, finds: int) -> None:
        super().__init__()
        self.finds, self.assoc = finds, None

    def associate(self, *args, **kwargs):
        if self.assoc is not None:
            return self.assoc
        self.assoc = assoc = super().associate(*args, **kwargs)
        send_c_find = assoc.send_c_find

        def counted(*args, **kwargs):
            self.finds -= 1
            if self.finds == 0:
                assoc.abort()
            return send_c_find(*args, **kwargs)

        assoc.send_c_find = counted
        return assoc


@pytest.mark.parametrize("kind", ["dicomweb", "dimse"])
def test_outage_mid_harvest_resumes_with_nothing_lost_or_doubled(kind, harvested, orthanc, dcmqrscp, tmp_path):
    """DICOMweb: the connection to Orthanc drops after 40 requests. C-FIND (dcmqrscp, the smaller load): the
    association is aborted after 150 queries and the archive accepts no new one. The next run completes."""
    files, _ = harvested
    if kind == "dicomweb":
        settings = config(tmp_path / kind, files, dicomweb(orthanc, page_size=10))
        archive = DicomwebArchive(settings.source("pacs"), transport=_FailAfter(40))
        expected, total = "is unavailable: GET", len(sample_files(files))
    else:
        settings = config(tmp_path / kind, files, dimse(dcmqrscp[0].port, QR_AE))
        # a few pages of studies in (a study costs one SERIES and a few IMAGE queries)
        archive = DimseArchive(settings.source("pacs"), ae=_AbortAfter(150))
        expected, total = "refused the association|dropped the association", QR_FILES
    with pytest.raises(SourceError, match=expected) as failure:
        _harvest_with(settings, archive)
    assert "\n" not in str(failure.value)
    (partial,) = query(settings, "select count(*) from raw.dicom_instances")[0]
    assert 0 < partial < total
    assert query(settings, "select count(*) from raw.harvest_cursors") == [(0,)]  # the window was not completed
    report = harvest_and_build(settings)["pacs"]
    assert report.records_added == total - partial, (  # the fixture checked dcmqrscp held `total`: does it still?
        f"{report}; dcmqrscp now holds {len(dcmqrscp[0].held())}" if kind == "dimse" else report
    )
    if kind == "dicomweb":  # studies already complete are skipped by their NumberOfStudyRelatedInstances
        assert report.files_unchanged >= partial
    else:  # dcmqrscp returns no instance counts: the window is read again, and nothing is stored twice
        assert (report.files_parsed, report.files_unchanged) == (total, 0)
    assert query(settings, "select count(*), count(distinct sop_instance_uid) from raw.dicom_instances") == [
        (total, total)
    ]
    if kind == "dicomweb":
        assert query(settings, PER_ESTABLISHMENT) == query(files, PER_ESTABLISHMENT)


class _DropFirstAnswers(AE):
    """An application entity whose association loses the first answer of some C-FIND questions the way pynetdicom's
    reactor thread does when it takes an answer before the question's reader (pydicom/pynetdicom#875): read off the
    association, logged as an unexpected message by pynetdicom's logger, never given to the reader. `asks`: the
    numbers (from 1) of the questions that lose one."""

    def __init__(self, asks: set[int]) -> None:
        super().__init__()
        self.asks, self.asked = asks, 0

    def associate(self, *args, **kwargs):
        assoc = super().associate(*args, **kwargs)
        send_c_find = assoc.send_c_find

        def dropping(*args, **kwargs):
            self.asked += 1
            responses = send_c_find(*args, **kwargs)
            if self.asked in self.asks:
                next(responses)
                logging.getLogger("pynetdicom.association").warning("Received unexpected C-FIND service message")
            return responses

        assoc.send_c_find = dropping
        return assoc


def test_an_answer_pynetdicom_drops_is_asked_again_and_nothing_is_lost(harvested, orthanc, tmp_path):
    """The study list's first page and a study's instances each lose an answer once: both questions are asked
    again, so every study and instance is stored, once."""
    files, _ = harvested
    settings = config(tmp_path / "dropped", files, dimse(orthanc.dicom_port, ARCHIVE_AE))
    ae = _DropFirstAnswers({1, 3, 40})  # the study list, then questions on a study's series or a series' instances
    before = DROPPED.count
    _harvest_with(settings, DimseArchive(settings.source("pacs"), ae=ae))
    n = len(sample_files(files))
    assert query(settings, "select count(*), count(distinct sop_instance_uid) from raw.dicom_instances") == [(n, n)]
    assert DROPPED.count >= before + 3  # counted (more if pynetdicom itself dropped one meanwhile)


class _Timing(AE):
    """An application entity that notes, for each C-FIND question, whether its socket sends at once (TCP_NODELAY),
    when it was asked and when its last answer came."""

    def __init__(self) -> None:
        super().__init__()
        self.nodelay: list[int] = []
        self.asked: list[float] = []
        self.answered: list[float] = []

    def associate(self, *args, **kwargs):
        assoc = super().associate(*args, **kwargs)
        send_c_find = assoc.send_c_find

        def timed(*args, **kwargs):
            self.nodelay.append(assoc.dul.socket.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            self.asked.append(time.monotonic())
            try:
                yield from send_c_find(*args, **kwargs)
            finally:  # a question given up on (asked again) counts as answered when given up
                self.answered.append(time.monotonic())

        assoc.send_c_find = timed
        return assoc


def test_questions_are_sent_at_once_and_apart(harvested, orthanc, tmp_path):
    """Each question leaves at once (no wait for the archive's acknowledgement: 50 ms a question), and not before
    pynetdicom's association thread has gone back to waiting after the last answer (it would take an answer)."""
    files, _ = harvested
    settings = config(tmp_path / "timing", files, dimse(orthanc.dicom_port, ARCHIVE_AE))
    ae = _Timing()
    archive = DimseArchive(settings.source("pacs"), ae=ae)
    try:
        studies = [study for page in archive.studies(None, None) for study in page][:5]
        instances = [archive.instances(study[STUDY_INSTANCE_UID], None) for study in studies]
    finally:
        archive.close()
    assert len(studies) == 5 and all(instances)
    assert len(ae.asked) >= 11 and all(ae.nodelay), ae.nodelay  # the study list, then per study its series...
    # at least the 1 ms pynetdicom's association thread sleeps between two looks at the answers (SETTLE: 2 ms)
    gaps = [asked - answered for answered, asked in zip(ae.answered, ae.asked[1:], strict=False)]
    assert min(gaps) >= 0.001, gaps


def test_a_question_losing_answers_each_time_fails_in_one_line(harvested, orthanc, tmp_path):
    files, _ = harvested
    settings = config(tmp_path / "lossy", files, dimse(orthanc.dicom_port, ARCHIVE_AE))
    ae = _DropFirstAnswers(set(range(1, ASKS + 1)))  # the study list, every time it is asked
    with pytest.raises(SourceError, match=f"had answers to C-FIND at STUDY level dropped {ASKS} times") as failure:
        _harvest_with(settings, DimseArchive(settings.source("pacs"), ae=ae))
    assert "\n" not in str(failure.value)
    assert query(settings, "select count(*) from raw.dicom_instances") == [(0,)]


def test_a_grown_study_is_read_again_and_only_its_new_series(harvested, tmp_path):
    """Late arrivals: a study whose instance count grew within the re-queried days is re-read, series by series."""
    require_orthanc()
    files, _ = harvested
    server = OrthancServer(tmp_path / "orthanc")
    server.start()
    try:
        by_series: dict[tuple[str, str], list[Path]] = {}
        pseudonymise = Pseudonymiser(NETWORK_TEST_KEY)
        for path in sample_files(files)[:300]:
            record = read_instance(path, pseudonymise)
            by_series.setdefault((record.study_instance_uid, record.series_instance_uid), []).append(path)
        (late_study, _), late = list(by_series.items())[-1]  # the last series arrives after the first harvest
        series = list(by_series.values())
        assert sum(study == late_study for study, _ in by_series) > 1  # its study was already there: it grows
        server.store({"SENDER": [p for s in series[:-1] for p in s]})
        settings = config(tmp_path / "grow", files, dicomweb(server))
        first = harvest_and_build(settings)["pacs"]
        assert first.records_added == sum(len(s) for s in series[:-1])
        server.store({"SENDER": late})
        con = warehouse.connect(settings.warehouse.path)
        con.execute("update raw.harvest_cursors set position = 20120101")  # the windows now cover 2012's studies
        con.close()
        second = harvest_and_build(settings)["pacs"]
        assert second.records_added == len(late)
        assert second.files_parsed == len(late)  # only the grown series was read again
        assert second.files_seen == second.files_parsed + second.files_unchanged
        assert query(settings, "select count(*) from raw.dicom_instances") == [(sum(len(s) for s in series),)]
    finally:
        server.stop(graceful=False)


def test_clear_one_line_errors(harvested, orthanc, dcmqrscp, tmp_path, monkeypatch):
    files, _ = harvested
    cases = [
        (dicomweb(orthanc, url="http://127.0.0.1:1/dicom-web"), "is unavailable: GET /studies failed 1 times"),
        (
            dicomweb(orthanc, username_env="WRONG_USER"),
            "refused the credentials taken from WRONG_USER / TEST_DICOMWEB_PASSWORD",
        ),
        (dicomweb(orthanc, auth="none"), "refused access without credentials"),
        (dicomweb(orthanc, url=f"{orthanc.url}/system"), "answered HTTP 404 to GET /studies|not DICOM JSON"),
        (dimse(1, QR_AE), "is unreachable"),
        (dimse(dcmqrscp[0].port, "NOT_THE_AE"), "refused the association from calling AE title 'SANSFILM'"),
        (dimse(orthanc.dicom_port, ARCHIVE_AE, calling_ae="STRANGER"), "may calling AE title 'STRANGER' query it"),
    ]
    monkeypatch.setenv("WRONG_USER", "nobody")
    for i, (source, message) in enumerate(cases):
        settings = config(tmp_path / f"e{i}", files, source)
        with pytest.raises(SourceError, match=message) as failure:
            operations.harvest(settings)
        assert "\n" not in str(failure.value) and PASSWORD not in str(failure.value)


def test_a_dimse_archive_that_says_no_is_one_line_on_the_command_line(harvested, orthanc, tmp_path):
    """As a user types it: `sansfilm harvest` on a DIMSE archive that is down, or that rejects the association,
    prints our one line and nothing of pynetdicom's own log (its transport logs a refused connection as two ERROR
    lines, its ACSE a rejection as three); with --verbose, pynetdicom's lines come back for the operator."""
    files, _ = harvested

    def harvest(name: str, source: dict, *options: str) -> subprocess.CompletedProcess:
        settings = config(tmp_path / name, files, source)
        command = [str(Path(sys.executable).with_name("sansfilm")), "--config", str(settings.config_path), *options]
        return subprocess.run([*command, "harvest"], capture_output=True, text=True, timeout=120)

    with socket.socket() as closed:  # bound, never listening, for the whole test: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        down = harvest("down", dimse(port, QR_AE, timeout=5))
        down_verbose = harvest("down-v", dimse(port, QR_AE, timeout=5), "--verbose")
    stranger = harvest("stranger", dimse(orthanc.dicom_port, ARCHIVE_AE, calling_ae="STRANGER"))
    assert down.returncode == stranger.returncode == 2, down.stderr + stranger.stderr
    assert down.stderr.splitlines() == [
        f"error: source 'pacs': the DICOM archive dimse://{QR_AE}@127.0.0.1:{port} is unreachable (Connection refused)"
    ]
    (line,) = stranger.stderr.splitlines()
    assert line.startswith("error: source 'pacs': ") and "may calling AE title 'STRANGER' query it" in line, line
    assert down_verbose.returncode == 2 and "pynetdicom.transport" in down_verbose.stderr


def test_dagster_asset_job_and_schedule_per_source(harvested, orthanc, tmp_path):
    import dagster as dg

    from pipelines.definitions import build_definitions

    files, _ = harvested
    find = {"name": "find", **dimse(orthanc.dicom_port, ARCHIVE_AE)}
    settings = config(tmp_path / "dagster", files, dicomweb(orthanc), extra=[find])
    defs = build_definitions(settings)
    for kind, name in (("dicomweb", "pacs"), ("dimse", "find")):
        schedule = defs.resolve_schedule_def(f"{kind}_{name}_hourly")
        assert (schedule.job_name, schedule.execution_timezone) == (f"harvest_{name}", "Europe/Paris")
    result = defs.resolve_job_def("harvest_pacs").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    (materialised,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(["raw", "harvest_pacs"])
    ]
    assert materialised.materialization.metadata["records_added"].value == len(sample_files(files))
    assert query(settings, "select count(*) from raw.dicom_instances where source = 'pacs'") == [
        (len(sample_files(files)),)
    ]


def test_sender_size_and_reception_from_configured_vendor_attributes(harvested, tmp_path):
    """A PACS that keeps the sending AE title, stored size and reception in private attributes: attribution by AE
    title with `sender_ae_tag`, by nothing without it (the InstitutionName here matches no alias); real size and
    reception with `size_tag` and `received_tag`, estimates without. Written in explicit VR,
    as the vendor knows its own attribute: in an implicit-VR file Orthanc only offers it as bulk data (VR UN)."""
    import pydicom

    require_orthanc()
    files, _ = harvested
    groups = files_by_calling_ae(sample_files(files)[:400])
    picked = [(ae, paths[0]) for ae, paths in sorted(groups.items()) if ae != "RSF_TEST_NO_AE"][:3]
    folder = tmp_path / "vendor"
    folder.mkdir()
    for i, (ae, path) in enumerate(picked):
        ds = pydicom.dcmread(path)
        ds.InstitutionName = "Clinique inconnue"
        block = ds.private_block(0x0077, "SANSFILM TEST ARCHIVE", create=True)
        block.add_new(0x52, "AE", ae)  # (0077,1052) the sender
        block.add_new(0x53, "UL", 100_000 + i)  # (0077,1053) the stored size
        block.add_new(0x54, "DT", f"2012031510300{i}+0100")  # (0077,1054) the reception
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        ds.save_as(folder / f"{i}.dcm", enforce_file_format=True)
    server = OrthancServer(tmp_path / "orthanc")
    server.start()
    try:
        server.store({"ANY_SENDER": sorted(folder.iterdir())})
        plain = config(tmp_path / "plain", files, dicomweb(server))
        tagged = config(
            tmp_path / "tagged",
            files,
            dicomweb(server, sender_ae_tag="00771052", size_tag="00771053", received_tag="(0077,1054)"),
        )
        harvest_and_build(plain)
        harvest_and_build(tagged)
    finally:
        server.stop(graceful=False)
    attribution = "select source_ae_title, attributed_by, establishment_id from staged.stg_dicom_instances order by 1"
    assert {row[1:] for row in query(plain, attribution)} == {("none", "UNATTRIBUTED")}
    expected = dict(
        query(files, "select source_ae_title, any_value(establishment_id) from staged.stg_dicom_instances group by 1")
    )
    assert query(tagged, attribution) == sorted((ae, "ae_title", expected[ae]) for ae, _ in picked)
    known = "select size_bytes, size_estimated, received_at, received_at_from from staged.stg_dicom_instances"
    assert sorted(query(tagged, known)) == [
        (100_000 + i, False, datetime(2012, 3, 15, 9, 30, i, tzinfo=UTC), "archive") for i in range(len(picked))
    ]
    assert {(r[1], r[3]) for r in query(plain, known)} == {(True, "first_harvest")}
