"""`sansfilm`: the command line of the platform (operators, finance scripts, `make demo`).

Every command reads one configuration (`--config PATH`, else `$SANSFILM_CONFIG`, else `./sansfilm.toml`). Errors a
person can act on are printed as one line on stderr with exit code 2; nothing is half-written. Anything else is one
line too, naming the file that holds the detail (pipelines.boundary).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from analytics.config import Settings, load_settings, resolve_config_path
from analytics.errors import SansfilmError
from analytics.periods import month_spans
from pipelines import (
    alerts_cli,
    billing_cli,
    boundary,
    dashboards_cli,
    finance_cli,
    governance_cli,
    opinions_cli,
    output,
    quality_cli,
    simulate_cli,
    upgrade_cli,
)
from pipelines.boundary import one_line
from pipelines.output import text_table

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0], pretty_exceptions_enable=False
)


class Format(str, Enum):  # noqa: UP042  (typer compares and prints the members by value; kept as they were)
    table = "table"
    json = "json"


_state: dict[str, str | None] = {"config": None}


@app.callback()
def global_options(
    config: Annotated[
        str | None, typer.Option("--config", help="Configuration file (default: $SANSFILM_CONFIG or ./sansfilm.toml).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress on stderr.")] = False,
    csv_dialect: Annotated[
        str,
        typer.Option(
            "--csv-dialect",
            help="CSV printed by usage and bill --format csv: 'standard' (',' and decimal point, the default) or "
            "'fr' (a BOM, ';', decimal comma, dd/mm/yyyy: opens as numbers in a French spreadsheet).",
        ),
    ] = "standard",
) -> None:
    """Usage metering, per-use billing and reporting for the regional shared cloud PACS."""
    if csv_dialect not in output.CSV_DIALECTS:
        raise typer.BadParameter(f"'{csv_dialect}' is not one of {', '.join(output.CSV_DIALECTS)}")
    output.csv_dialect = csv_dialect
    _state["config"] = config
    boundary.verbose = verbose
    if not verbose:  # a failure is one line on stderr: libraries' warnings only with --verbose
        warnings.simplefilter("ignore")
    # pynetdicom logs a refused connection or a rejected association as ERROR lines of its own before our one line
    # says what to do: kept off the terminal unless --verbose (its records still pass the dropped-answer count,
    # dimse.py); set both ways, since one process may run several commands (a caller, the tests)
    logging.getLogger("pynetdicom").propagate = verbose
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s")


def _settings() -> Settings:
    return load_settings(_state["config"])


def _fail(exc: SansfilmError) -> typer.Exit:
    typer.echo(f"error: {one_line(exc)}", err=True)
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
        summary = generate_corpus(
            out,
            establishments=establishments,
            months=months,
            start=start,
            seed=seed,
            volume_scale=volume_scale,
            image_side=image_side,
        )
    except (ValueError, SansfilmError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"wrote {summary.out}: {summary.establishments} establishments, {summary.studies} studies, "
        f"{summary.dicom_files} DICOM files, {summary.audit_files} audit files ({summary.audit_events} events), "
        f"{summary.bytes / 1e6:.1f} MB"
    )
    if summary.unbilled_months:
        months, (valid_from, valid_to) = summary.unbilled_months, summary.agreement
        typer.echo(
            f"note: {len(months)} month(s) of the corpus ({month_spans(months)}) fall outside its framework agreement "
            f"(valid {valid_from} to {valid_to}, contracts/framework.yaml): run meters them, bill refuses them; to "
            "bill every month, choose --start and --months within the agreement"
        )
    months = summary.index_pending_months  # each month's revision asked once
    if months:
        typer.echo(
            f"note: {len(months)} month(s) of the corpus ({month_spans(months)}) need price index values that "
            "contracts/price_index.csv does not list: bill previews them at provisional prices and refuses --issue "
            "until the published values are added (docs/billing.md, adding a newly published index value)"
        )


def _metered_line(months: list, month_to_date, drafted: dict, future: list) -> str:
    """What readers now have, in one line (the month-to-date month labelled as such)."""
    if not months:
        return "metered: nothing yet (no dated data)"
    text = f"metered: {months[0]} to {months[-1]}" if len(months) > 1 else f"metered: {months[0]}"
    if month_to_date is not None:
        text += f" ({month_to_date} month to date)"
    text += f"; drafts of {len(drafted)} finished month(s)" if drafted else "; no finished month to draft"
    if future:
        text += f"; data after today left unmetered: {', '.join(map(str, future))}"
    return text


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
        _, metered = operations.build_for_readers(settings, registry)  # checked, metered, drafted, published
    except SansfilmError as exc:
        raise _fail(exc) from None
    rows = [r.to_dict() for r in reports]
    if format is Format.json:
        typer.echo(json.dumps({"sources": rows}, indent=2))
    else:
        columns = ["name", "kind", "files_seen", "files_parsed", "files_unchanged", "quarantined", "records_added"]
        typer.echo(text_table(rows, columns))
        typer.echo(_metered_line(metered.months, metered.month_to_date, metered.drafted, metered.future))


@app.command()
def rebuild() -> None:
    """Rebuild every warehouse model from the raw layer (not incrementally), check, meter and publish it, as a
    harvest does: after a fix to a model, or to the raw layer."""
    from analytics import operations

    try:
        build, metered = operations.build_for_readers(_settings(), full_refresh=True)
    except SansfilmError as exc:
        raise _fail(exc) from None
    typer.echo(text_table([{"table": t, "rows": n} for t, n in build.row_counts.items()], ["table", "rows"]))
    typer.echo(_metered_line(metered.months, metered.month_to_date, metered.drafted, metered.future))


def _dagster_home(settings: Settings) -> None:
    """Dagster keeps its instance (runs, event logs) in a git-ignored folder beside the config, telemetry off."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.root / ".dagster")
    config = home / "dagster.yaml"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if not config.exists():
            config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    except OSError as exc:
        raise SansfilmError(
            f"cannot write Dagster's home {home} ({exc.strerror or exc}): make it writable, or set "
            "DAGSTER_HOME to a writable folder"
        ) from None
    if locked := _not_writable(home):  # another user's (made by root, say): Dagster's SQLite would fail mid-run
        raise SansfilmError(
            f"cannot write Dagster's home {home}: {locked} is not writable by this user (uid {os.geteuid()}); "
            "run sansfilm as the folder's owner, give it to this user, or set DAGSTER_HOME to a writable folder"
        )
    os.environ["DAGSTER_HOME"] = str(home)


def _not_writable(home: Path) -> Path | None:
    """The first of Dagster's home, its folders and its SQLite index files (runs, event-log index, schedules, with
    their journals) this user may not write (dagster.yaml is only read); the per-run event logs are left alone (one
    file a run, each run its own: the folder holding them is not listed). Outer folders first: nothing is looked up
    inside a folder this user may not enter, and a home it may not even list is the answer itself."""
    try:
        folders = [home, *(p for p in home.iterdir() if p.is_dir())]
    except PermissionError as exc:
        return Path(exc.filename)
    nested = [home / folder for folder in _DAGSTER_INDEXES if "/" in folder]  # stat-ed once their parents pass
    for folder in (*folders, *nested):
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            return folder
    files = (home / folder / f"{index}{journal}" for folder, index in _DAGSTER_INDEXES.items() for journal in _JOURNALS)
    return next((p for p in files if p.exists() and not os.access(p, os.W_OK)), None)


_DAGSTER_INDEXES = {"history": "runs.db", "history/runs": "index.db", "schedules": "schedules.db"}
_JOURNALS = ("", "-journal", "-wal", "-shm")


class RunFailed(SansfilmError):
    """A `sansfilm run` step failed; the message names it and the log file with the full detail."""


def _materialize_all(settings: Settings) -> tuple[dict[str, float], dict[str, object]]:
    """Run every asset in-process; returns seconds per step and what metering recorded. Raises RunFailed (one
    line, with the path of the run's full log) if any step failed."""

    from analytics.operations import pseudonymiser_for
    from analytics.upgrade import require_current
    from pipelines.definitions import build_definitions
    from pipelines.warehouse.assets import METERED_KEY

    pseudonymiser_for(settings)  # no usable key: one line before anything is written, not each harvest step failing
    require_current(settings)  # an old ledger or warehouse: one line naming `sansfilm upgrade`, not a failed run
    _dagster_home(settings)
    defs = build_definitions(settings)
    level = "INFO" if boundary.verbose else "CRITICAL"  # the events go to the run's log file, not the terminal
    with _cli_instance() as instance, _signals_seen() as seen:
        result = defs.resolve_job_def("sansfilm_all").execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
        )
    durations: dict[str, float] = {}
    metered: dict[str, object] = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            durations[event.step_key] = event.event_specific_data.duration_ms / 1000
        elif event.is_step_materialization and event.asset_key == METERED_KEY:
            metered = {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
    if not result.success:
        if seen & {signal.SIGINT, signal.SIGTERM}:  # Ctrl-C (or a stop): the line every command says, not a failure
            raise KeyboardInterrupt
        raise RunFailed(_run_failure(result))
    return durations, metered


def _cli_instance():
    """The Dagster instance of $DAGSTER_HOME (its dagster.yaml) for a run in this process, without compute-log
    capture: capturing starts, for each step, a `tail` and a watcher process, which Ctrl-C also reaches and which
    print their own tracebacks. What the steps print reaches the terminal as it would through the capture; the
    events still go to the instance's storage and the run's log file."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    overrides = {
        "compute_logs": {"module": "dagster._core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"}
    }
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(os.environ["DAGSTER_HOME"], overrides=overrides))


@contextmanager
def _signals_seen() -> Iterator[set[int]]:
    """The signals this process received in the block, whatever handled them: a Dagster run replaces the SIGINT
    handler with its own, and the exception a step then fails with depends on where the signal fell (Dagster's, a
    KeyboardInterrupt, DuckDB's "Query interrupted"). The signal numbers are read from the wakeup file descriptor,
    which the C-level handler writes to before any Python handler runs."""
    seen: set[int] = set()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        yield seen
    finally:
        signal.set_wakeup_fd(previous)
        try:
            while chunk := os.read(read_end, 512):
                seen.update(chunk)
        except BlockingIOError:  # all read
            pass
        os.close(read_end)
        os.close(write_end)


def _run_failure(result) -> str:
    """One line: the failed steps and their first cause; the whole event log goes to a file beside the runs."""
    log = Path(os.environ["DAGSTER_HOME"]) / "logs" / f"run-{result.run_id}.log"
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    causes = []
    for event in failures:
        error = event.event_specific_data.error
        while error.cause is not None and error.cls_name != "DagsterAssetCheckFailedError":
            error = error.cause  # the user's error, not Dagster's wrapper
        if error.cls_name == "DagsterAssetCheckFailedError":
            checks = [line.strip() for line in error.message.splitlines()[1:] if line.strip()]
            message = f"blocking data check(s) failed: {', '.join(checks)}; nothing downstream was built or published"
        else:
            message = re.sub(r"^[\w.]*\.\w+: ", "", error.message)  # "analytics.x.SomeError: what" -> "what"
        causes.append(f"{event.step_key}: {one_line(message)}")
        if boundary.verbose:
            typer.echo(event.event_specific_data.error.to_string(), err=True)
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") as out:
            for event in result.all_events:
                out.write(f"{event.event_type_value} {event.step_key or ''} {event.message or ''}\n")
                error = getattr(event.event_specific_data, "error", None)
                if error is not None:
                    out.write(error.to_string() + "\n")
        where = f"full log: {log}"
    except OSError:
        where = "run again with --verbose for the detail"
    detail = "; ".join(causes) or "see the Dagster event log"
    return f"the run failed: {detail[:400]} ({where})"


@app.command()
def run() -> None:
    """Materialise every asset (harvest, warehouse, metering, drafts, publish, lake) in-process for the config."""
    try:
        durations, metered = _materialize_all(_settings())
    except SansfilmError as exc:
        raise _fail(exc) from None
    for step, seconds in durations.items():
        typer.echo(f"{step:<45} {seconds:7.2f} s")
    if metered:
        typer.echo(_metered_summary(metered))


def _metered_summary(metered: dict[str, object]) -> str:
    mtd = metered.get("month_to_date")
    return _metered_line(
        list(metered.get("months") or []),
        None if mtd in (None, "none") else mtd,
        dict(metered.get("drafted") or {}),
        list(metered.get("future") or []),
    )


@app.command()
def demo(
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboards afterwards (blocks).")] = True,
    dagster: Annotated[bool, typer.Option("--dagster", help="Serve the Dagster UI instead of the dashboards.")] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Dashboards port on 127.0.0.1.")] = 8501,
    sample: Annotated[
        Path, typer.Option(help="Sample corpus folder, made if missing (relative to the config).")
    ] = Path("data/samples"),
) -> None:
    """Make the sample if missing, run the whole platform on it and print a summary with timings."""
    from analytics import samples as sample_corpus
    from analytics.operations import summary

    started = time.perf_counter()
    try:
        if serve and not dagster:  # before minutes of work, not after
            dashboards_cli.require_free_port(dashboards_cli.LOOPBACK, port)
        config_path = resolve_config_path(_state["config"])
        sample_dir = sample if sample.is_absolute() else config_path.parent / sample
        if not (sample_dir / "reception_times.csv").exists():
            typer.echo(f"making the sample corpus in {sample_dir} ...")
            sample_corpus.generate_corpus(sample_dir)
        touched = sample_corpus.restore_reception_times(sample_dir)
        settings = _settings()
        durations, metered = _materialize_all(settings)  # metering and the finished months' drafts included
        facts = summary(settings)
    except (SansfilmError, ValueError) as exc:
        typer.echo(f"error: {one_line(exc)}", err=True)
        raise typer.Exit(2) from None
    drafted = {m: (d["invoices"], Decimal(d["net"])) for m, d in (metered.get("drafted") or {}).items()}
    typer.echo(f"sample corpus: {sample_dir} ({touched} reception times restored)")
    for step, seconds in durations.items():
        typer.echo(f"  {step:<45} {seconds:7.2f} s")
    typer.echo("warehouse:")
    for name, value in facts.items():
        typer.echo(f"  {name:<45} {value}")
    typer.echo(_metered_summary(metered))
    typer.echo(f"published for readers: {settings.published_path}")
    if drafted:
        count = sum(n for n, _ in drafted.values())
        net = sum((total for _, total in drafted.values()), start=Decimal(0))
        typer.echo(
            f"draft invoices: {count} for {len(drafted)} months, net {net} EUR excl. VAT, in "
            f"{settings.billing.out_dir / 'drafts'}/<month>/ (invoices.json, invoice_lines.csv)"
        )
        typer.echo(f"  preview one: sansfilm bill --month {max(drafted)}   issue it: add --issue")
    typer.echo(f"done in {time.perf_counter() - started:.1f} s")
    if serve and dagster:
        _serve(settings)
    elif serve:
        typer.echo("demo accounts (sample only; passwords hashed in the accounts file):")
        for name, role, password in dashboards_cli.ensure_demo_accounts(settings):
            typer.echo(f"  {name:<12} {role:<26} {password}")
        dashboards_cli.serve(settings, port)


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


alerts_cli.register(app, _settings, _fail)
billing_cli.register(app, _settings, _fail)
finance_cli.register(app, _settings, _fail)
dashboards_cli.register(app, _settings, _fail)
governance_cli.register(app, _settings, _fail)
opinions_cli.register(app, _settings, _fail)
quality_cli.register(app, _settings, _fail)
simulate_cli.register(app, _settings, _fail)
upgrade_cli.register(app, _settings, _fail)


def main() -> None:
    """The `sansfilm` entry point: every failure is one line on stderr (pipelines.boundary)."""
    boundary.run(app)


if __name__ == "__main__":
    main()
