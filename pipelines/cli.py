"""`sansfilm`: the command line of the platform (operators, finance scripts, `make demo`).

Every command reads one configuration (`--config PATH`, else `$SANSFILM_CONFIG`, else `./sansfilm.toml`). Errors a
person can act on are printed as one line on stderr with exit code 2; nothing is half-written.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from analytics.config import Settings, load_settings, resolve_config_path
from analytics.errors import SansfilmError
from pipelines import billing_cli, dashboards_cli, governance_cli, quality_cli, upgrade_cli
from pipelines.output import text_table

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])


class Format(str, Enum):
    table = "table"
    json = "json"


_state: dict[str, str | None] = {"config": None}


@app.callback()
def main(
    config: Annotated[
        str | None, typer.Option("--config", help="Configuration file (default: $SANSFILM_CONFIG or ./sansfilm.toml).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress on stderr.")] = False,
) -> None:
    """Usage metering, per-use billing and reporting for the regional shared cloud PACS."""
    _state["config"] = config
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _settings() -> Settings:
    return load_settings(_state["config"])


def _fail(exc: SansfilmError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


@app.command()
def samples(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the corpus into (created if needed).")],
    establishments: Annotated[int, typer.Option(min=1, help="Number of establishments.")] = 12,
    months: Annotated[int, typer.Option(min=1, help="Number of calendar months of activity.")] = 12,
    start: Annotated[str, typer.Option(help="First month, YYYY-MM.")] = "2012-01",
    seed: Annotated[int, typer.Option(help="Random seed: the same arguments give the same corpus.")] = 2010,
    volume_scale: Annotated[float, typer.Option(min=0.01, help="Multiplies instances per study.")] = 1.0,
    image_side: Annotated[int, typer.Option(min=1, help="Pixel matrix side of each image.")] = 8,
) -> None:
    """Write a deterministic sample corpus: config, contracts, DICOM files and audit logs."""
    from analytics.samples import generate_corpus

    try:
        summary = generate_corpus(out, establishments=establishments, months=months, start=start, seed=seed,
                                  volume_scale=volume_scale, image_side=image_side)  # fmt: skip
    except (ValueError, SansfilmError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"wrote {summary.out}: {summary.establishments} establishments, {summary.studies} studies, "
        f"{summary.dicom_files} DICOM files, {summary.audit_files} audit files ({summary.audit_events} events), "
        f"{summary.bytes / 1e6:.1f} MB"
    )


@app.command()
def harvest(
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeatable).")] = None,
) -> None:
    """Harvest every source incrementally, rebuild the warehouse and publish it for readers."""
    from analytics import operations

    try:
        settings = _settings()
        registry = operations.load_contracts(settings)  # a broken contract fails before anything is read
        reports = operations.harvest(settings, source or None)
        operations.build_warehouse(settings, registry)
    except SansfilmError as exc:
        raise _fail(exc) from None
    rows = [r.to_dict() for r in reports]
    if format is Format.json:
        typer.echo(json.dumps({"sources": rows}, indent=2))
    else:
        columns = ["name", "kind", "files_seen", "files_parsed", "files_unchanged", "quarantined", "records_added"]
        typer.echo(text_table(rows, columns))


@app.command()
def rebuild() -> None:
    """Rebuild every warehouse model from the raw layer (not incrementally) and publish it: after a fix to a model."""
    from analytics import operations

    try:
        build = operations.build_warehouse(_settings(), full_refresh=True)
    except SansfilmError as exc:
        raise _fail(exc) from None
    typer.echo(text_table([{"table": t, "rows": n} for t, n in build.row_counts.items()], ["table", "rows"]))


def _dagster_home(settings: Settings) -> None:
    """Dagster keeps its instance (runs, event logs) in a git-ignored folder beside the config, telemetry off."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.root / ".dagster")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)


def _materialize_all(settings: Settings) -> dict[str, float]:
    """Run every asset in-process; returns seconds per step. Raises SansfilmError if any step failed."""
    import dagster as dg

    from analytics.upgrade import require_current
    from pipelines.definitions import build_definitions

    require_current(settings)  # an old ledger or warehouse: one line naming `sansfilm upgrade`, not a failed run
    _dagster_home(settings)
    defs = build_definitions(settings)
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("sansfilm_all").execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},  # the summary says enough
        )
    durations: dict[str, float] = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            durations[event.step_key] = event.event_specific_data.duration_ms / 1000
    if not result.success:
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        detail = "; ".join(f"{e.step_key}: {e.event_specific_data.error.message.strip()}" for e in failures)
        raise SansfilmError(f"the run failed: {detail or 'see the Dagster event log'}")
    return durations


@app.command()
def run() -> None:
    """Materialise every asset (harvest, warehouse, publish) in-process for the configuration."""
    try:
        durations = _materialize_all(_settings())
    except SansfilmError as exc:
        raise _fail(exc) from None
    for step, seconds in durations.items():
        typer.echo(f"{step:<45} {seconds:7.2f} s")


@app.command()
def demo(
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboards afterwards (blocks).")] = True,
    dagster: Annotated[bool, typer.Option("--dagster", help="Serve the Dagster UI instead of the dashboards.")] = False,
    port: Annotated[int, typer.Option("--port", help="Dashboards port on 127.0.0.1.")] = 8501,
    sample: Annotated[Path, typer.Option(help="Sample corpus folder, made if missing (relative to the config).")] = Path(
        "data/samples"
    ),
) -> None:
    """Make the sample if missing, run the whole platform on it and print a summary with timings."""
    from analytics import samples as sample_corpus
    from analytics.operations import summary

    started = time.perf_counter()
    try:
        config_path = resolve_config_path(_state["config"])
        sample_dir = sample if sample.is_absolute() else config_path.parent / sample
        if not (sample_dir / "reception_times.csv").exists():
            typer.echo(f"making the sample corpus in {sample_dir} ...")
            sample_corpus.generate_corpus(sample_dir)
        touched = sample_corpus.restore_reception_times(sample_dir)
        settings = _settings()
        durations = _materialize_all(settings)
        facts = summary(settings)
        drafted = _draft_all_months(settings)
    except (SansfilmError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"sample corpus: {sample_dir} ({touched} reception times restored)")
    for step, seconds in durations.items():
        typer.echo(f"  {step:<45} {seconds:7.2f} s")
    typer.echo("warehouse:")
    for name, value in facts.items():
        typer.echo(f"  {name:<45} {value}")
    typer.echo(f"published for readers: {settings.published_path}")
    if drafted:
        count = sum(n for n, _ in drafted.values())
        net = sum((total for _, total in drafted.values()), start=0)
        typer.echo(f"draft invoices: {count} for {len(drafted)} months, net {net} EUR excl. VAT, in "
                   f"{settings.billing.out_dir / 'drafts'}/<month>/ (invoices.json, invoice_lines.csv)")
        typer.echo(f"  preview one: sansfilm bill --month {max(drafted)}   issue it: add --issue")
    typer.echo(f"done in {time.perf_counter() - started:.1f} s")
    if serve and dagster:
        _serve(settings)
    elif serve:
        typer.echo("demo accounts (sample only; passwords hashed in the accounts file):")
        for name, role, password in dashboards_cli.ensure_demo_accounts(settings):
            typer.echo(f"  {name:<12} {role:<26} {password}")
        dashboards_cli.serve(settings, port)


def _draft_all_months(settings: Settings) -> dict[str, tuple[int, object]]:
    """Draft every month with data inside the framework agreement (no ledger), then publish the usage marts."""
    from analytics import metering, warehouse
    from analytics.billing import service

    contracts = service.load_contracts(settings)
    con = warehouse.connect(settings.warehouse.path, read_only=True)
    try:
        months = service.agreement_months(contracts, list(metering.months_with_data(con)))
    finally:
        con.close()
    drafted = {}
    for month in months:
        _, invoices = service.write_month_drafts(settings, month)
        drafted[str(month)] = (len(invoices), sum((i.net for i in invoices), start=0))
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:  # readers get the usage marts too
        warehouse.publish(con, settings.published_path)
    return drafted


def _serve(settings: Settings) -> None:
    import subprocess

    _dagster_home(settings)
    typer.echo("Dagster UI on http://127.0.0.1:3000 (Ctrl-C to stop)")
    env = {**os.environ, "SANSFILM_CONFIG": str(settings.config_path)}
    cmd = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", "3000", "-m", "pipelines.definitions"]
    try:
        subprocess.run(cmd, env=env, check=False)
    except KeyboardInterrupt:
        pass


billing_cli.register(app, _settings, _fail)
dashboards_cli.register(app, _settings, _fail)
governance_cli.register(app, _settings, _fail)
quality_cli.register(app, _settings, _fail)
upgrade_cli.register(app, _settings, _fail)


if __name__ == "__main__":
    app()
