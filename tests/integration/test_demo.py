"""What a newcomer runs: `sansfilm demo` on a machine without the sample, and `dagster` loading the code location."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import REPO

DEMO_CONFIG = """
[warehouse]
path = "data/warehouse/sansfilm.duckdb"
[contracts]
dir = "data/samples/contracts"
[billing]
out_dir = "data/invoices"
[archive]
ae_titles = ["RSF_ARCHIVE"]
[privacy]
allow_development_key = true
[[sources]]
name = "archive-files"
kind = "dicom_files"
path = "data/samples/dicom"
[[sources]]
name = "audit"
kind = "audit_syslog"
path = "data/samples/audit"
"""


def test_demo_makes_the_sample_when_missing_and_drafts_invoices(tmp_path):
    config = tmp_path / "sansfilm.toml"
    config.write_text(DEMO_CONFIG, encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "making the sample corpus" in result.output
    assert "studies                                       479" in result.output
    assert "draft invoices: 99 for 12 months" in result.output
    assert (tmp_path / "data" / "invoices" / "drafts" / "2012-03" / "invoice_lines.csv").exists()
    assert (tmp_path / "data" / "warehouse" / "sansfilm.published.duckdb").exists()
    again = CliRunner().invoke(app, ["--config", str(config), "demo", "--no-serve"])
    assert again.exit_code == 0 and "making the sample corpus" not in again.output


def test_dagster_loads_the_code_location_at_the_repo_root(tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    env.pop("SANSFILM_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation successful for code location sansfilm" in done.stderr + done.stdout
