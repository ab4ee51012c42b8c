"""A warehouse built from hand-written raw rows, to test the SQL models and metering on figures computed by hand."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

import polars as pl

from analytics import raw_batches, warehouse
from analytics.pseudonym import Pseudonymiser, participant_key
from analytics.registry import ae_title_key, institution_key, load_registry

REGISTRY = """establishment_id,name,siret,departement,category,sector,offer,adhesion_date,planned_go_live,actual_go_live,end_date,ae_titles,institution_names
750000015,Hôpital A,26750001500016,75,CHU,public,PACS_RIS,2010-05-01,2010-09-01,2010-10-01,,A_CT;A_MR,Hôpital A
940000027,Clinique B,26940002700018,94,CLINIQUE,private,PACS,2010-06-01,2011-01-01,2011-01-15,,B_CT,Clinique B
"""
A, B = "750000015", "940000027"
KEY = Pseudonymiser("warehouse-factory-key")


def store(con, table: str, frame: pl.DataFrame) -> None:
    """Append `frame`'s rows to raw.`table` with the columns the harvest derives as it stores (analytics.raw_batches)."""
    con.register("rows", frame)
    con.execute(f"insert into raw.{table} by name select *{raw_batches.derived_columns(table)} from rows")
    con.unregister("rows")


class RawWarehouse:
    """Collects raw rows, then loads them with the registry and builds every model."""

    def __init__(self, root: Path, portal: tuple[str, ...] = ("PORTAIL_VILLE",)) -> None:
        self.root, self.portal = root, portal
        self.instances: list[dict] = []
        self.events: list[dict] = []
        (root / "contracts").mkdir(parents=True, exist_ok=True)
        (root / "contracts" / "establishments.csv").write_text(REGISTRY, encoding="utf-8")
        self.path = root / "w.duckdb"

    def instance(
        self,
        sop: str,
        study: str,
        received_at: str,
        size: int,
        ae: str | None = "A_CT",
        institution: str | None = None,
        study_date: str | None = None,
        study_time: str | None = None,
        modality: str = "CT",
    ) -> None:
        self.instances.append(
            {
                "study_date": date.fromisoformat(study_date) if study_date else None,
                "study_time": study_time,
                "record_key": hashlib.sha256(f"{sop}|{study}|{size}".encode()).hexdigest(),
                "source": "files",
                "study_instance_uid": study,
                "series_instance_uid": f"{study}.1",
                "sop_instance_uid": sop,
                "modality": modality,
                "institution_name": institution,
                "institution_key": institution_key(institution),
                "source_ae_title": ae,
                "source_ae_key": ae_title_key(ae),
                "size_bytes": size,
                "received_at": datetime.fromisoformat(received_at),
                "file_key": f"k{sop}",
                "harvest_id": "t",
            }
        )

    def event(
        self,
        event_id: str,
        when: str,
        source: str | None,
        destination: str | None,
        studies: list[str | None],
        outcome: int = 0,
        message: str | None = None,
        event_type_code: str | None = None,
        audit_source_id: str | None = None,
        practitioner: str | None = None,
        participants: tuple[str, ...] = (),
    ) -> None:
        """`practitioner`: the keyed RPPS number (any text stands for the hash); `participants`: the AE titles of the
        participants neither Source nor Destination (the portal, ...), stored keyed with KEY as a harvest does."""
        message = message or f"{event_id}|{when}|{source}|{destination}|{studies}|{outcome}|{len(self.events)}"
        sha = hashlib.sha256(message.encode()).hexdigest()
        for study in studies:
            self.events.append(
                {
                    "record_key": hashlib.sha256(f"{sha}|{study or ''}".encode()).hexdigest(),
                    "source": "audit",
                    "message_sha256": sha,
                    "event_id": event_id,
                    "outcome": outcome,
                    "event_time": datetime.fromisoformat(when),
                    "source_ae": source,
                    "destination_ae": destination,
                    "source_ae_key": ae_title_key(source),
                    "destination_ae_key": ae_title_key(destination),
                    "study_instance_uid": study,
                    "file_key": "klog",
                    "line": len(self.events) + 1,
                    "harvest_id": "t",
                    "event_type_code": event_type_code,
                    "audit_source_id": audit_source_id,
                    "practitioner_key": practitioner,
                    "participant_ae_keys": [participant_key(KEY, ae_title_key(p)) for p in participants],
                }
            )

    def build(self):
        """Load the rows, build the models; returns an open connection (the caller closes it)."""
        con = warehouse.connect(self.path)
        warehouse.ensure_schema(con)
        for table, rows in (("dicom_instances", self.instances), ("audit_events", self.events)):
            if rows:
                con.execute(f"delete from raw.{table}")
                store(con, table, pl.DataFrame(rows))
        warehouse.load_reference(con, load_registry(self.root / "contracts"), ["RSF_ARCHIVE"], self.portal, KEY)
        warehouse.build_models(con, full_refresh=True)  # raw rewritten in place, not harvested: rebuild it all
        return con
