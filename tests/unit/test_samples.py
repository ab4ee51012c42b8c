"""The sample-corpus generator: deterministic, a valid registry, readable DICOM, well-formed audit logs, quirks."""

from __future__ import annotations

import csv
import gzip
import os
import random
import re
import tomllib
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pydicom
import pytest
from defusedxml.ElementTree import fromstring

from analytics.billing.rules import month_prices
from analytics.billing.tariff import load_tariff
from analytics.errors import ContractError
from analytics.periods import Month, month_spans
from analytics.registry import COLUMNS
from analytics.samples import CorpusSummary, generate_corpus, restore_reception_times
from analytics.samples.clock import Period, parse_start
from analytics.samples.plan import day_weight
from analytics.samples.registry import build_sites, write_registry

PARIS = ZoneInfo("Europe/Paris")
ALL_EVENT_IDS = {f"1101{n:02d}" for n in range(15)}  # 110100 .. 110114
SYSLOG = re.compile(r"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) - (.*)$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
SOP_CLASS = {
    "SR": "1.2.840.10008.5.1.4.1.1.88.22",  # the tele-opinion answers
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "NM": "1.2.840.10008.5.1.4.1.1.20",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
}


# --- helpers --------------------------------------------------------------------------------------------------------


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def luhn(digits: str) -> bool:
    """Independent of the generator's implementation on purpose."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def read_registry(root: Path) -> list[dict[str, str]]:
    with (root / "contracts" / "establishments.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def log_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.splitlines()


def parse_record(line: bytes):
    """RFC 5424 header, then the AuditMessage (BOM allowed before the XML); returns (header groups, XML root)."""
    text = line.decode("utf-8")
    match = SYSLOG.match(text)
    assert match, text[:120]
    pri, timestamp, host, app, procid, msgid, msg = match.groups()
    assert 0 <= int(pri) <= 191 and RFC3339.match(timestamp) and msgid == "IHE+RFC-3881"
    assert procid.isdigit() and app.startswith("rsf-")
    root = fromstring(msg.removeprefix("\ufeff"))
    assert root.tag == "AuditMessage"
    return match.groups(), root


def code_of(element) -> str | None:
    return element.get("csd-code") or element.get("code")


def audit_records(root: Path):
    for path in files_under(root / "audit"):
        for line in log_lines(path):
            yield path, line, *parse_record(line)


def small(tmp_path: Path, name: str = "corpus") -> tuple[Path, CorpusSummary]:
    out = tmp_path / name
    return out, generate_corpus(out, establishments=4, months=2, start="2012-01", seed=7)


@pytest.fixture(scope="module")
def default_corpus(tmp_path_factory) -> tuple[Path, CorpusSummary]:
    out = tmp_path_factory.mktemp("samples") / "default"
    return out, generate_corpus(out)


# --- determinism and layout -----------------------------------------------------------------------------------------


def test_same_arguments_give_identical_bytes_and_mtimes(tmp_path):
    first, summary_1 = small(tmp_path, "a")
    second, summary_2 = small(tmp_path, "b")
    files_1, files_2 = files_under(first), files_under(second)
    assert [p.relative_to(first) for p in files_1] == [p.relative_to(second) for p in files_2]
    for a, b in zip(files_1, files_2, strict=True):
        assert a.read_bytes() == b.read_bytes(), a
        if a.relative_to(first).parts[0] in ("dicom", "audit"):
            assert a.stat().st_mtime_ns == b.stat().st_mtime_ns, a
    assert summary_1.studies == summary_2.studies and summary_1.bytes == summary_2.bytes


def test_another_seed_gives_another_corpus(tmp_path):
    out_a = tmp_path / "a"
    out_b = tmp_path / "b"
    generate_corpus(out_a, establishments=2, months=1, seed=1)
    generate_corpus(out_b, establishments=2, months=1, seed=2)
    assert (out_a / "reception_times.csv").read_bytes() != (out_b / "reception_times.csv").read_bytes()


def test_the_months_outside_the_agreement_are_those_bill_refuses(tmp_path):
    out = tmp_path / "late"
    summary = generate_corpus(out, establishments=2, months=4, start="2015-01", seed=5)
    tariff = load_tariff(out / "contracts")
    refused = []
    for month in (Month(2015, 1), Month(2015, 2), Month(2015, 3), Month(2015, 4)):
        try:
            month_prices(tariff, month)
        except ContractError:
            refused.append(month)
    assert summary.unbilled_months == tuple(refused) == (Month(2015, 4),)
    assert summary.agreement == (date(2010, 4, 1), date(2015, 3, 31))
    assert small(tmp_path)[1].unbilled_months == ()


def test_the_months_waiting_for_an_index_value_are_those_issuing_refuses(tmp_path):
    """The sample's index ends with 2012-12 (published 2013-01-29): the prices revised on 2013-04-01 need the value of
    2013-01, so issuing refuses 2013-04 on, until the value is added; the months before take the 2012 revision."""
    out = tmp_path / "pending"
    summary = generate_corpus(out, establishments=2, months=4, start="2013-02", seed=5)
    assert summary.index_pending_months == (Month(2013, 4), Month(2013, 5))
    tariff = load_tariff(out / "contracts")
    for month in (Month(2013, 2), Month(2013, 3)):
        assert month_prices(tariff, month).revision.pending is None
    for month in summary.index_pending_months:
        assert "2013-01" in month_prices(tariff, month).revision.pending
    with (out / "contracts" / "price_index.csv").open("a", encoding="utf-8") as index:
        index.write("SYNTEC,2013-01,245.0,2013-02-27\n")
    tariff = load_tariff(out / "contracts")
    assert all(month_prices(tariff, m).revision.pending is None for m in summary.index_pending_months)
    assert small(tmp_path)[1].index_pending_months == ()


@pytest.mark.parametrize(
    ("months", "text"),
    [
        ([Month(2015, 4)], "2015-04"),
        ([Month(2010, 2), Month(2010, 3), Month(2015, 4), Month(2015, 5)], "2010-02 to 2010-03, 2015-04 to 2015-05"),
        ([Month(2014, 12), Month(2015, 1), Month(2015, 3)], "2014-12 to 2015-01, 2015-03"),
        ([Month(2015, 3), Month(2015, 1), Month(2015, 2), Month(2015, 1)], "2015-01 to 2015-03"),
    ],
)
def test_month_spans_reads_runs_of_months(months, text):
    assert month_spans(months) == text


def test_refuses_to_mix_corpora(tmp_path):
    out, _ = small(tmp_path)
    with pytest.raises(ValueError, match="already contains files"):
        generate_corpus(out, establishments=4, months=2, seed=7)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"establishments": 0},
        {"months": 0},
        {"start": "2012-13"},
        {"start": "2012"},
        {"volume_scale": 0.0},
        {"image_side": 0},
    ],
)
def test_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate_corpus(tmp_path / "out", **kwargs)


def test_summary_counts_match_the_files(tmp_path):
    out, summary = small(tmp_path)
    dicom = files_under(out / "dicom")
    audit = files_under(out / "audit")
    assert summary.dicom_files == len(dicom) > 0
    assert summary.studies == len({p.parent for p in dicom})
    assert summary.audit_files == len(audit)
    assert summary.audit_events == sum(len(log_lines(p)) for p in audit)
    assert summary.bytes == sum(p.stat().st_size for p in files_under(out))
    assert summary.establishments == len(read_registry(out)) == 4


def test_config_file(tmp_path):
    out, _ = small(tmp_path)
    text = (out / "sansfilm.toml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        "# Sample corpus written by `sansfilm samples` (seed 7, 4 establishments, 2 months from 2012-01)."
    )
    config = tomllib.loads(text)
    assert config["warehouse"] == {"path": "warehouse/sansfilm.duckdb"}
    assert config["ledger"] == {"url": "sqlite:///ledger.sqlite"}
    assert config["archive"] == {"ae_titles": ["RSF_ARCHIVE"]}
    assert config["privacy"] == {"allow_development_key": True}
    assert config["sources"] == [
        {"name": "archive-files", "kind": "dicom_files", "path": "dicom"},
        {"name": "audit", "kind": "audit_syslog", "path": "audit"},
    ]


# --- registry -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [12, 30])
def test_registry_rows_are_valid(tmp_path, count):
    period = Period(parse_start("2012-01"), 12)
    write_registry(tmp_path / "contracts" / "establishments.csv", build_sites(count, period, random.Random(1)))
    with (tmp_path / "contracts" / "establishments.csv").open(encoding="utf-8", newline="") as handle:
        assert next(csv.reader(handle)) == list(COLUMNS)
    rows = read_registry(tmp_path)
    assert len(rows) == count
    ae_titles = [t for r in rows for t in r["ae_titles"].split(";") if t]
    assert len(ae_titles) == len(set(ae_titles))
    assert len({r["establishment_id"] for r in rows}) == len({r["siret"] for r in rows}) == count
    for row in rows:
        assert re.fullmatch(r"\d{9}", row["establishment_id"]) and luhn(row["establishment_id"])
        assert row["establishment_id"].startswith(row["departement"] + "0")
        assert re.fullmatch(r"\d{14}", row["siret"]) and luhn(row["siret"]) and luhn(row["siret"][:9])
        assert row["departement"] in {"75", "77", "78", "91", "92", "93", "94", "95"}
        assert row["sector"] == ("public" if row["category"] in {"CHU", "CH", "CDS"} else "private")
        assert row["offer"] in {"PACS_RIS", "PACS", "VNA"}
        assert all(re.fullmatch(r"[A-Z0-9_]{1,16}", t) for t in row["ae_titles"].split(";") if t)
        assert row["institution_names"]
        adhesion, planned = date.fromisoformat(row["adhesion_date"]), date.fromisoformat(row["planned_go_live"])
        assert adhesion <= planned
        if row["actual_go_live"]:
            assert date.fromisoformat(row["actual_go_live"]) >= adhesion
        if row["end_date"]:
            assert date.fromisoformat(row["end_date"]) > date.fromisoformat(row["actual_go_live"])


def test_default_registry_covers_the_roll_out(default_corpus):
    out, _ = default_corpus
    rows = read_registry(out)
    start, end = date(2012, 1, 1), date(2013, 1, 1)
    assert {r["departement"] for r in rows} == {"75", "77", "78", "91", "92", "93", "94", "95"}
    assert {r["offer"] for r in rows} == {"PACS_RIS", "PACS", "VNA"}
    assert {"CHU", "CH", "CLCC", "ESPIC", "CLINIQUE"} <= {r["category"] for r in rows}
    live = [date.fromisoformat(r["actual_go_live"]) for r in rows if r["actual_go_live"]]
    assert any(d < start for d in live) and sum(start <= d < end for d in live) >= 4
    assert any(
        date.fromisoformat(r["actual_go_live"]) > date.fromisoformat(r["planned_go_live"]) + (end - start) / 12
        for r in rows
        if r["actual_go_live"]
    )
    assert 1 <= sum(not r["actual_go_live"] for r in rows) <= 2
    assert sum(bool(r["end_date"]) for r in rows) == 1
    assert 1 <= sum(not r["ae_titles"] for r in rows) <= 2
    assert any(any(ord(ch) > 127 for ch in r["name"]) for r in rows)


def test_registry_loads_with_the_contract_reader(default_corpus):
    registry = pytest.importorskip("analytics.registry")
    loaded = registry.load_registry(default_corpus[0] / "contracts")
    assert len(loaded.establishments) == 12


# --- DICOM ----------------------------------------------------------------------------------------------------------


def test_every_dicom_file_is_readable_and_consistent(tmp_path):
    out, _ = small(tmp_path)
    registry = {r["establishment_id"]: r for r in read_registry(out)}
    with (out / "contracts" / "opinion_pairs.csv").open(encoding="utf-8", newline="") as handle:
        responders = {r["requester"]: r["responder"] for r in csv.DictReader(handle)}
    charsets = Counter()
    for path in files_under(out / "dicom"):
        ds = pydicom.dcmread(path)
        assert ds.preamble is not None and ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID == SOP_CLASS[ds.Modality]
        assert ds.SOPInstanceUID.startswith("1.2.250.1.999.") and ds.StudyInstanceUID.startswith("1.2.250.1.999.")
        assert ds.SeriesInstanceUID.startswith(ds.StudyInstanceUID + ".")
        assert len(ds.PixelData) >= ds.Rows * ds.Columns == 64
        folder = path.relative_to(out / "dicom").parts
        assert folder[1] == ds.StudyDate
        charsets[ds.get("SpecificCharacterSet")] += 1
        if folder[0] in registry:
            row = registry[folder[0]]
            assert row["actual_go_live"] and ds.StudyDate >= row["actual_go_live"].replace("-", "")
            ae = ds.file_meta.get("SourceApplicationEntityTitle")
            if ds.Modality == "SR":  # an answer, sent into the requester's study by the responder
                row = registry[responders[folder[0]]]
            assert ae is None or ae.strip() in row["ae_titles"].split(";")
    assert charsets["ISO_IR 100"] > 0


def test_latin1_names_decode_to_accented_text(default_corpus):
    out, _ = default_corpus
    accented = 0
    for path in files_under(out / "dicom")[::7]:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        raw = bytes(ds.get_item("PatientName").value).rstrip(b" ")  # before pydicom decodes it
        name = str(ds.PatientName)
        charset = ds.get("SpecificCharacterSet")
        if charset is None:
            assert name.isascii()
        elif charset == "ISO_IR 100" and not name.isascii():
            assert raw == name.encode("latin-1")  # Latin-1 bytes on disk, accented text once decoded
            accented += 1
        elif charset == "ISO_IR 192":
            assert raw == name.encode("utf-8")
    assert accented > 10


def test_mtimes_are_reception_times(tmp_path):
    out, _ = small(tmp_path)
    with (out / "reception_times.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == sorted(r["path"] for r in rows)
    assert {r["path"] for r in rows} == {p.relative_to(out).as_posix() for p in files_under(out / "dicom")}
    for row in rows[::5]:
        path = out / row["path"]
        assert path.stat().st_mtime_ns == int(row["mtime_ns"])
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        received = datetime.fromtimestamp(int(row["mtime_ns"]) / 1e9, tz=PARIS)
        study_time = ds.StudyTime.split(".")[0].ljust(6, "0")
        started = datetime.strptime(ds.StudyDate + study_time, "%Y%m%d%H%M%S").replace(tzinfo=PARIS)
        # images within a day of the exam; a tele-opinion's SR answer (analytics/samples/opinions.py) comes later
        assert 0 < (received - started).total_seconds() < (24 * 3600 if ds.Modality != "SR" else 365 * 86400)


def test_restore_reception_times_round_trip(tmp_path):
    out, summary = small(tmp_path)
    dicom = files_under(out / "dicom")
    expected = {p: p.stat().st_mtime_ns for p in dicom}
    for path in dicom:
        os.utime(path, ns=(10**18, 10**18))
    assert restore_reception_times(out) == summary.dicom_files
    assert {p: p.stat().st_mtime_ns for p in dicom} == expected
    dicom[0].unlink()
    assert restore_reception_times(out) == summary.dicom_files - 1


def test_default_corpus_size(default_corpus):
    out, summary = default_corpus
    assert 300 <= summary.studies <= 600
    assert 2000 <= summary.dicom_files <= 5000
    assert summary.bytes <= 6 * 1024 * 1024


def test_vendor_quirks_are_present(default_corpus):
    out, _ = default_corpus
    registry = read_registry(out)
    aliases = {n for r in registry for n in r["institution_names"].split(";")}
    registered_aes = {t for r in registry for t in r["ae_titles"].split(";") if t}
    seen = Counter()
    studies = set()
    for path in files_under(out / "dicom"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        institution = ds.get_item("InstitutionName").value
        seen["variant"] += institution.rstrip(b" ") == b"CHI  DE CRETEIL"
        seen["nul"] += ds.get_item("StationName").value.endswith(b"\x00")
        seen["trailing spaces"] += ds.get_item("Manufacturer").value.endswith(b"   ")
        seen["hhmm"] += len(ds.StudyTime) == 4
        seen["fraction"] += "." in ds.StudyTime
        seen["implicit"] += ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
        seen["no charset"] += "SpecificCharacterSet" not in ds
        seen["utf8"] += ds.get("SpecificCharacterSet") == "ISO_IR 192"
        seen["no meta ae"] += "SourceApplicationEntityTitle" not in ds.file_meta
        seen[".dcm"] += path.suffix == ".dcm"
        seen["no extension"] += path.suffix == ""
        if path.relative_to(out / "dicom").parts[0] == "unrouted":
            assert str(ds.InstitutionName) not in aliases
            assert ds.file_meta.SourceApplicationEntityTitle.strip() not in registered_aes
            seen["unregistered"] += 1
        studies.add((path.parts[-4], ds.PatientID, ds.StudyInstanceUID))
    for quirk in (
        "variant",
        "nul",
        "trailing spaces",
        "hhmm",
        "fraction",
        "implicit",
        "no charset",
        "utf8",
        "no meta ae",
        ".dcm",
        "unregistered",
    ):
        assert seen[quirk] > 0, quirk
    assert seen["no extension"] > seen[".dcm"]
    studies_per_patient = Counter((site, patient) for site, patient, _ in studies)
    assert max(studies_per_patient.values()) >= 2


def test_no_images_outside_live_dates(default_corpus):
    out, _ = default_corpus
    for row in read_registry(out):
        folder = out / "dicom" / row["establishment_id"]
        if not row["actual_go_live"]:
            assert not folder.exists()
            continue
        days = sorted(p.name for p in folder.iterdir())
        assert days[0] >= row["actual_go_live"].replace("-", "")
        if row["end_date"]:
            assert days[-1] <= row["end_date"].replace("-", "")


def test_weekends_and_summer_are_quieter():
    assert day_weight(date(2012, 3, 5)) == 1.0  # a Monday
    assert day_weight(date(2012, 3, 10)) < 0.5 and day_weight(date(2012, 3, 11)) < day_weight(date(2012, 3, 10))
    assert day_weight(date(2012, 7, 9)) == pytest.approx(0.7)
    assert day_weight(date(2012, 12, 25)) < 0.5


# --- audit logs -----------------------------------------------------------------------------------------------------


def test_every_audit_line_is_rfc5424_with_an_audit_message(tmp_path):
    out, _ = small(tmp_path)
    period_start = datetime(2012, 1, 1, tzinfo=PARIS)
    period_end = datetime(2012, 3, 1, tzinfo=PARIS)
    names = set()
    for path, _, header, root in audit_records(out):
        names.add(path.name)
        assert path.parent.parent == out / "audit"
        assert datetime.fromisoformat(header[1]) >= period_start and datetime.fromisoformat(header[1]) < period_end
        event = root.find("EventIdentification")
        assert event.get("EventActionCode") in set("CRUDE")
        assert event.get("EventOutcomeIndicator") in {"0", "4", "8", "12"}
        moment = datetime.fromisoformat(event.get("EventDateTime"))
        assert period_start <= moment < period_end
        if not event.get("EventDateTime").endswith("Z"):  # an offset: the right one for Paris at that date
            assert moment.utcoffset() == moment.astimezone(PARIS).utcoffset()
        assert code_of(event.find("EventID")) in ALL_EVENT_IDS
        assert root.findall("ActiveParticipant") and root.find("AuditSourceIdentification").get("AuditSourceID")
        for obj in root.findall("ParticipantObjectIdentification"):
            if code_of(obj.find("ParticipantObjectIDTypeCode")) == "110180":
                assert re.fullmatch(r"[0-9.]+", obj.get("ParticipantObjectID"))
    assert {"2012-01.log.gz", "archive.log.1", "archive.log"} <= names


def test_default_corpus_audit_covers_every_event(default_corpus):
    out, _ = default_corpus
    event_ids, outcomes, styles, zones = set(), Counter(), Counter(), Counter()
    multi_study, boms, receipts, ae_styles = 0, 0, set(), Counter()
    for _, _, header, root in audit_records(out):
        event = root.find("EventIdentification")
        event_id = code_of(event.find("EventID"))
        event_ids.add(event_id)
        outcomes[event.get("EventOutcomeIndicator")] += 1
        styles["dicom" if event.find("EventID").get("csd-code") else "rfc3881"] += 1
        zones["Z" if event.get("EventDateTime").endswith("Z") else "offset"] += 1
        boms += header[6].startswith("\ufeff")
        studies = [
            o
            for o in root.findall("ParticipantObjectIdentification")
            if code_of(o.find("ParticipantObjectIDTypeCode")) == "110180"
        ]
        multi_study += len(studies) >= 2
        if event_id in ("110112", "110114"):
            assert not studies
        for participant in root.findall("ActiveParticipant"):
            alternative = participant.get("AlternativeUserID") or ""
            ae_styles["alternative" if alternative.startswith("AE=") else "user"] += 1
        if event_id == "110104" and event.get("EventActionCode") == "C" and event.get("EventOutcomeIndicator") == "0":
            receipts.update(o.get("ParticipantObjectID") for o in studies)
    assert event_ids == ALL_EVENT_IDS
    assert {"4", "8", "12"} <= set(outcomes)
    assert 0.2 < styles["rfc3881"] / sum(styles.values()) < 0.45
    assert zones["Z"] and zones["offset"] and boms and multi_study and ae_styles["alternative"]
    archived = {path.parent for path in files_under(out / "dicom")}
    uids = {
        pydicom.dcmread(next(p for p in folder.iterdir()), stop_before_pixels=True).StudyInstanceUID
        for folder in archived
    }
    assert uids <= receipts  # every archived study has its receipt
    assert receipts - uids  # and a few studies exist only in the audit log


def test_audit_files_layout(default_corpus):
    out, _ = default_corpus
    names = {p.relative_to(out / "audit").as_posix() for p in files_under(out / "audit")}
    assert "rsf-archive-01/2012-01.log.gz" in names and "rsf-archive-01/archive.log.1" in names
    assert "rsf-archive-02/2012-11.log" in names and "rsf-viewer-01/viewer.log" in names
    assert not any(n.startswith("rsf-ris-01/") and n.endswith(".gz") for n in names)
    for name in names:
        if name.endswith(".gz"):
            assert (out / "audit" / name).read_bytes()[:2] == b"\x1f\x8b"
