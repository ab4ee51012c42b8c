"""What a reader must never see on a page or in an export: English or internal names, and numbers gone wrong. Used
by the AppTest sweep (every table cell, chart label and text of every page) and by the browser e2e test."""

from __future__ import annotations

import re

from analytics.reporting.labels import CHECKS

FORBIDDEN_WORDS = [
    # internal column and code names
    "establishment_id",
    "departement",
    "offer",
    "offers",
    "modality",
    "category",
    "sector",
    "p50_hours",
    "p90_hours",
    "p95_hours",
    "p99_hours",
    "event_type",
    "failure_rate",
    "stored_gb",
    "studies_archived",
    "instances_archived",
    "bytes_archived",
    "storage_gb_month",
    "availability",
    "ingestion_delay_p95",
    "retrieval_failure_rate",
    "renewal_due",
    "on_track",
    "not_live",
    "not_started",
    "UNATTRIBUTED",
    "Unattributed",
    "PACS_RIS",
    "dicom_files",
    "audit_syslog",
    "table_name",
    "checked_at",
    "history",
    "forecast",
    "draft",
    "issued",
    "live",
    "planned",
    "signed",
    "ended",
    "error",
    "warn",
    "weekday",
    # English words and Python values
    "True",
    "False",
    "None",
    "null",
    "nan",
    "NaN",
    "inf",
    "Infinity",
    "unknown",
    "sender",
    *CHECKS,
]
_WORDS = re.compile(r"(?<![\w./:-])(" + "|".join(map(re.escape, FORBIDDEN_WORDS)) + r")(?![\w-])")
_RAW = re.compile(r'[{\[]\s*"\w+"\s*:|-1,000|\binf\s*%')  # raw JSON, a suppressed cell shown as -1, an infinite rate


def offences(text: str) -> list[str]:
    """The forbidden words and patterns found in `text` (a page's visible text, a CSV, a chart's labels)."""
    return sorted({m.group(0) for m in _WORDS.finditer(text)} | {m.group(0) for m in _RAW.finditer(text)})
