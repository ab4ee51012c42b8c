"""The pure parts of the dicomweb and dimse sources: configuration, windows, estimates, DICOM JSON, times."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from analytics.config import load_settings
from analytics.errors import ConfigError, MalformedRecord
from analytics.pacs import tags
from analytics.pacs.harvest import date_time, windows
from analytics.pacs.sizes import HEADER_BYTES, TYPICAL_BYTES, estimated_size

HEAD = '[warehouse]\npath = "w.duckdb"\n[contracts]\ndir = "c"\n[archive]\nae_titles = ["A"]\n[[sources]]\nname = "p"\n'
WEB = 'kind = "dicomweb"\nurl = "https://pacs.example.org/dicom-web/"\n'
DIMSE = 'kind = "dimse"\nhost = "pacs"\nport = 104\ncalled_ae = "PACS"\ncalling_ae = "SANSFILM"\n'


def load(tmp_path, body: str):
    (tmp_path / "s.toml").write_text(HEAD + body, encoding="utf-8")
    return load_settings(tmp_path / "s.toml")


def test_defaults_and_normalised_keys(tmp_path):
    web = load(tmp_path, WEB + 'sender_ae_tag = "(0077,1052)"\n').source("p")
    assert (web.url, web.auth, web.window_days, web.overlap_days, web.timezone, web.sender_ae_tag) == (
        "https://pacs.example.org/dicom-web",
        "none",
        7,
        3,
        "Europe/Paris",
        "00771052",
    )
    find = load(tmp_path, DIMSE).source("p")
    assert (find.max_pdu, find.timeout, find.size_tag) == (16382, 30.0, None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (WEB + 'auth = "basic"\nusername_env = "U"\n', 'auth = "basic" needs password_env'),
        (WEB + 'auth = "bearer"\n', 'auth = "bearer" needs token_env'),
        (WEB + 'auth = "kerberos"\n', "sources[1].auth"),
        (WEB.replace("https://", "https://me:secret@"), "must not carry credentials"),
        (WEB + 'sender_ae_tag = "SendingAE"\n', "is not a DICOM tag"),
        (WEB + 'sender_ae_tag = "(0010,0020)"\n', "is a patient's attribute (group 0010): sansfilm never stores one"),
        (DIMSE + 'size_tag = "00101040"\n', "is a patient's attribute (group 0010)"),
        (WEB + 'sender_ae_tag = "(0008,0090)"\n', "is a person's name (VR PN): sansfilm never stores one"),
        (WEB + 'received_tag = "00080050"\n', "is the accession number: sansfilm never stores one"),
        (WEB + 'timezone = "Paris"\n', "unknown time zone"),
        (DIMSE.replace("port = 104", "port = 0"), "sources[1].port"),
        (DIMSE.replace('calling_ae = "SANSFILM"', 'calling_ae = "A_CALLING_AE_TOO_LONG"'), "sources[1].calling_ae"),
        (DIMSE + 'url = "http://x"\n', "unknown key 'sources[1].url'"),
        ('kind = "dimse"\nhost = "pacs"\n', "missing key 'sources[1].port'"),
    ],
)
def test_invalid_keys_are_named(tmp_path, body, message):
    with pytest.raises(ConfigError, match="s.toml") as err:
        load(tmp_path, body)
    assert message in str(err.value)


def test_first_harvest_asks_for_every_study():
    assert windows(None, date(2026, 12, 4), 7, 3) == [(None, None)]


def test_windows_start_overlap_days_back_and_end_open():
    assert windows(date(2026, 12, 4), date(2026, 12, 4), 7, 3) == [(date(2026, 12, 1), None)]
    assert windows(date(2026, 11, 1), date(2026, 11, 20), 7, 2) == [
        (date(2026, 10, 31), date(2026, 11, 6)),
        (date(2026, 11, 7), date(2026, 11, 13)),
        (date(2026, 11, 14), None),
    ]
    assert windows(date(2026, 11, 1), date(2026, 11, 20), 7, 0)[0][0] == date(2026, 11, 2)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("CT", 512, 512, 16, None, None), HEADER_BYTES + 512 * 512 * 2),
        (("US", 480, 640, 8, 30, 3), HEADER_BYTES + 480 * 640 * 30 * 3),
        (("MR", 8, 8, 12, 1, 1), HEADER_BYTES + 64 * 2),  # 12 bits stored in 2 bytes
        (("MG", None, None, None, None, None), TYPICAL_BYTES["MG"]),
        ((None, None, None, None, None, None), 1_000_000),
    ],
)
def test_estimated_size(args, expected):
    assert estimated_size(*args) == expected


def test_dicom_json_keeps_the_wanted_tags_never_a_name():
    item = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
        "00100020": {"vr": "LO", "Value": ["ID1"]},
        "00080060": {"vr": "CS", "Value": ["CT"]},
        "00280010": {"vr": "US", "Value": [512]},
        "00080005": {"vr": "CS", "Value": ["ISO_IR 100", "ISO 2022 IR 6"]},
        "00081030": {"vr": "LO", "Value": ["x"]},
        "00771052": {"vr": "LO", "Value": ["MODALITY_AE"]},
        "00771053": {"vr": "UN", "InlineBinary": "U0VOREVSX0FFIA=="},
    }
    wanted = tags.wanted_tags("00771052", "00100010", "00771053")
    assert tags.from_dicom_json(item, wanted) == {
        0x00100020: "ID1",
        0x00080060: "CT",
        0x00280010: "512",
        0x00080005: "ISO_IR 100\\ISO 2022 IR 6",
        0x00771052: "MODALITY_AE",
        0x00771053: "SENDER_AE",
    }
    with pytest.raises(MalformedRecord):
        tags.from_dicom_json(["not", "an", "object"], wanted)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20121231235959", datetime(2012, 12, 31, 22, 59, 59, tzinfo=UTC)),  # Paris winter time
        ("20120701120000.5", datetime(2012, 7, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("20120701120000+0000", datetime(2012, 7, 1, 12, 0, tzinfo=UTC)),
        ("20120701120000-0130", datetime(2012, 7, 1, 13, 30, tzinfo=UTC)),
        ("20120701", datetime(2012, 6, 30, 22, 0, tzinfo=UTC)),
        ("not a time", None),
        (None, None),
    ],
)
def test_reception_time_attribute(text, expected):
    assert date_time(text, ZoneInfo("Europe/Paris")) == expected


def test_migration_brings_a_v010_raw_table_to_the_flags(tmp_path):
    import duckdb

    from analytics.warehouse import SQL_DIR

    old_schema = (SQL_DIR / "raw" / "migrations" / "0001_v0_1_0.sql").read_text(encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(old_schema)
    con.execute("""insert into raw.dicom_instances (record_key, source, study_instance_uid, series_instance_uid,
                   sop_instance_uid, size_bytes, received_at, path, harvest_id)
                   values ('k', 's', '1', '1.1', '1.1.1', 10, now(), 'p', 'h')""")
    con.execute((SQL_DIR / "raw" / "migrations" / "0002_pacs_estimated_flags.sql").read_text(encoding="utf-8"))
    assert con.execute("select size_estimated, received_at_estimated from raw.dicom_instances").fetchall() == [
        (False, False)
    ]
