"""A throwaway dcmtk `dcmqrscp`: a second, independent C-FIND SCP (Study Root), fed by storescu; loopback only."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.orthanc import STORESCU, _free_port

DCMQRSCP = shutil.which("dcmqrscp") or "/usr/bin/dcmqrscp"
ECHOSCU = shutil.which("echoscu") or "/usr/bin/echoscu"
AE_TITLE = "RSF_QR"


def require_dcmqrscp() -> None:
    if not (os.access(DCMQRSCP, os.X_OK) and os.access(STORESCU, os.X_OK)):
        hint = "dcmtk is not installed: apt-get install -y --no-install-recommends dcmtk"
        if os.environ.get("CI"):
            pytest.fail(hint)
        pytest.skip(hint)


@dataclass
class Dcmqrscp:
    root: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen | None = None

    def start(self) -> None:
        storage = self.root / "db"
        storage.mkdir(parents=True, exist_ok=True)
        config = self.root / "dcmqrscp.cfg"
        config.write_text(
            f"NetworkTCPPort = {self.port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\n"
            "HostTable BEGIN\nHostTable END\n\nVendorTable BEGIN\nVendorTable END\n\n"
            f"AETable BEGIN\n{AE_TITLE} {storage} RW (500, 1024mb) ANY\nAETable END\n",
            encoding="utf-8",
        )
        log = (self.root / "dcmqrscp.log").open("ab")
        self.process = subprocess.Popen(
            [DCMQRSCP, "-c", str(config), str(self.port)], cwd=self.root, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "TCP_NODELAY": "1"},
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dcmqrscp exited: {self.log_tail()}")
            probe = subprocess.run([ECHOSCU, "-aec", AE_TITLE, "127.0.0.1", str(self.port)], capture_output=True)
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dcmqrscp did not start: {self.log_tail()}")

    def store(self, files: list[Path]) -> None:
        for i in range(0, len(files), 800):
            cmd = [STORESCU, "-aet", "RSF_TEST_SENDER", "-aec", AE_TITLE, "127.0.0.1", str(self.port),
                   *map(str, files[i : i + 800])]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, env={**os.environ, "TCP_NODELAY": "1"}, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"storescu to dcmqrscp failed: {done.stdout.decode(errors='replace')[-1500:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self) -> str:
        log = self.root / "dcmqrscp.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""
