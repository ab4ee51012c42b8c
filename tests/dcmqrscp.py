"""A throwaway dcmtk `dcmqrscp`: a second, independent C-FIND SCP (Study Root), fed by storescu; loopback only."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread

from tests.orthanc import STORESCU, free_port

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
    port: int = field(default_factory=free_port)
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
            [DCMQRSCP, "-c", str(config), str(self.port)],
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "TCP_NODELAY": "1"},
        )
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
        """C-STORE the files, then check by C-FIND that dcmqrscp holds exactly them: storescu's exit status alone
        let a loaded run go on with 994 of 1000 instances held. What is missing is sent once more; a file still
        missing, or one held that was not sent, fails here with the counts instead of in a test's arithmetic."""
        sent = {_sop_instance_uid(path): path for path in files}
        outputs = [self._storescu(files)]
        held = self.held()
        missing = sorted(set(sent) - held)
        if missing:
            outputs.append(self._storescu([sent[uid] for uid in missing]))
            held = self.held()
        if held != set(sent):
            raise RuntimeError(
                f"dcmqrscp holds {len(held & set(sent))} of the {len(sent)} files sent (after sending the "
                f"{len(missing)} missing once more) and {len(held - set(sent))} not sent; storescu said: "
                f"{outputs[-1][-1500:] or '(nothing)'}; dcmqrscp log: {self.log_tail() or '(nothing)'}"
            )

    def _storescu(self, files: list[Path]) -> str:
        output = ""
        for i in range(0, len(files), 800):
            cmd = [
                STORESCU,
                "-aet",
                "RSF_TEST_SENDER",
                "-aec",
                AE_TITLE,
                "127.0.0.1",
                str(self.port),
                *map(str, files[i : i + 800]),
            ]
            done = subprocess.run(cmd, capture_output=True, env={**os.environ, "TCP_NODELAY": "1"}, timeout=300)
            output += (done.stdout + done.stderr).decode(errors="replace")
            if done.returncode != 0:
                raise RuntimeError(f"storescu to dcmqrscp failed: {output[-1500:]}")
        return output

    def held(self) -> set[str]:
        """The SOP Instance UIDs dcmqrscp answers at IMAGE level (Study Root C-FIND, study by study, series by
        series: what a harvester can see, from dcmqrscp's index)."""
        from pynetdicom import AE
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

        ae = AE(ae_title="RSF_TEST_COUNT")
        ae.add_requested_context(FIND)
        for attribute in ("acse_timeout", "dimse_timeout", "network_timeout"):
            setattr(ae, attribute, 60)
        assoc = ae.associate("127.0.0.1", self.port, ae_title=AE_TITLE)
        if not assoc.is_established:
            raise RuntimeError(f"dcmqrscp refused the counting association: {self.log_tail()}")
        try:

            def find(level: str, keys: dict[str, str], wanted: str) -> list[str]:
                query = Dataset()
                query.QueryRetrieveLevel = level
                for keyword, value in {**keys, wanted: ""}.items():
                    setattr(query, keyword, value)
                found = []
                for status, identifier in assoc.send_c_find(query, FIND):
                    if "Status" not in status or status.Status not in (0x0000, 0xFF00, 0xFF01):
                        raise RuntimeError(f"C-FIND at {level} level to dcmqrscp failed ({status}): {self.log_tail()}")
                    if identifier is not None and status.Status != 0x0000:
                        found.append(str(identifier.get(wanted, "")))
                return found

            return {
                sop
                for study in find("STUDY", {}, "StudyInstanceUID")
                for series in find("SERIES", {"StudyInstanceUID": study}, "SeriesInstanceUID")
                for sop in find("IMAGE", {"StudyInstanceUID": study, "SeriesInstanceUID": series}, "SOPInstanceUID")
            }
        finally:
            assoc.release()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self) -> str:
        log = self.root / "dcmqrscp.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def _sop_instance_uid(path: Path) -> str:
    return str(dcmread(path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).SOPInstanceUID)
