"""The programme's service levels, `contracts/service_levels.yaml`: one text, written by the sample generator and
committed as is (like the tariff, kept as a string so that the file keeps the comments finance reads first)."""

from __future__ import annotations

from pathlib import Path

SERVICE_LEVELS_PATH = "service_levels.yaml"  # under the contracts folder

SERVICE_LEVELS_YAML = """\
# Service levels of the framework agreement "Région sans film" (RSF-AC-2010) and the credits their breaches give.
# Rules and a worked example: docs/service-levels.md. Measured per Paris calendar month and establishment from the
# audit events (and the studies' times); a breach in month M gives a credit line on the establishment's invoice of
# month M+1, showing the measured figure and the target.
#   availability              percent of the month's minutes the service was available, at least the target;
#                             applications: the platform applications (AuditSourceID) the offer needs
#   ingestion_delay_p95       95th percentile of study time -> first receipt, in minutes, at most the target
#   retrieval_failure_rate    percent of the month's retrievals that failed, at most the target
# credits: steps from the target outwards; the furthest step the measure crosses gives its credit_percent, a
# percentage of the month's subscription fee (prorated to the active days), rounded half-up to the cent.
# Percentages and minutes are exact decimals (quoted so that no tool reads them as floats).
contract_id: RSF-AC-2010
credit_cap_percent: "25"                # a month's credits together never exceed 25 % of that month's fee

offers:
  PACS_RIS:
    availability:
      target: "99.5"
      applications: [RSF_ARCHIVE, RSF_VIEWER, RSF_RIS]
      credits:
        - {below: "99.5", credit_percent: "5"}
        - {below: "99.0", credit_percent: "10"}
        - {below: "98.0", credit_percent: "20"}
    ingestion_delay_p95:
      target: "1440"                    # 24 h: a late-sending modality must not hold a study back a day
      credits:
        - {above: "1440", credit_percent: "3"}
        - {above: "2880", credit_percent: "6"}
    retrieval_failure_rate:
      target: "2.0"
      credits:
        - {above: "2.0", credit_percent: "2"}
        - {above: "5.0", credit_percent: "5"}

  PACS:
    availability:
      target: "99.5"
      applications: [RSF_ARCHIVE, RSF_VIEWER]
      credits:
        - {below: "99.5", credit_percent: "5"}
        - {below: "99.0", credit_percent: "10"}
        - {below: "98.0", credit_percent: "20"}
    ingestion_delay_p95:
      target: "1440"                    # 24 h: a late-sending modality must not hold a study back a day
      credits:
        - {above: "1440", credit_percent: "3"}
        - {above: "2880", credit_percent: "6"}
    retrieval_failure_rate:
      target: "2.0"
      credits:
        - {above: "2.0", credit_percent: "2"}
        - {above: "5.0", credit_percent: "5"}

  VNA:
    availability:
      target: "99.5"
      applications: [RSF_ARCHIVE]
      credits:
        - {below: "99.5", credit_percent: "5"}
        - {below: "99.0", credit_percent: "10"}
    ingestion_delay_p95:
      target: "2880"                    # a backup archive: 48 h
      credits:
        - {above: "2880", credit_percent: "3"}
    retrieval_failure_rate:
      target: "2.0"
      credits:
        - {above: "2.0", credit_percent: "2"}
        - {above: "5.0", credit_percent: "5"}
"""


def write_service_levels(contracts_dir: Path) -> Path:
    """Write the programme's service levels into `contracts_dir` and return its path."""
    path = Path(contracts_dir) / SERVICE_LEVELS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SERVICE_LEVELS_YAML, encoding="utf-8", newline="\n")
    return path
