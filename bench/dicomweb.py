"""Instances/s harvested over DICOMweb from a local Orthanc, against a naive client in the same run, same server.

    .venv/bin/python bench/dicomweb.py [--volume-scale 5.2] [--months 12] [--page-size 100]

The corpus and the loaded Orthanc (DICOMweb plugin) are bench/orthanc.py's, cached under bench/out/. Each client
harvests every study into a fresh DuckDB file through the same `dicomweb` source code path (same QIDO-RS study pages,
same records, same page transactions); only the way a new study's headers are fetched differs:

* naive:    per study a QIDO-RS series search, per series a QIDO-RS instances search, per instance a WADO-RS
            `.../instances/{sop}/metadata` request, one after the other;
* sansfilm: per study one WADO-RS `.../studies/{study}/metadata` request, four studies at a time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.orthanc import corpus, loaded_server, print_comparison  # noqa: E402


def source_for(server, page_size: int):
    from analytics.config import DicomwebSourceConfig
    from tests.orthanc import PASSWORD, USER

    os.environ["BENCH_DICOMWEB_USER"], os.environ["BENCH_DICOMWEB_PASSWORD"] = USER, PASSWORD
    return DicomwebSourceConfig(
        name="bench",
        kind="dicomweb",
        url=f"{server.url}/dicom-web",
        auth="basic",
        username_env="BENCH_DICOMWEB_USER",
        password_env="BENCH_DICOMWEB_PASSWORD",
        page_size=page_size,
    )


def naive_archive(source):
    from analytics.dicom_reader import SERIES_INSTANCE_UID, SOP_INSTANCE_UID
    from analytics.pacs.dicomweb import DicomwebArchive

    class Naive(DicomwebArchive):
        """One request per level and per instance, one at a time."""

        _one_at_a_time = threading.Lock()

        def instances(self, study_uid, series_uids):
            with self._one_at_a_time:
                found = []
                for series in self.series(study_uid):
                    series_uid = series.get(SERIES_INSTANCE_UID)
                    for instance in self._search(f"/studies/{study_uid}/series/{series_uid}/instances", None):
                        sop = instance.get(SOP_INSTANCE_UID)
                        path = f"/studies/{study_uid}/series/{series_uid}/instances/{sop}/metadata"
                        found.extend(self._search(path, None, metadata=True))
                return found

    return Naive(source)


def measure(name: str, source, archive) -> dict:
    from analytics import warehouse
    from analytics.harvest import harvest_source
    from analytics.pseudonym import Pseudonymiser

    with tempfile.TemporaryDirectory(prefix="bench-dicomweb-") as tmp:
        with warehouse.open_warehouse(Path(tmp) / "w.duckdb") as con:
            started = time.perf_counter()
            with mock.patch("analytics.pacs.harvest.open_archive", return_value=archive):
                added = harvest_source(con, source, Pseudonymiser("bench-key-" + "x" * 16)).records_added
            seconds = time.perf_counter() - started
    archive.close()
    return {"client": name, "instances": added, "seconds": round(seconds, 2), "instances_per_s": round(added / seconds)}


def main() -> None:
    from analytics.pacs.dicomweb import DicomwebArchive

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--volume-scale", type=float, default=5.2, help="about 21,500 instances at 12 months")
    parser.add_argument("--page-size", type=int, default=100, help="studies per QIDO-RS page and transaction")
    args = parser.parse_args()
    server, count = loaded_server(corpus(args.months, args.volume_scale))
    try:
        source = source_for(server, args.page_size)
        naive = measure("naive", source, naive_archive(source))
        ours = measure("sansfilm", source, DicomwebArchive(source))
    finally:
        server.stop()
    print_comparison(count, naive, ours)


if __name__ == "__main__":
    main()
