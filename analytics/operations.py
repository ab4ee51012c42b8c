"""The steps of the main job as plain functions over a `Settings`: what the CLI and the Dagster assets both call."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import duckdb

from analytics import lake, metering, warehouse
from analytics.clock import paris_now
from analytics.config import NETWORK_SOURCE_KINDS, Settings
from analytics.errors import SansfilmError
from analytics.harvest import harvest_source
from analytics.periods import Month
from analytics.pseudonym import Pseudonymiser, pseudonymiser_from_env
from analytics.raw_batches import SourceReport
from analytics.registry import Registry, load_registry


def pseudonymiser_for(settings: Settings) -> Pseudonymiser:
    return pseudonymiser_from_env(
        allow_development_key=settings.privacy.allow_development_key,
        network_sources=[s.name for s in settings.sources if s.kind in NETWORK_SOURCE_KINDS],
    )


def harvest(
    settings: Settings, source_names: Iterable[str] | None = None, *, concurrent: bool = False
) -> list[SourceReport]:
    """Harvest the named sources (all by default), in config order, into the raw layer.

    `concurrent`: other processes may harvest other sources at the same time (Dagster's multiprocess executor), so
    the warehouse is opened for each batch and closed after it instead of being held for the whole harvest."""
    pseudonymise = pseudonymiser_for(settings)  # fails before any file is read if no key is configured
    wanted = list(source_names) if source_names is not None else [s.name for s in settings.sources]
    sources = [settings.source(name) for name in wanted]
    if concurrent:
        return [harvest_source(settings.warehouse.path, source, pseudonymise, settings.harvest) for source in sources]
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
        return [harvest_source(con, source, pseudonymise, settings.harvest) for source in sources]


@dataclass(frozen=True)
class WarehouseBuild:
    row_counts: dict[str, int]
    published_path: str
    lake: dict[str, object] | None = None  # what export_lake wrote, when a [lake] is configured


def load_contracts(settings: Settings) -> Registry:
    return load_registry(settings.contracts.dir)


@contextmanager
def referenced_warehouse(settings: Settings, registry: Registry) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse, its `ref` tables reloaded from the contracts and the configuration (the platform's and the
    portal's AE titles). The pseudonymisation key is checked before the warehouse is opened: a refused key writes
    nothing."""
    pseudonymise = pseudonymiser_for(settings)
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
        warehouse.load_reference(con, registry, settings.archive.ae_titles, settings.portal.ae_titles, pseudonymise)
        yield con


def build_warehouse(
    settings: Settings, registry: Registry | None = None, *, full_refresh: bool = False
) -> WarehouseBuild:
    """Reload the reference tables from the contracts, build the models (incrementally: what the harvests added since
    the last build; `full_refresh`: everything from raw), publish the readers' copy: without the data contracts or
    metering, the quick build of tests and benchmarks. The commands go through build_for_readers."""
    registry = registry or load_contracts(settings)
    with referenced_warehouse(settings, registry) as con:
        counts = warehouse.build_models(con, full_refresh=full_refresh)
        published = warehouse.publish(con, settings.published_path)
        lake_report = write_lake(settings, con)
    return WarehouseBuild(row_counts=counts, published_path=str(published), lake=lake_report)


class ChecksBlocked(SansfilmError):
    """Blocking (`error`) data contracts failed on a build: nothing was published from it."""

    def __init__(self, failed: list) -> None:
        self.failed = failed
        listed = "; ".join(f"{r.name} ({r.table})" for r in failed)
        super().__init__(
            f"{len(failed)} blocking data check(s) failed: {listed}; the warehouse was not published "
            "(readers keep the last good copy). Run `sansfilm check` for the details."
        )


def _blocking_checks(settings: Settings, con, tables: list[str] | None) -> None:
    from analytics.quality import history, runner

    wanted = tables if tables is not None else runner.checked_tables(settings, (*runner.METERED, runner.LEDGER_TABLE))
    results = runner.run_checks(settings, tables=wanted, con=con)
    if results:
        history.record(settings.ledger.url, results, trigger="harvest")
    failed = runner.failed_errors(results)
    warehouse.record_blocking_checks(con, wanted, failed)
    if failed:
        raise ChecksBlocked(failed)


def build_for_readers(
    settings: Settings, registry: Registry | None = None, now: datetime | None = None, *, full_refresh: bool = False
) -> tuple[WarehouseBuild, Metered]:
    """What `sansfilm harvest` does after harvesting, as the nightly job does: build the models (what the harvests
    added; `full_refresh`: every model from raw, `sansfilm rebuild`), apply the blocking data contracts (a failure
    publishes nothing), meter the months the build changed and draft the finished ones, check the usage marts, then
    publish the readers' copy and write the lake."""
    from analytics.quality import runner

    registry = registry or load_contracts(settings)
    with referenced_warehouse(settings, registry) as con:
        counts = warehouse.build_models(con, full_refresh=full_refresh)
        _blocking_checks(settings, con, None)
    metered = meter_and_draft(settings, now)
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
        _blocking_checks(settings, con, list(runner.METERED))
        published = warehouse.publish(con, settings.published_path)
        lake_report = write_lake(settings, con)
    return WarehouseBuild(row_counts=counts, published_path=str(published), lake=lake_report), metered


def write_lake(settings: Settings, con=None) -> dict[str, object] | None:
    """Export the raw and staged layers to the open lake, if one is configured (after the warehouse build)."""
    if settings.lake is None:
        return None
    if con is not None:
        return lake.export_lake(con, settings.lake.root).to_dict()
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as own:
        return lake.export_lake(own, settings.lake.root).to_dict()


@dataclass(frozen=True)
class Metered:
    """What `meter_and_draft` did: the months metered (the last one month to date when it has not ended), the
    finished months of the agreement drafted (invoices, net), and months with data after `now`, left alone."""

    months: list[Month]
    month_to_date: Month | None
    drafted: dict[Month, tuple[int, Decimal]] = field(default_factory=dict)
    future: list[Month] = field(default_factory=list)


def meter_and_draft(settings: Settings, now: datetime | None = None) -> Metered:
    """After a build, what readers need: every month with data metered up to the current Paris month (that one month
    to date; a finished month already metered stays as it is unless a build took in data of it or of an earlier
    month), and the draft invoices of every finished month of the framework agreement. Idempotent (a month is
    replaced, never added to); drafts change no ledger. `now`: the programme's clock (analytics.clock) by default."""
    from analytics.billing import service
    from analytics.billing.contracts import load_contracts
    from analytics.opinions.service import record_months as record_opinions

    now = paris_now(now)
    current = Month(now.year, now.month)
    contracts = load_contracts(settings)
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
        months = metering.months_to_meter(con, current, contracts.tariff.last_month)
        for month in months:  # what a build left standing is not metered again: the night's cost follows its data
            if month <= current and not metering.is_final(con, month):
                metering.meter_month(con, month, now=now)
        record_opinions(con, settings, [m for m in months if m <= current], now=now)
    future = [m for m in months if m > current]
    if future:
        logging.getLogger(__name__).warning("data dated after %s left unmetered: %s", now.date(), future)
    metered = [m for m in months if m <= current]
    drafted: dict[Month, tuple[int, Decimal]] = {}
    for month in service.agreement_months(contracts, metered):
        if month < current:
            _, invoices = service.write_month_drafts(settings, month)
            drafted[month] = (len(invoices), sum((i.net for i in invoices), start=Decimal(0)))
    return Metered(metered, current if current in metered else None, drafted, future)


def publish(settings: Settings) -> str:
    """Copy the reader-facing schemas of the working warehouse to the published file (atomic swap). Refused
    (WarehouseNotBuilt, one line) for a warehouse whose models are not built, or whose last build failed a blocking
    data check: the readers keep the copy they have (publishing alone, after an upgrade that dropped the models)."""
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
        warehouse.require_built(con, settings.warehouse.path)
        return str(warehouse.publish(con, settings.published_path))


def summary(settings: Settings) -> dict[str, object]:
    """A few headline figures of the warehouse (for `sansfilm demo`)."""
    con = warehouse.connect(settings.warehouse.path, read_only=True)
    try:
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "establishments (live)": f"{q('select count(*) from ref.establishments')} "
            f"({q('select count(*) from ref.establishments where actual_go_live is not null')})",
            "studies": q("select count(*) from staged.int_studies"),
            "instances": q("select count(*) from staged.stg_dicom_instances"),
            "archived volume (MB)": round(
                (q("select coalesce(sum(size_bytes), 0) from staged.stg_dicom_instances")) / 1e6, 1
            ),
            "unattributed instances": q(
                "select count(*) from staged.stg_dicom_instances where establishment_id = 'UNATTRIBUTED'"
            ),
            "audit records": q("select count(*) from staged.stg_audit_events"),
            "quarantined (files or log records)": q("select count(*) from raw.quarantine"),
        }
    finally:
        con.close()
