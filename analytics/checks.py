"""Data checks on the warehouse, as SQL that counts offending rows; pipelines turn them into Dagster asset checks.

Severity `error` means the data is wrong and downstream use (billing) must not trust it; `warn` is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    table: str  # schema.table the check is about
    severity: str  # error | warn
    description: str
    failing_sql: str  # a SELECT COUNT(*) of the offending rows

    def run(self, con: duckdb.DuckDBPyConnection) -> CheckResult:
        failing = con.execute(self.failing_sql).fetchone()[0]
        return CheckResult(self, int(failing))


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: Check
    failing: int

    @property
    def passed(self) -> bool:
        return self.failing == 0


CHECKS: tuple[Check, ...] = (
    Check(
        "sop_instance_uid_unique", "staged.stg_dicom_instances", "error",
        "one row per SOPInstanceUID, however many copies were harvested",
        "select count(*) - count(distinct sop_instance_uid) from staged.stg_dicom_instances",
    ),
    Check(
        "sizes_positive", "staged.stg_dicom_instances", "error",
        "every stored instance has a size in bytes above zero",
        "select count(*) from staged.stg_dicom_instances where size_bytes <= 0",
    ),
    Check(
        "instances_attributed", "staged.stg_dicom_instances", "warn",
        "instances no establishment claims (by AE title or institution name) are kept as UNATTRIBUTED",
        "select count(*) from staged.stg_dicom_instances where establishment_id = 'UNATTRIBUTED'",
    ),
    Check(
        "study_attribution_consistent", "staged.int_studies", "warn",
        "a study whose instances point at several establishments (the first received wins)",
        "select count(*) from staged.int_studies where attribution_conflict",
    ),
    Check(
        "audit_event_ids_known", "staged.stg_audit_events", "warn",
        "audit events whose EventID is not a DICOM audit event code",
        "select count(*) from staged.stg_audit_events where event_type is null",
    ),
    Check(
        "audit_records_unique", "staged.stg_audit_events", "error",
        "one row per audit message and study, however many copies of a log were harvested",
        "select count(*) - count(distinct record_key) from staged.stg_audit_events",
    ),
)  # fmt: skip


def checks_for(table: str) -> list[Check]:
    return [c for c in CHECKS if c.table == table]
