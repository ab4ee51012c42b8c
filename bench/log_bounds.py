"""Peak memory of `sansfilm harvest` on a gzip bomb, with the audit-log bounds and without them (the baseline).

    .venv/bin/python bench/log_bounds.py [--mebibytes 1200] [--no-baseline]

Writes a log of one line of N MiB, gzip-compressed ~1,000:1 (1200 MiB -> ~1.2 MB), into a fresh configuration, then
runs `sansfilm harvest` in a child process and reads the child's peak resident memory (ru_maxrss):

* bounded:   the defaults (max_log_line_bytes 1 MiB, max_log_decompressed_bytes 1 GiB): the file is quarantined;
* baseline:  both bounds raised to 4 GiB, so the line is read whole and parsed, as the reader did before the bounds
             (v0.1.0 read every line whole). Needs several GB of free memory: --no-baseline skips it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
MEASURED = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
                  "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""
CONFIG = """[warehouse]
path = "warehouse/sansfilm.duckdb"
[contracts]
dir = "{contracts}"
[archive]
ae_titles = ["RSF_ARCHIVE"]
[privacy]
allow_development_key = true
[harvest]
{bounds}
[[sources]]
name = "audit"
kind = "audit_syslog"
path = "audit"
"""


def run(root: Path, mebibytes: int, bounds: str) -> dict[str, object]:
    from tests.audit_factory import write_gzip_bomb

    (root / "audit").mkdir(parents=True)
    write_gzip_bomb(root / "audit" / "bomb.log.gz", mebibytes)
    (root / "sansfilm.toml").write_text(CONFIG.format(contracts=REPO / "contracts", bounds=bounds), encoding="utf-8")
    command = [
        str(Path(sys.executable).with_name("sansfilm")),
        "--config",
        str(root / "sansfilm.toml"),
        "harvest",
        "--format",
        "json",
    ]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURED, *command], capture_output=True, text=True, check=True)
    measured = json.loads(done.stdout)
    if measured["code"] != 0:
        raise SystemExit(measured["stderr"])
    (report,) = json.loads(measured["stdout"])["sources"]
    return {
        "compressed_bytes": (root / "audit" / "bomb.log.gz").stat().st_size,
        "peak_mib": round(measured["peak_mib"]),
        "seconds": round(time.perf_counter() - started, 1),
        "files_quarantined": report["files_quarantined"],
        "records_quarantined": report["quarantined"] - report["files_quarantined"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mebibytes", type=int, default=1200)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {"bounded": run(Path(tmp) / "bounded", args.mebibytes, "")}
        if not args.no_baseline:
            unbounded = f"max_log_line_bytes = {4 << 30}\nmax_log_decompressed_bytes = {4 << 30}"
            results["baseline"] = run(Path(tmp) / "baseline", args.mebibytes, unbounded)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
