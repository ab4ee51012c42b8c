"""Instances/s harvested by C-FIND (a `dimse` source) from a local Orthanc, against pynetdicom's default sockets in
the same run, same server.

    .venv/bin/python bench/dimse.py [--months 12] [--volume-scale 5.2]

The corpus and the loaded Orthanc are bench/orthanc.py's (cached under bench/out/; the Orthanc also answers C-FIND
from the calling AE title below). Each client harvests every study into a fresh DuckDB file through the same `dimse`
source (analytics.pacs.dimse: the same questions, one per study and per series, the same records and writes); only
the association's socket differs:

* pynetdicom: as pynetdicom opens it (Nagle's algorithm on) and each question asked as soon as the last is answered;
* sansfilm:   TCP_NODELAY (send_at_once) and SETTLE seconds between a question's last answer and the next question.

Also printed: how many answers pynetdicom dropped (its association thread taking one, analytics.pacs.dimse._Dropped)
and each harvest asked again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dicomweb import measure  # noqa: E402
from bench.orthanc import corpus, loaded_server, print_comparison  # noqa: E402

CALLING_AE = "SANSFILM"


def source_for(server):
    from analytics.config import DimseSourceConfig
    from tests.orthanc import ARCHIVE_AE

    return DimseSourceConfig(
        name="bench",
        kind="dimse",
        host="127.0.0.1",
        port=server.dicom_port,
        called_ae=ARCHIVE_AE,
        calling_ae=CALLING_AE,
    )


def harvest(name: str, source) -> dict:
    from analytics.pacs.dimse import DROPPED, DimseArchive

    before = DROPPED.count
    result = measure(name, source, DimseArchive(source))
    return {**result, "answers_dropped": DROPPED.count - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--volume-scale", type=float, default=5.2, help="about 21,500 instances at 12 months")
    args = parser.parse_args()
    modality = {"DicomModalities": {"sansfilm": [CALLING_AE, "127.0.0.1", 1]}}
    server, count = loaded_server(corpus(args.months, args.volume_scale), modality)
    try:
        source = source_for(server)
        with mock.patch("analytics.pacs.dimse.send_at_once"), mock.patch("analytics.pacs.dimse.SETTLE", 0.0):
            default = harvest("pynetdicom", source)
        ours = harvest("sansfilm", source)
    finally:
        server.stop()
    print_comparison(count, default, ours)


if __name__ == "__main__":
    main()
