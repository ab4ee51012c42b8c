"""A throwaway Orthanc for tests: a foreground process with its own JSON config, storage under a temp dir, HTTP and
DICOM on loopback ports, authentication on, the DICOMweb plugin loaded; stopped at the end.

Never uses the Debian service (`/etc/orthanc`, port 8042): `make test` installs the packages and stops that service.
Import the fixture into a test module: `from tests.orthanc import orthanc_factory`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
STORESCU = shutil.which("storescu") or "/usr/bin/storescu"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
INSTALL_HINT = (
    "Orthanc is not installed (no Orthanc, storescu or DICOMweb plugin): `make test` installs it when run as root, "
    "or run `apt-get install -y --no-install-recommends orthanc orthanc-dicomweb dcmtk`"
)
USER, PASSWORD = "sansfilm", "orthanc-test-password"
ARCHIVE_AE = "RSF_ARCHIVE"
# The programme's key the tests of archives read over the network give (SANSFILM_PSEUDO_KEY): such a configuration
# refuses the development key, with which the files harvested to compare with were keyed
NETWORK_TEST_KEY = "synthetic-patients-of-the-test-archives"
NO_AE = "RSF_TEST_NO_AE"  # calling AE for files that carry no SourceApplicationEntityTitle (not in the registry)


def installed() -> bool:
    return all(os.access(p, os.X_OK) for p in (ORTHANC, STORESCU)) and Path(DICOMWEB_PLUGIN).exists()


def require_orthanc() -> None:
    if not installed():
        if os.environ.get("CI"):
            pytest.fail(f"{INSTALL_HINT}. CI must install them (the Makefile's SYSTEM_PACKAGES).")
        pytest.skip(INSTALL_HINT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class OrthancServer:
    """One Orthanc process; `stop()` and `start()` again keep its storage (and its change feed)."""

    root: Path
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    extra_config: dict = field(default_factory=dict)  # merged into the JSON config (e.g. DicomModalities)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self) -> dict[str, str]:
        # TZ: Orthanc's ReceptionDate is local time; a Paris server exercises the zone conversion.
        return {**os.environ, "TCP_NODELAY": "1", "TZ": "Europe/Paris"}

    def start(self) -> None:
        storage = self.root / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "sansfilm-test",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": ARCHIVE_AE,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "DicomCheckCalledAet": False,
            "UnknownSopClassAccepted": True,
            "StorageCompression": False,
            "Plugins": [DICOMWEB_PLUGIN],
            "SaveJobs": False,
            "HttpTimeout": 10,
            "DicomScpTimeout": 10,
            "StableAge": 1,
            "KeepAlive": True,
            "TcpNoDelay": True,
            "HttpThreadsCount": 8,
            **self.extra_config,
        }
        (self.root / "orthanc.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
        log = (self.root / "orthanc.log").open("ab")
        self.process = subprocess.Popen(
            [ORTHANC, str(self.root / "orthanc.json")],
            cwd=self.root,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/system", auth=(USER, PASSWORD), timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Orthanc did not start in 30 s: {self.log_tail()}")

    def stop(self, *, graceful: bool = True) -> None:
        """SIGTERM and wait (Orthanc takes a few seconds to shut down), or SIGKILL when the storage is thrown away."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self) -> str:
        log = self.root / "orthanc.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(USER, PASSWORD), timeout=30)

    def store(self, files_by_ae: dict[str, list[Path]], parallel: int = 4) -> None:
        """C-STORE the files, each group under its calling AE title (storescu, TCP_NODELAY)."""
        pending = [(ae, files[i : i + 800]) for ae, files in files_by_ae.items() for i in range(0, len(files), 800)]
        running: list[tuple[str, subprocess.Popen]] = []
        while pending or running:
            while pending and len(running) < parallel:
                ae, files = pending.pop()
                cmd = [STORESCU, "-aet", ae, "-aec", ARCHIVE_AE, "127.0.0.1", str(self.dicom_port), *map(str, files)]
                running.append(
                    (ae, subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
                )
            ae, proc = running.pop(0)
            out, _ = proc.communicate(timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"storescu -aet {ae} failed: {out.decode(errors='replace')[-1500:]}")


def files_by_calling_ae(files: Iterable[Path]) -> dict[str, list[Path]]:
    """Group DICOM files by the AE title that sent them (their file meta SourceApplicationEntityTitle)."""
    from analytics.dicom_reader import read_instance
    from analytics.pseudonym import Pseudonymiser

    pseudonymise = Pseudonymiser("x" * 16)
    groups: dict[str, list[Path]] = {}
    for path in sorted(files):
        groups.setdefault(read_instance(path, pseudonymise).source_ae_title or NO_AE, []).append(path)
    return groups


@pytest.fixture
def orthanc_factory(tmp_path_factory) -> Iterator:
    """Start as many servers as a test needs (`orthanc_factory()`); all are stopped at the end."""
    require_orthanc()
    servers: list[OrthancServer] = []

    def make() -> OrthancServer:
        server = OrthancServer(tmp_path_factory.mktemp("orthanc"))
        for _attempt in range(3):  # a free port may be taken between probing and binding
            try:
                server.start()
                break
            except RuntimeError:
                server.http_port, server.dicom_port = free_port(), free_port()
        else:
            raise RuntimeError(f"Orthanc would not start: {server.log_tail()}")
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop(graceful=False)


def patients(rows: Iterable[tuple[str, str]]) -> set[tuple[str, ...]]:
    """(sop_instance_uid, patient_key) rows as the instances of each patient, whatever the key: harvests keyed
    differently found the same patients when these are equal."""
    by_patient: dict[str, list[str]] = {}
    for sop, patient in rows:
        by_patient.setdefault(patient, []).append(sop)
    return {tuple(sorted(sops)) for sops in by_patient.values()}
