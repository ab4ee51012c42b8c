from pathlib import Path

import pytest

from analytics.config import load_settings
from analytics.errors import ConfigError

VALID = """
[warehouse]
path = "wh/sansfilm.duckdb"
[ledger]
url = "sqlite:///ledger.sqlite"
[contracts]
dir = "contracts"
[archive]
ae_titles = [" rsf_archive "]
[[sources]]
name = "archive-files"
kind = "dicom_files"
path = "dicom"
[[sources]]
name = "audit"
kind = "audit_syslog"
path = "/var/log/audit"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sansfilm.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    settings = load_settings(write(tmp_path, VALID))
    assert settings.warehouse.path == tmp_path / "wh" / "sansfilm.duckdb"
    assert settings.published_path == tmp_path / "wh" / "sansfilm.published.duckdb"
    assert settings.contracts.dir == tmp_path / "contracts"
    assert settings.ledger.url == f"sqlite:///{tmp_path}/ledger.sqlite"
    assert settings.sources[0].path == tmp_path / "dicom"
    assert settings.sources[1].path == Path("/var/log/audit")
    assert settings.archive.ae_titles == ["RSF_ARCHIVE"]
    assert settings.source("audit").kind == "audit_syslog"
    assert settings.sources[0].asset_name == "archive_files"


def test_environment_variable_names_the_config(tmp_path, monkeypatch):
    monkeypatch.setenv("SANSFILM_CONFIG", str(write(tmp_path, VALID)))
    assert load_settings().config_path == tmp_path / "sansfilm.toml"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("[ledger]", "[ledger]\ncolour = 'blue'"), "unknown key 'ledger.colour'"),
        (lambda t: t + "\n[invoicing]\nx = 1\n", "unknown key 'invoicing'"),
        (
            lambda t: t.replace('kind = "audit_syslog"', 'kind = "ftp"'),
            "unknown source kind 'ftp' at 'sources[2].kind'",
        ),
        (
            lambda t: t.replace('path = "dicom"', 'path = "dicom"\nrecursive = true'),
            "unknown key 'sources[1].recursive'",
        ),
        (
            lambda t: t.replace('[warehouse]\npath = "wh/sansfilm.duckdb"', "[warehouse]"),
            "missing key 'warehouse.path'",
        ),
        (lambda t: t.replace('name = "audit"', 'name = "archive-files"'), "name 'archive-files' is used twice"),
        (lambda t: t.replace('name = "audit"', 'name = "bad name!"'), "sources[2].name"),
        (lambda t: t.replace("[archive]", "[archive"), "not valid TOML"),
    ],
)
def test_invalid_config_names_the_key(tmp_path, edit, message):
    path = write(tmp_path, edit(VALID))
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_config_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError, match="--config PATH or set SANSFILM_CONFIG"):
        load_settings(tmp_path / "nope.toml")


def test_unknown_source_name(tmp_path):
    settings = load_settings(write(tmp_path, VALID))
    with pytest.raises(ConfigError, match="no source named 'pacs'"):
        settings.source("pacs")
