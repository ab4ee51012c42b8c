"""Data quality: declarative contracts (`contracts/data_quality/*.yaml`), run with Great Expectations on frames pulled
from DuckDB, reconciliation checks, their history, and the gate that stops issuing on broken data.

Modules: `contracts` (read and validate the rule files), `expectations` (Great Expectations, imported lazily),
`rules` (what each rule kind computes), `reconcile` (cross-table and cross-store checks), `history` (results kept in
the ledger's database), `runner` (run everything; the issuing gate).
"""

from analytics.quality.contracts import CheckResult, Rule, load_rules
from analytics.quality.runner import DataQualityFailed, require_error_checks_pass, run_checks

__all__ = ["CheckResult", "DataQualityFailed", "Rule", "load_rules", "require_error_checks_pass", "run_checks"]
