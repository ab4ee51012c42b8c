"""The `sansfilm` command as a user types it: the installed script in a subprocess, on the programme's clock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SANSFILM = str(Path(sys.executable).with_name("sansfilm"))


def sansfilm(*args: str, config: Path | None = None, now: str | None = None) -> subprocess.CompletedProcess:
    """Run `sansfilm [--config CONFIG] ARGS...` (SANSFILM_NOW=`now` when given); whatever its exit, it never shows a
    traceback."""
    result = subprocess.run(
        [SANSFILM, *(["--config", str(config)] if config else []), *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **({"SANSFILM_NOW": now} if now else {})},
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def generated_corpus(folder: Path, *, seed: int, months: int, establishments: int, start: str) -> Path:
    """`sansfilm samples` into `folder`, as a user makes a corpus of their own (a shape no other test uses); its
    configuration file."""
    shape = {"seed": seed, "months": months, "establishments": establishments, "start": start}
    made = sansfilm("samples", "--out", str(folder), *(f"--{name}={value}" for name, value in shape.items()))
    assert made.returncode == 0, made.stderr
    return folder / "sansfilm.toml"
