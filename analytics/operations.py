"""The steps of the main job as plain functions over a `Settings`: what the CLI and the Dagster assets both call."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from analytics import lake, warehouse
from analytics.config import Settings
from analytics.harvest import SourceReport, harvest_source
from analytics.pseudonym import Pseudonymiser, pseudonymiser_from_env
from analytics.registry import Registry, load_registry


def pseudonymiser_for(settings: Settings) -> Pseudonymiser:
    return pseudonymiser_from_env(allow_development_key=settings.privacy.allow_development_key)


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


def build_warehouse(settings: Settings, registry: Registry | None = None, *, full_refresh: bool = False) -> WarehouseBuild:
    """Reload the reference tables from the contracts, build the models (incrementally: what the harvests added since
    the last build; `full_refresh`: everything from raw), publish the readers' copy."""
    registry = registry or load_contracts(settings)
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
        warehouse.load_reference(con, registry, settings.archive.ae_titles)
        counts = warehouse.build_models(con, full_refresh=full_refresh, memory_limit=settings.warehouse.memory_limit)
        published = warehouse.publish(con, settings.published_path)
        lake_report = write_lake(settings, con)
    return WarehouseBuild(row_counts=counts, published_path=str(published), lake=lake_report)


def write_lake(settings: Settings, con=None) -> dict[str, object] | None:
    """Export the raw and staged layers to the open lake, if one is configured (after the warehouse build)."""
    if settings.lake is None:
        return None
    if con is not None:
        return lake.export_lake(con, settings.lake.root).to_dict()
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as own:
        return lake.export_lake(own, settings.lake.root).to_dict()


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
            "archived volume (MB)": round((q("select coalesce(sum(size_bytes), 0) from staged.stg_dicom_instances")) / 1e6, 1),
            "unattributed instances": q(
                "select count(*) from staged.stg_dicom_instances where establishment_id = 'UNATTRIBUTED'"
            ),
            "audit records": q("select count(*) from staged.stg_audit_events"),
            "quarantined (files or log records)": q("select count(*) from raw.quarantine"),
        }
    finally:
        con.close()
