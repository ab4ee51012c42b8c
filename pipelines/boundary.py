"""The command line's boundary: whatever goes wrong, the user reads one line on stderr and the exit code is not 0.

Usage errors (a malformed option) and sansfilm's own errors become `error: ...` on one line; anything unexpected is
written in full to a log file and the line names it. `--verbose` is for more detail, never the default.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import typer

from analytics.errors import SansfilmError

INTERRUPTED = "interrupted: run the same command again to finish it"
# what a path the user gave (an --out folder, the lake's root, the warehouse's folder) does wrong, rather than sansfilm:
# a file where a folder should be or the reverse, no right to write, a read-only or full disk
USER_PATH_ERRORS = frozenset(
    {errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EROFS, errno.ENOSPC, errno.EDQUOT}
)
verbose = False  # set by `sansfilm --verbose`: an unexpected failure's traceback is printed too


def one_line(text: object) -> str:
    """A message on one line (a database error, a validation error may span several)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def error_log_path() -> Path:
    """Where an unexpected failure's full detail goes: a new file in the temporary folder, never overwritten."""
    return Path(tempfile.gettempdir()) / f"sansfilm-error-{datetime.now():%Y%m%dT%H%M%S}-{os.getpid()}.log"


def write_error_log(exc: BaseException) -> Path:
    """The full detail, readable by its owner only: it may hold paths and values of the user's data."""
    path = error_log_path()
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as log:
        log.write("".join(traceback.format_exception(exc)))
    return path


def say(message: str) -> None:
    typer.echo(f"error: {one_line(message)}", err=True)


def is_a(exc: BaseException, name: str) -> bool:
    """Whether `exc` is click's exception class `name`. Typer (>= 0.22) carries its own copy of click, whose classes are
    not the `click` package's: match by name so either copy is caught."""
    return any(
        cls.__name__ == name and cls.__module__.endswith(("click.exceptions", "typer.exceptions"))
        for cls in type(exc).__mro__
    )


def ignore_a_gone_resource_tracker(unraisable) -> None:
    """`sys.unraisablehook` of the command line. dbt's parsed project holds a multiprocessing lock whose clean-up, at
    exit, tells multiprocessing's resource tracker process; when that process is already gone (seen under heavy
    load) Python prints a traceback after the command's own last line. Nothing is lost (the tracker's work is to
    remove such locks, and the operating system does at exit): it goes to --verbose only. Anything else is printed as
    Python does."""
    if issubclass(unraisable.exc_type, OSError) and any(
        frame.f_code.co_filename.endswith(os.path.join("multiprocessing", "resource_tracker.py"))
        for frame, _ in traceback.walk_tb(unraisable.exc_traceback)
    ):
        if verbose:
            print(f"(multiprocessing's resource tracker had exited: {unraisable.exc_value!r})", file=sys.stderr)
        return
    sys.__unraisablehook__(unraisable)


def run(app: typer.Typer, args: list[str] | None = None) -> NoReturn:
    """Run the app (the `sansfilm` entry point) and turn every failure into one line and an exit code."""
    sys.unraisablehook = ignore_a_gone_resource_tracker
    try:
        code = app(args=args, prog_name="sansfilm", standalone_mode=False)
    except Exception as exc:  # noqa: BLE001  sorted below: click's, typer's copy of click's, ours, the unexpected
        code = failure_code(exc)
    except KeyboardInterrupt:
        code = 130
    if code == 130:  # Ctrl-C: typer turns it into this exit code itself, in a command; before one, it reaches here
        say(INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)


def failure_code(exc: Exception) -> int:
    """Say what went wrong in one line and return the exit code."""
    if is_a(exc, "NoArgsIsHelpError"):
        typer.echo(exc.ctx.get_help())
        return 2
    if is_a(exc, "UsageError"):
        where = exc.ctx.command_path if exc.ctx else "sansfilm"
        say(f"{exc.format_message()} (see `{where} --help`)")
        return 2
    if is_a(exc, "ClickException"):
        say(exc.format_message())
        return exc.exit_code
    if is_a(exc, "Abort"):  # Ctrl-C or the end of input at a prompt: `run` says it, for every exit code 130
        return 130
    if isinstance(exc, SansfilmError):
        say(str(exc))
        return 2
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    try:
        where = f"full detail in {write_error_log(exc)}"
    except OSError:
        where = "run again with --verbose for the detail"
    if isinstance(exc, OSError) and exc.errno in USER_PATH_ERRORS and exc.filename is not None:
        path = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 is not None else "")
        say(f"{exc.strerror or type(exc).__name__}: {path} (check that path and who may write there; {where})")
        return 2
    say(f"unexpected {type(exc).__name__}: {one_line(exc)[:300]} ({where}; please report it)")
    return 1
