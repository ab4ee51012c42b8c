"""Run the data contracts: `sansfilm check`, the Dagster asset checks and the issuing gate all come through here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, time
from typing import TypeVar

import duckdb

from analytics import warehouse
from analytics.config import Settings
from analytics.errors import SansfilmError
from analytics.periods import PARIS
from analytics.quality import history
from analytics.quality.contracts import CheckResult, Rule, load_rules
from analytics.quality.reconcile import RECONCILIATIONS
from analytics.quality.rules import AGGREGATES, ROW_LEVEL, RunContext, run_aggregates, run_row_level
from analytics.warehouse import table_exists

METERED = ("marts.fct_usage_daily", "marts.fct_share_flows")  # written by metering: absent until a month is metered
LEDGER_TABLE = "ledger.invoice"  # the reconciliations with the invoice ledger: no warehouse table
T = TypeVar("T")


class DataQualityFailed(SansfilmError):
    """Error-severity checks failed: invoices must not be issued on this data."""

    def __init__(self, failed: list[CheckResult]):
        self.failed = failed
        listed = "; ".join(f"{r.name} ({r.table}): observed {r.observed}" for r in failed)
        super().__init__(
            f"{len(failed)} data-quality check(s) of severity error failed, nothing was issued: {listed}. "
            "Run `sansfilm check` for the details (docs/data-quality.md says what to do)."
        )


def rules_for(settings: Settings, tables: Iterable[str] | None = None) -> list[Rule]:
    rules = load_rules(settings.contracts.dir)
    wanted = set(tables) if tables is not None else None
    return [r for r in rules if wanted is None or r.table in wanted]


def checked_tables(settings: Settings, excluding: Iterable[str] = ()) -> list[str]:
    """The tables the contracts check, but those `excluding` names."""
    return sorted({r.table for r in rules_for(settings)} - set(excluding))


def run_checks(
    settings: Settings,
    *,
    tables: Iterable[str] | None = None,
    as_of: datetime | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> list[CheckResult]:
    """Run the rules (of `tables`, else all) on the working warehouse; `con` reuses an open connection (Dagster)."""
    from analytics.billing.contracts import load_contracts

    rules = rules_for(settings, tables)
    contracts = load_contracts(settings)
    if con is None:
        if not settings.warehouse.path.exists():
            raise SansfilmError(f"no warehouse at {settings.warehouse.path} yet: run `sansfilm harvest` first")
        own = warehouse.connect(settings.warehouse.path, read_only=True)
        try:
            return run_checks(settings, tables=tables, as_of=as_of, con=own)
        finally:
            own.close()
    start = datetime.combine(contracts.tariff.valid_from, time(0), tzinfo=PARIS)
    ctx = RunContext(con, start, as_of, {"settings": settings, "contracts": contracts})
    results: dict[str, CheckResult] = {}
    aggregates: list[tuple[Rule, Callable]] = []  # measured, then judged in one validation
    by_table: dict[str, list[Rule]] = {}
    for rule in rules:
        by_table.setdefault(rule.table, []).append(rule)
    for table, table_rules in by_table.items():
        if table != LEDGER_TABLE and not table_exists(con, table):
            for rule in table_rules:
                if rule.kind in RECONCILIATIONS and table in METERED:  # they say themselves what nothing metered means
                    aggregates.append((rule, RECONCILIATIONS[rule.kind]))
                elif table in METERED:
                    results[rule.name] = CheckResult(
                        rule.name, table, rule.severity, True, 0, {"note": "nothing metered yet"}
                    )
                else:
                    results[rule.name] = CheckResult(
                        rule.name,
                        table,
                        rule.severity,
                        False,
                        None,
                        {"error": f"{table} does not exist: build the warehouse first"},
                    )
            continue
        row_level = [r for r in table_rules if r.kind in ROW_LEVEL]
        if row_level:
            results |= {r.name: r for r in run_row_level(ctx, table, row_level)}
        for rule in table_rules:
            if rule.kind in AGGREGATES:
                aggregates.append((rule, AGGREGATES[rule.kind]))
            elif rule.kind in RECONCILIATIONS:
                aggregates.append((rule, RECONCILIATIONS[rule.kind]))
    results |= {r.name: r for r in run_aggregates(ctx, aggregates)}
    return [results[r.name] for r in rules]


def failed_errors(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.severity == "error" and not r.passed]


def check_and_record(
    settings: Settings, *, trigger: str, as_of: datetime | None = None
) -> tuple[str, list[CheckResult]]:
    """Run every check and keep the results in the history; returns the run id and the results."""
    results = run_checks(settings, as_of=as_of)
    return history.record(settings.ledger.url, results, trigger=trigger), results


def require_error_checks_pass(settings: Settings, price: Callable[[], T]) -> T:
    """The issuing gate, around `price` (which meters the month again and prices it): the checks of every table but
    the metered facts run first, those of the metered facts after `price`, on the very facts it priced; one `issue`
    run in the history. Raises DataQualityFailed, listing the failed error-severity checks, before anything is
    numbered; else returns what `price` returned."""
    results = run_checks(settings, tables=checked_tables(settings, excluding=METERED))
    failed = failed_errors(results)
    priced = None
    try:
        if not failed:
            priced = price()
            results = results + run_checks(settings, tables=METERED)
            failed = failed_errors(results)
    finally:  # the attempt is kept with what was checked, the pricing failed or not
        history.record(settings.ledger.url, results, trigger="issue")
    if failed:
        raise DataQualityFailed(failed)
    return priced
