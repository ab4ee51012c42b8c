"""The data contracts as Dagster asset checks: one check per rule, on the asset that writes the rule's table.

`error` rules are blocking: when one fails, the asset's step fails after recording its results, so nothing
downstream (the usage marts, the draft invoices, the published copy) is built from that data in the same run.
Results also go to the history (analytics.quality.history) under the Dagster run id.
"""

from __future__ import annotations

import json

import dagster as dg
import duckdb

from analytics import warehouse
from analytics.config import Settings
from analytics.quality import history, runner


def check_specs(settings: Settings, tables: list[str], key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(rule.name, asset=key, description=rule.description or None, blocking=rule.severity == "error")
        for rule in runner.rules_for(settings, tables)
    ]


def check_results(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    settings: Settings,
    tables: list[str],
    con: duckdb.DuckDBPyConnection,
    asset_key: dg.AssetKey | None = None,
) -> list[dg.AssetCheckResult]:
    """Run the rules of `tables` on the open warehouse, record them, and return them as Dagster check results."""
    results = runner.run_checks(settings, tables=tables, con=con)
    if results:
        history.record(settings.ledger.url, results, trigger="dagster", run_id=context.run.run_id)
    # the ledger's checks (a document missing) concern the invoices, not the warehouse's data: the issuing gate runs
    # them afresh, and recorded they would stop every publish until the next drafts (a failure left by an earlier
    # version is cleared here)
    failed = [r for r in runner.failed_errors(results) if r.table != runner.LEDGER_TABLE]
    warehouse.record_blocking_checks(con, tables, failed)
    return [
        dg.AssetCheckResult(
            asset_key=asset_key,
            check_name=r.name,
            passed=r.passed,
            severity=dg.AssetCheckSeverity.ERROR if r.severity == "error" else dg.AssetCheckSeverity.WARN,
            metadata={
                "observed": dg.MetadataValue.text(json.dumps(r.observed)),
                "details": dg.MetadataValue.json(json.loads(json.dumps(r.details, default=str))),
            },
        )
        for r in results
    ]
