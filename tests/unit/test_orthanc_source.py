"""The orthanc source's configuration and the pure parts of its reader (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from analytics.config import OrthancSourceConfig, load_settings
from analytics.errors import ConfigError, MalformedRecord
from analytics.orthanc.harvest import dicom_json_values, instance_path, local_time
from tests.unit.test_config import VALID, write

ORTHANC = """
[[sources]]
name = "pacs"
kind = "orthanc"
url = "https://pacs.example.org:8042/"
username_env = "PACS_USER"
password_env = "PACS_PASSWORD"
"""


def test_orthanc_source_defaults(tmp_path):
    settings = load_settings(write(tmp_path, VALID + ORTHANC))
    source = settings.source("pacs")
    assert isinstance(source, OrthancSourceConfig)
    assert (source.url, source.verify_tls, source.page_size, source.timezone) == (
        "https://pacs.example.org:8042",
        True,
        1000,
        "UTC",
    )
    assert (source.timeout, source.retries, source.backoff) == (30.0, 5, 1.0)
    assert settings.sources[0].path == tmp_path / "dicom"  # file sources still resolved beside the config


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t + 'path = "x"\n', "unknown key 'sources[3].path'"),
        (lambda t: t + 'password = "secret"\n', "unknown key 'sources[3].password'"),
        (lambda t: t.replace('username_env = "PACS_USER"\n', ""), "missing key 'sources[3].username_env'"),
        (lambda t: t.replace("https://pacs", "https://me:pw@pacs"), "must not carry credentials"),
        (lambda t: t.replace("https://pacs", "ftp://pacs"), "http:// or https://"),
        (lambda t: t + 'timezone = "Mars/Olympus"\n', "unknown time zone"),
        (lambda t: t + "page_size = 0\n", "sources[3].page_size"),
        (lambda t: t.replace('kind = "orthanc"', 'kind = "wado"'), "unknown source kind 'wado' at 'sources[3].kind'"),
        (lambda t: t.replace('kind = "orthanc"\n', ""), "missing key 'sources[3].kind'"),
    ],
)
def test_invalid_orthanc_source_names_the_key(tmp_path, edit, message):
    path = write(tmp_path, edit(VALID + ORTHANC))
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert message in str(err.value)
    assert "me:pw" not in str(err.value) or "must not carry credentials" in str(err.value)


def test_server_times_become_aware_utc():
    assert local_time("20120325T015959", ZoneInfo("Europe/Paris")) == datetime(2012, 3, 25, 0, 59, 59, tzinfo=UTC)
    assert local_time("20120325T030000", ZoneInfo("Europe/Paris")) == datetime(2012, 3, 25, 1, 0, tzinfo=UTC)  # DST
    assert local_time("20261129T021416.250000", ZoneInfo("UTC")) == datetime(
        2026, 11, 29, 2, 14, 16, 250000, tzinfo=UTC
    )
    for bad in (None, "", "2026-11-29"):
        with pytest.raises(MalformedRecord):
            local_time(bad, ZoneInfo("UTC"))


def test_dicom_json_keeps_only_the_wanted_tags():
    item = {
        "00080005": {"vr": "CS", "Value": ["", "ISO 2022 IR 100"]},
        "00080080": {"vr": "LO", "Value": ["Hôpital Saint-Éloi"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Fournier^Océane"}]},  # PatientName: never read
        "00100030": {"vr": "DA", "Value": ["19940911"]},  # PatientBirthDate: never read
        "00081010": {"vr": "SH"},  # empty
    }
    values = dicom_json_values(item)
    assert values == {0x00080005: "\\ISO 2022 IR 100", 0x00080080: "Hôpital Saint-Éloi"}


def test_instance_path_is_an_orthanc_uri(tmp_path):
    source = load_settings(write(tmp_path, VALID + ORTHANC)).source("pacs")
    assert instance_path(source, "abc") == "orthanc:https://pacs.example.org:8042/instances/abc"
