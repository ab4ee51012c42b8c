"""The five acts of issue 12 through the commands a finance officer types, on SQLite and on a real PostgreSQL: each is
now refused, detected or harmless. The tiny corpus; its agreement starts in April 2010, the first invoice (A's) is
October 2010's, so the months before are issued first (tests/billing_history.py)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from analytics.billing.ledger import Ledger
from analytics.config import Settings
from analytics.periods import Month
from pipelines.cli import app
from tests.billing_history import TODAY, issue_until
from tests.integration.test_billing import A, at, corpus, march_template  # noqa: F401  (fixtures)
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)
from tests.tiny_corpus import with_ledger
from tests.unit.test_ledger_integrity import drop_triggers

OCTOBER, NOVEMBER = Month(2010, 10), Month(2010, 11)
REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setenv("SANSFILM_NOW", f"{TODAY}T12:00:00")  # analytics.clock, the one clock


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tiny_built) -> Settings:
    """The tiny corpus harvested, its ledger on the backend under test, April to September 2010 issued (empty)."""
    tiny = tiny_built
    if request.param == "postgresql":
        tiny = with_ledger(tiny, request.getfixturevalue("postgres_database")())
    issue_until(tiny, OCTOBER)
    return tiny


def cli(settings: Settings, *args: str):
    return runner.invoke(app, ["--config", str(settings.config_path), *args])


def issue(settings: Settings, month: Month, on: str):
    return cli(settings, "bill", "--month", str(month), "--issue", "--issue-date", on)


def documents(settings: Settings, month: Month) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((settings.billing.out_dir / str(month)).iterdir())}


def check(settings: Settings) -> dict[str, dict]:
    result = cli(settings, "check", "--format", "json")
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


# --- act 1: a later month first ---------------------------------------------------------------------------------------


def test_act1_a_later_month_is_refused_naming_the_month_to_issue_first(settings):
    result = issue(settings, NOVEMBER, "2010-12-01")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: 2010-11 cannot be issued before 2010-10: months are issued in order from the "
        "agreement's first month (2010-04); issue 2010-10 first\n"
    )
    assert issue(settings, OCTOBER, "2010-11-02").exit_code == 0
    assert issue(settings, NOVEMBER, "2010-12-01").exit_code == 0
    with Ledger(settings.ledger.url) as ledger:
        assert ledger.issued_months()[-2:] == [OCTOBER, NOVEMBER] and ledger.verify().ok


# --- act 2: an issue date in the future, or not a date ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("issue_date", "message"),
    [
        (
            "2099-01-01",
            "issue date 2099-01-01 is after today (2012-12-31, Europe/Paris): invoices are not dated in the future",
        ),
        ("02/03/2012", "issue date '02/03/2012' is not a valid date (it is not written YYYY-MM-DD)"),
        ("2012-02-30", "issue date '2012-02-30' is not a valid date (day is out of range for month)"),
        ("2010-10-31", "issue date 2010-10-31 is before the end of 2010-10: issue it on or after 2010-11-01"),
    ],
)
def test_act2_bad_issue_dates_are_refused_in_one_line(settings, issue_date, message):
    result = issue(settings, OCTOBER, issue_date)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    with Ledger(settings.ledger.url) as ledger:
        assert OCTOBER not in ledger.issued_months()


def test_act2_a_month_not_over_cannot_be_issued(settings, monkeypatch):
    monkeypatch.setenv("SANSFILM_NOW", "2010-10-31T12:00:00")
    result = issue(settings, OCTOBER, "2010-10-31")
    assert result.exit_code == 2
    # one clock: the CLI sees the month is the current one before the ledger's own check (same rule, analytics.clock)
    assert "2010-10 has not ended: its figures are month to date" in " ".join(result.stderr.replace("│", " ").split())
    with Ledger(settings.ledger.url) as ledger:
        assert OCTOBER not in ledger.issued_months()


# --- act 3: re-issuing after a contract change changes nothing; documents are frozen ----------------------------------


def test_act3_reissue_after_renaming_the_buyer_changes_nothing_on_disk(settings):
    assert issue(settings, OCTOBER, "2010-11-02").exit_code == 0
    issued = documents(settings, OCTOBER)
    folder = settings.billing.out_dir / str(OCTOBER)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    registry = settings.contracts.dir / "establishments.csv"
    registry.write_text(
        registry.read_text(encoding="utf-8").replace("Hôpital Européen Georges-Pompidou", "HEGP AP-HP"),
        encoding="utf-8",
    )
    again = issue(settings, OCTOBER, "2010-11-03")
    assert again.exit_code == 0 and "already issued: nothing changed" in again.stderr
    assert documents(settings, OCTOBER) == issued
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    # rewritten from the ledger: the name as issued, the same bytes
    (folder / "RSF-000001.xml").unlink()
    (folder / "RSF-000001.pdf").write_bytes(b"%PDF-1.4 not the invoice")
    rewrite = cli(settings, "bill", "--month", "2010-10", "--rewrite-documents")
    assert rewrite.exit_code == 0, rewrite.output
    assert "rewrote 2 document(s) of 2010-10" in rewrite.stderr
    assert documents(settings, OCTOBER) == issued
    assert "Hôpital Européen Georges-Pompidou".encode() in issued["RSF-000001.xml"]
    assert cli(settings, "ledger", "verify").exit_code == 0


# --- act 4: kill -9 right after the ledger commit ----------------------------------------------------------------

KILLED_AFTER_COMMIT = """
import os, signal, sys
from analytics.billing import service
from pipelines.cli import app
service.write_month_documents = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
sys.argv = ["sansfilm", "--config", sys.argv[1], "bill", "--month", "2010-10", "--issue", "--issue-date", "2010-11-02"]
app()
"""


def test_act4_a_crash_after_the_commit_is_reported_and_repaired(settings):
    crashed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_COMMIT, str(settings.config_path)],
        env={**os.environ, "SANSFILM_NOW": "2012-12-31T12:00:00"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    with Ledger(settings.ledger.url) as ledger:
        assert [i.number for i in ledger.invoices_for_month(OCTOBER)] == ["RSF-000001"]  # numbered, no documents
    assert not (settings.billing.out_dir / "2010-10").exists()
    checks = check(settings)
    damaged = checks["invoice_documents_intact"]
    assert (damaged["severity"], damaged["passed"], damaged["observed"]) == ("error", False, 3)
    assert (
        "2010-10/RSF-000001.csv missing: `sansfilm bill --month 2010-10 --rewrite-documents`"
        in damaged["details"]["examples"]
    )
    assert checks["ledger_chain_verified"]["passed"]
    blocked = issue(settings, NOVEMBER, "2010-12-01")  # the next issue is blocked until the documents are back
    assert blocked.exit_code == 2 and "invoice_documents_intact" in blocked.stderr
    assert cli(settings, "bill", "--month", "2010-10", "--rewrite-documents").exit_code == 0
    assert check(settings)["invoice_documents_intact"]["passed"]
    assert issue(settings, NOVEMBER, "2010-12-01").exit_code == 0


# --- act 5: the sequence moved by hand --------------------------------------------------------------------------------


def test_act5_a_moved_sequence_is_refused_or_reported_never_skipped(settings):
    assert issue(settings, OCTOBER, "2010-11-02").exit_code == 0
    engine = sa.create_engine(Ledger(settings.ledger.url).sql_engine.url.render_as_string(hide_password=False))
    try:
        with pytest.raises(sa.exc.DBAPIError, match="moves only by issuing"), engine.begin() as conn:
            conn.exec_driver_sql("UPDATE invoice_sequence SET last_value = 100")
    finally:
        engine.dispose()
    with Ledger(settings.ledger.url) as ledger:
        drop_triggers(ledger)
    engine = sa.create_engine(Ledger(settings.ledger.url).sql_engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE invoice_sequence SET last_value = 100")
    engine.dispose()
    verify = cli(settings, "ledger", "verify")
    assert verify.exit_code == 1
    assert verify.stderr.splitlines()[0].endswith(
        "is BROKEN: the invoice sequence is at 100 but the last invoice is "
        "RSF-000001: the next number would be RSF-000101, leaving a gap"
    )
    assert not check(settings)["ledger_chain_verified"]["passed"]
    refused = issue(settings, NOVEMBER, "2010-12-01")
    assert refused.exit_code == 2 and "ledger_chain_verified" in refused.stderr
    with Ledger(settings.ledger.url) as ledger:
        assert [i.number for m in ledger.issued_months() for i in ledger.invoices_for_month(m)] == ["RSF-000001"]


# --- an edited document -----------------------------------------------------------------------------------------------


def test_an_edited_document_is_named_by_verify_and_check(settings):
    assert issue(settings, OCTOBER, "2010-11-02").exit_code == 0
    assert cli(settings, "ledger", "verify").exit_code == 0
    pdf = settings.billing.out_dir / "2010-10" / "RSF-000001.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"%% a comment added after issuing\n")
    verify = cli(settings, "ledger", "verify")
    assert verify.exit_code == 1 and "2010-10/RSF-000001.pdf altered" in verify.stderr
    assert not check(settings)["invoice_documents_intact"]["passed"]


# --- documents: the same bytes on any day -----------------------------------------------------------------------


def _render_all_on(day: date, invoices: list, monkeypatch) -> dict[str, dict[str, bytes]]:
    """Every invoice's documents rendered with the clocks the PDF libraries could read set to `day`."""
    import time as time_module
    from datetime import datetime

    import facturx.facturx

    from analytics.billing.documents import render_documents

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 - datetime's signature
            return cls(day.year, day.month, day.day, 9, 30, tzinfo=tz or UTC)

    instant = datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC).timestamp()
    with monkeypatch.context() as patched:
        patched.setattr(facturx.facturx, "datetime", Frozen)
        patched.setattr(time_module, "time", lambda: instant)
        return {i.number: render_documents(i) for i in invoices}


def test_every_issued_document_renders_to_the_same_bytes_on_two_days(corpus, monkeypatch):  # noqa: F811
    """March 2012 issued after the 23 months before it: 33 invoices (revised prices, regularisation-free), rendered
    from the ledger on two days: identical bytes, the SHA-256 recorded when they were numbered, the files on disk."""
    from tests.integration.test_billing import issue as issue_march

    issue_march(corpus, Month(2012, 3), date(2012, 4, 2))
    with Ledger(corpus.ledger.url) as ledger:
        months = ledger.issued_months()
        invoices = [i for m in months for i in ledger.invoices_for_month(m)]
        recorded = {n: kinds for m in months for n, kinds in ledger.documents(m).items()}
    assert len(invoices) == 33 and all(i.revision is not None for i in invoices if i.month >= Month(2011, 4))
    first = _render_all_on(date(2012, 4, 2), invoices, monkeypatch)
    second = _render_all_on(date(2031, 7, 14), invoices, monkeypatch)
    assert first == second
    for invoice in invoices:
        for kind, (name, sha) in recorded[invoice.number].items():
            data = first[invoice.number][kind]
            assert hashlib.sha256(data).hexdigest() == sha
            assert (corpus.billing.out_dir / str(invoice.month) / name).read_bytes() == data


def test_verify_tells_a_ledger_never_created_from_a_folder_that_is_not_there(tmp_path):
    """A ledger not created yet holds nothing issued; a [ledger] url whose folder does not exist (mistyped, a volume
    not mounted) is no empty ledger, and verify must not let it pass for one."""
    config = tmp_path / "sansfilm.toml"
    contracts = REPO / "data" / "samples" / "contracts"

    def verify(url: str) -> str:
        config.write_text(
            f'[ledger]\nurl = "{url}"\n[warehouse]\npath = "w.duckdb"\n[contracts]\ndir = "{contracts}"\n'
            '[archive]\nae_titles = ["X"]\n'
        )
        result = runner.invoke(app, ["--config", str(config), "ledger", "verify"])
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        return result.output.strip()

    (tmp_path / "data").mkdir()
    assert verify("sqlite:///data/ledger.sqlite") == (
        f"error: no ledger at sqlite:///{tmp_path}/data/ledger.sqlite yet: nothing was issued, nothing to verify"
    )
    assert verify("sqlite:///dta/ledger.sqlite") == (
        f"error: no ledger at sqlite:///{tmp_path}/dta/ledger.sqlite: its folder {tmp_path}/dta does not exist "
        "(nothing to verify); check [ledger] url in the configuration"
    )
    assert not (tmp_path / "dta").exists() and list((tmp_path / "data").iterdir()) == []  # reading created nothing
    # nor do the other readers of the ledger take a folder out of reach for a ledger with nothing in it
    listed = runner.invoke(app, ["--config", str(config), "payments", "list"])
    assert listed.exit_code == 2 and listed.output.strip().splitlines() == [
        f"error: no ledger at sqlite:///{tmp_path}/dta/ledger.sqlite: its folder {tmp_path}/dta does not exist "
        "(no payment can be listed); check [ledger] url in the configuration"
    ]
