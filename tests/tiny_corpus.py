"""A tiny corpus built by hand, whose every record a test can reason about."""

from __future__ import annotations

from pathlib import Path

from analytics import warehouse
from analytics.config import Settings, load_settings
from analytics.samples.tariff import write_tariff
from tests import audit_factory as af
from tests.dicom_factory import make_dicom

REGISTRY = """establishment_id,name,siret,departement,category,sector,offer,adhesion_date,planned_go_live,actual_go_live,end_date,ae_titles,institution_names
750000015,Hôpital Européen Georges-Pompidou,26750001500016,75,CHU,public,PACS_RIS,2010-05-01,2010-09-01,2010-10-01,,HEGP_CT;HEGP_MR,Hôpital Européen Georges-Pompidou;HEGP
940000027,CHI de Créteil,26940002700018,94,CHI,public,VNA,2010-06-01,2011-01-01,2011-01-15,,,CHI de Créteil
"""
CONFIG = """
[warehouse]
path = "warehouse/sansfilm.duckdb"
[contracts]
dir = "contracts"
[archive]
ae_titles = ["RSF_ARCHIVE"]
[privacy]
allow_development_key = true
[harvest]
workers = 1
[[sources]]
name = "archive-files"
kind = "dicom_files"
path = "dicom"
[[sources]]
name = "audit"
kind = "audit_syslog"
path = "audit"
"""


def event_line(study_uid: str, when: str, source_ae: str = "HEGP_CT") -> bytes:
    participants = af.participant("110153", source_ae) + af.participant("110152", "archive", "AE=RSF_ARCHIVE")
    xml = af.audit_xml(
        when=when, participants=participants, objects=af.study(study_uid, [(af.CT_IMAGE, "2")]) + af.patient()
    )
    return af.syslog(xml)


def make_tiny_corpus(tmp_path: Path) -> Settings:
    """Two establishments, four DICOM files (one per attribution path), one audit log of five events."""
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "establishments.csv").write_text(REGISTRY, encoding="utf-8")
    write_tariff(tmp_path / "contracts")
    (tmp_path / "sansfilm.toml").write_text(CONFIG, encoding="utf-8")
    dicom = tmp_path / "dicom"
    make_dicom(dicom / "a" / "IM1", sop_uid="1.2.250.1.999.2.1", ae_title="HEGP_CT")
    make_dicom(
        dicom / "b" / "IM2",
        sop_uid="1.2.250.1.999.2.2",
        study_uid="1.2.250.1.999.7",
        ae_title=None,
        institution="chi  DE CRETEIL ",
    )
    make_dicom(
        dicom / "c" / "IM3.dcm",
        sop_uid="1.2.250.1.999.2.3",
        study_uid="1.2.250.1.999.8",
        ae_title="OTHER_AE",
        institution="Clinique Inconnue",
    )
    make_dicom(dicom / "a" / "IM4", sop_uid="1.2.250.1.999.2.4", ae_title="hegp_mr", institution="CHI de Créteil")
    audit = tmp_path / "audit"
    audit.mkdir()
    lines = [event_line(f"1.2.250.1.999.{i}", f"2012-03-0{i}T10:00:00+01:00") for i in range(1, 6)]
    (audit / "archive.log").write_bytes(b"".join(lines))
    return load_settings(tmp_path / "sansfilm.toml")


def with_ledger(settings: Settings, url: str) -> Settings:
    """The same corpus with its ledger at `url` (a PostgreSQL database of tests/postgres.py), through a config of
    its own beside the first."""
    config = settings.config_path.parent / "pg.toml"
    config.write_text(CONFIG.replace("[contracts]", f'[ledger]\nurl = "{url}"\n[contracts]'), encoding="utf-8")
    return load_settings(config)


def query(settings: Settings, sql: str, params=None) -> list[tuple]:
    """Rows of a query on the corpus's warehouse, opened read-only and closed after."""
    con = warehouse.connect(settings.warehouse.path, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
