"""The command line's boundary: a usage error is one line naming the command's --help and exit code 2, never the
"unexpected ... please report it" of a crash (typer carries its own copy of click: both copies must be caught)."""

from __future__ import annotations

import pytest

from pipelines import boundary
from pipelines.cli import app


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bill", "--bogus"], "error: No such option: --bogus"),
        (["bill", "--month", "2012-13"], "error: Invalid value: '2012-13' is not a month (YYYY-MM)"),
        (["governance", "--as-of", "2012-13-01"], "error: Invalid value: '2012-13-01' is not a date"),
        (["bill"], "error: Missing option '--month'."),
        (["no-such-command"], "error: No such command 'no-such-command'."),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args, expected, capsys):
    with pytest.raises(SystemExit) as stopped:
        boundary.run(app, args)
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err
    assert err.startswith(expected), err
    assert err.count("\n") == 1 and "unexpected" not in err and "--help`" in err


def test_no_arguments_print_the_help(capsys):
    with pytest.raises(SystemExit) as stopped:
        boundary.run(app, [])
    assert stopped.value.code == 2
    assert "Usage: sansfilm" in capsys.readouterr().out


def test_an_unexpected_failure_is_one_line_naming_its_log(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(boundary, "error_log_path", lambda: tmp_path / "error.log")
    assert boundary.failure_code(ZeroDivisionError("boom")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected ZeroDivisionError: boom") and err.count("\n") == 1
    assert "ZeroDivisionError" in (tmp_path / "error.log").read_text(encoding="utf-8")


def test_a_path_the_user_gave_that_cannot_be_written_is_one_line_without_please_report(tmp_path, monkeypatch, capsys):
    """A folder that is a file, a folder not writable: the path and what to check (exit 2, as sansfilm's own errors),
    not a crash to report; the detail goes to a log only its owner may read."""
    monkeypatch.setattr(boundary, "error_log_path", lambda: tmp_path / "error.log")
    gone = NotADirectoryError(20, "Not a directory", str(tmp_path / "afile" / "2012-03"))
    assert boundary.failure_code(gone) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: Not a directory: {tmp_path / 'afile' / '2012-03'} (check that path and who may write there; full "
        f"detail in {tmp_path / 'error.log'})\n"
    )
    assert (tmp_path / "error.log").stat().st_mode & 0o777 == 0o600
    assert boundary.failure_code(FileNotFoundError(2, "No such file", "/opt/sansfilm/sql/gone.sql")) == 1  # ours
    assert "unexpected FileNotFoundError" in capsys.readouterr().err


def test_ctrl_c_in_a_command_is_one_line_with_exit_code_130(capsys):
    """Typer turns a KeyboardInterrupt in a command into exit code 130 and prints nothing: the boundary says it."""
    import typer

    app = typer.Typer()

    @app.command()
    def harvest() -> None:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stopped:
        boundary.run(app, [])
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "error: interrupted: run the same command again to finish it\n"


def test_ctrl_c_at_a_prompt_is_said_once(capsys):
    import typer

    app = typer.Typer()

    @app.command()
    def add() -> None:
        raise typer.Abort  # what a prompt raises on Ctrl-C or the end of its input

    with pytest.raises(SystemExit) as stopped:
        boundary.run(app, [])
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "error: interrupted: run the same command again to finish it\n"


def test_a_dbt_failure_says_what_failed_even_when_dbt_s_exception_says_nothing():
    from types import SimpleNamespace

    from analytics.dbt_build import failure_reason

    node = SimpleNamespace(node=SimpleNamespace(name="int_studies"), status="error", message="Out of\nMemory")
    assert failure_reason(SimpleNamespace(result=SimpleNamespace(results=[node]), exception=None)) == (
        "int_studies: Out of Memory"
    )
    assert failure_reason(SimpleNamespace(result=None, exception=RuntimeError())) == "RuntimeError"


GONE_TRACKER = """
import multiprocessing, os, signal, sys
from multiprocessing import resource_tracker
import typer
from pipelines import boundary

held = [multiprocessing.get_context("spawn").Lock()]  # as dbt's parsed project holds one
tracker = resource_tracker._resource_tracker
os.kill(tracker._pid, signal.SIGKILL)  # gone between its liveness probe and the lock's clean-up, as seen under load
os.waitpid(tracker._pid, 0)
tracker._check_alive = lambda: True
app = typer.Typer()

@app.command()
def done() -> None:
    held.clear()  # collected while the command runs: its clean-up fails, as Python reports, on stderr
    typer.echo("done")

boundary.run(app, sys.argv[1:])
"""


def test_a_resource_tracker_gone_before_exit_prints_nothing_more(tmp_path):
    """The traceback Python prints when a multiprocessing lock outlives its tracker is not shown to the user; the
    same script without the boundary's hook prints it (so the test can fail)."""
    import subprocess
    import sys

    script = tmp_path / "gone.py"
    script.write_text(GONE_TRACKER, encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "done\n", "")
    script.write_text(GONE_TRACKER.replace("boundary.run(app, sys.argv[1:])", "app()"), encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert "BrokenPipeError" in result.stderr
