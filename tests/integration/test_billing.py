"""Billing end to end on the tiny corpus: preview, issue, documents, re-issue, late data -> regularisation,
concurrent --issue from two processes, and the ledger on a real PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics import operations
from analytics.billing import service
from analytics.billing.contracts import load_contracts
from analytics.billing.documents import check_einvoice
from analytics.billing.ledger import Ledger
from analytics.config import Settings, load_settings
from analytics.periods import Month
from pipelines.cli import app
from tests.billing_history import TODAY, issue_until
from tests.dicom_factory import make_dicom
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)
from tests.tiny_corpus import CONFIG, make_tiny_corpus

MARCH, APRIL = Month(2012, 3), Month(2012, 4)
A, B = "750000015", "940000027"
# 2010-10 to 2012-02 issued before March (tests/billing_history.py): A's 17 invoices and B's 14 come first
A_MARCH, B_MARCH = "RSF-000032", "RSF-000033"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    """The CLI's issuing clock: the end of 2012 (never the wall clock)."""
    monkeypatch.setenv("SANSFILM_NOW", f"{TODAY}T12:00:00")  # analytics.clock, the one clock


def at(path: Path, when: str) -> Path:
    stamp = datetime.fromisoformat(when).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def received_in_march(settings) -> Settings:
    """The tiny corpus with its files received in March 2012 (inside the framework agreement), harvested and built,
    every month before March issued."""
    for i, path in enumerate(sorted(p for p in settings.sources[0].path.rglob("*") if p.is_file())):
        at(path, f"2012-03-0{i + 2}T10:00:00+01:00")
    operations.harvest(settings)
    operations.build_warehouse(settings)
    issue_until(settings, MARCH)
    return settings


@pytest.fixture(scope="module")
def march_template(tmp_path_factory) -> Path:
    return received_in_march(make_tiny_corpus(tmp_path_factory.mktemp("march"))).root


@pytest.fixture
def corpus(march_template, tmp_path) -> Settings:
    """A private copy of `received_in_march`, made once per module (the warehouse build is what costs): tests issue
    into its ledger and meter into its warehouse. Its raw tables name the first copy's file paths, so a test that
    harvests again takes `fresh_corpus`."""
    shutil.copytree(march_template, tmp_path / "corpus", symlinks=True)
    return load_settings(tmp_path / "corpus" / "sansfilm.toml")


@pytest.fixture
def fresh_corpus(tiny) -> Settings:
    """`received_in_march` made in the test's own folder, for tests that harvest again."""
    return received_in_march(tiny)


def issue(settings, month: Month, issue_date: date, **kwargs) -> service.IssueOutcome:
    return service.issue(settings, month, issue_date=issue_date, today=TODAY, **kwargs)


def cli(settings, *args: str):
    return runner.invoke(app, ["--config", str(settings.config_path), *args])


def issue_cli(settings, month: str, issue_date: str, *args: str):
    """`sansfilm bill --month M --issue --issue-date D ...`: the user's path to what issue() does in the service."""
    return cli(settings, "bill", "--month", month, "--issue", "--issue-date", issue_date, *args)


def bill(settings, *args: str) -> dict:
    result = cli(settings, "bill", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_preview_changes_nothing_and_follows_the_json_contract(corpus):
    preview = bill(corpus, "--month", "2012-03")
    assert preview["month"] == "2012-03"
    invoice = next(i for i in preview["invoices"] if i["establishment_id"] == A)
    assert set(invoice) == {"establishment_id", "offer", "active_days", "lines", "net", "vat", "gross", "revision"}
    assert set(invoice["lines"][0]) >= {"code", "description", "metric", "quantity", "unit_price", "amount"}
    # March 2012 is priced at the 2011 anniversary's coefficient: 0.15 + 0.85 x 235.4 / 229.0 = 1.02375... -> 1.0238
    assert invoice["revision"] == {
        "status": "applied",
        "index": "SYNTEC",
        "coefficient": "1.0238",
        "a": "0.15",
        "b": "0.85",
        "anniversary": "2011-04-01",
        "current": {"period": "2011-02", "value": "235.4", "published_on": "2011-03-29"},
        "base": {"period": "2009-10", "value": "229.0", "published_on": "2009-11-27"},
        "pending": None,
    }
    # 1800.00 x 1.0238 = 1842.84
    assert invoice["lines"][0] == {**invoice["lines"][0], "code": "SUBSCRIPTION", "metric": None, "amount": "1842.84"}
    studies = next(l for l in invoice["lines"] if l["metric"] == "studies_archived")
    # study .1 from A's files, and .2 to .5 known only from receipt events sent by A's AE title: 5 x 2.4571
    # (2.40 x 1.0238 = 2.45712, half-up to 4 decimals) = 12.2855 -> 12.29
    assert (studies["quantity"], studies["unit_price"], studies["amount"]) == ("5", "2.4571", "12.29")
    assert Decimal(invoice["gross"]) == Decimal(invoice["net"]) + Decimal(invoice["vat"])
    assert Ledger(corpus.ledger.url).issued_months()[-1] == Month(2012, 2)
    only_b = bill(corpus, "--month", "2012-03", "--establishment", B)
    assert [i["establishment_id"] for i in only_b["invoices"]] == [B]


def test_issue_writes_documents_and_reissue_changes_nothing(corpus, tmp_path):
    out = tmp_path / "out"
    first = issue_cli(corpus, "2012-03", "2012-04-02", "--out", str(out), "--format", "json")
    assert first.exit_code == 0, first.output
    issued = json.loads(first.stdout)["invoices"]
    assert [(i["establishment_id"], i["number"]) for i in issued] == [(A, A_MARCH), (B, B_MARCH)]
    files = sorted(p.name for p in (out / "2012-03").iterdir())
    assert files == [f"RSF-0000{n}.{ext}" for n in (32, 33) for ext in ("csv", "pdf", "xml")]
    assert check_einvoice((out / "2012-03" / f"{A_MARCH}.xml").read_bytes()) == []
    assert (out / "2012-03" / f"{A_MARCH}.pdf").read_bytes().startswith(b"%PDF")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "2012-03").iterdir()}
    again = issue_cli(corpus, "2012-03", "2012-04-03", "--out", str(out), "--format", "json")
    assert "already issued: nothing changed" in again.stderr
    assert json.loads(again.stdout)["invoices"] == issued
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "2012-03").iterdir()} == before


def test_late_data_after_issue_gives_regularisation_lines_next_month(fresh_corpus):
    corpus = fresh_corpus  # harvested again below
    issue(corpus, MARCH, date(2012, 4, 2))
    march_a = Ledger(corpus.ledger.url).invoices_for_month(MARCH)[0]
    # a study of A's, received in March, harvested only after March was issued
    late = make_dicom(
        corpus.sources[0].path / "late" / "IM9", study_uid="1.2.250.1.999.77", sop_uid="1.2.250.1.999.2.77"
    )
    at(late, "2012-03-28T16:00:00+02:00")
    operations.harvest(corpus)
    operations.build_warehouse(corpus)
    outcome = issue(corpus, APRIL, date(2012, 5, 2))
    april_a = next(i for i in outcome.invoices if i.establishment_id == A)
    regul = [l for l in april_a.lines if l.code.startswith("REGUL:")]
    # one more study at March's revised price 2.4571: 6 x 2.4571 = 14.7426 -> 14.74 instead of 5 x 2.4571 = 12.2855
    # -> 12.29, so +2.45; under the minimum commitment the top-up shrinks by as much (-2.45); the stored gigabytes
    # grow by a few kilobytes, a quantity correction worth 0.00
    assert {l.code: l.amount for l in regul} == {
        "REGUL:studies_archived:T1": Decimal("2.45"),
        "REGUL:MINIMUM": Decimal("-2.45"),
        "REGUL:storage_gb_month": Decimal("0.00"),
    }
    studies = next(l for l in regul if l.code == "REGUL:studies_archived:T1")
    assert (studies.quantity, studies.unit_price, studies.amount) == (Decimal(1), Decimal("2.4571"), Decimal("2.45"))
    # April is priced at the 2012 anniversary's coefficient (1.0419), the regularisation at March's (1.0238)
    assert april_a.revision.coefficient == Decimal("1.0419") and march_a.revision.coefficient == Decimal("1.0238")
    assert all(l.reference == march_a.number == A_MARCH for l in regul)
    # the issued March invoice itself is untouched
    assert Ledger(corpus.ledger.url).invoices_for_month(MARCH)[0] == march_a
    # and issuing May finds nothing more to correct
    may = issue(corpus, Month(2012, 5), date(2012, 6, 1))
    assert not [l for i in may.invoices for l in i.lines if l.code.startswith("REGUL:")]


def test_a_missing_index_value_refuses_issuing_and_writes_nothing(corpus, tmp_path):
    index = corpus.contracts.dir / "price_index.csv"
    # keep the values up to October 2010: at the 2011-04-01 anniversary, January 2011 (or later) is needed
    kept = [
        line
        for line in index.read_text(encoding="utf-8").splitlines(keepends=True)
        if not line.startswith(("SYNTEC,2010-11", "SYNTEC,2010-12", "SYNTEC,2011", "SYNTEC,2012"))
    ]
    index.write_text("".join(kept), encoding="utf-8")
    out = tmp_path / "out"
    result = issue_cli(corpus, "2012-03", "2012-04-02", "--out", str(out))
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "price index SYNTEC" in message and "2011-01" in message and "price_index.csv" in message
    assert "last listed before it is 2010-10" in message
    with Ledger(corpus.ledger.url) as ledger:
        assert MARCH not in ledger.issued_months() and ledger.invoices_for_month(MARCH) == []
    assert not out.exists()
    # a preview still works: the month is "revision pending", priced provisionally (first year: coefficient 1)
    preview = cli(corpus, "bill", "--month", "2012-03", "--format", "json")
    assert preview.exit_code == 0 and "revision pending" in preview.stderr
    invoice = json.loads(preview.stdout)["invoices"][0]
    assert (invoice["revision"]["status"], invoice["revision"]["coefficient"]) == ("pending", "1")
    assert invoice["lines"][0]["amount"] == "1800.00"


def test_a_folder_that_cannot_take_the_documents_is_refused_before_any_number(corpus, tmp_path, monkeypatch):
    """`--out` naming a file: refused in one line, nothing numbered (the next issue takes the numbers it would have
    taken). Documents failing after the numbering (the folder changed meanwhile): one line saying the month is
    issued, with its numbers, and the command that writes them."""
    (tmp_path / "afile").write_text("not a folder")
    refused = issue_cli(corpus, "2012-03", "2012-04-02", "--out", str(tmp_path / "afile"))
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: the documents of 2012-03 cannot be written under {tmp_path / 'afile'}")
    assert (
        refused.stderr.strip().endswith(
            "nothing was issued; give --out a folder sansfilm may write, or correct [billing] out_dir"
        )
        and refused.stderr.count("\n") == 1
    )
    assert Ledger(corpus.ledger.url).issued_months()[-1] == Month(2012, 2)
    service.require_writable(tmp_path / "tried", Month(2012, 3))  # the folder made if need be, not the month's
    assert (tmp_path / "tried").is_dir() and not (tmp_path / "tried" / "2012-03").exists()

    def fails(*_, **__):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(service, "write_month_documents", fails)
    out = tmp_path / "out"
    late = issue_cli(corpus, "2012-03", "2012-04-02", "--out", str(out))
    assert late.exit_code == 2
    assert late.stderr.strip() == (
        f"error: 2012-03 is issued ({A_MARCH} to {B_MARCH}) but its documents could not be written under "
        f"{out / '2012-03'} (Permission denied): make it writable, then run "
        f"`sansfilm bill --month 2012-03 --rewrite-documents --out {out}`"
    )
    monkeypatch.undo()
    assert cli(corpus, "bill", "--month", "2012-03", "--rewrite-documents", "--out", str(out)).exit_code == 0
    assert len(list((out / "2012-03").iterdir())) == 6


def test_a_preview_of_an_issued_month_says_so_and_an_unknown_establishment_is_refused(corpus, tmp_path):
    preview = cli(corpus, "bill", "--month", "2012-02")  # issued by the corpus
    with Ledger(corpus.ledger.url) as ledger:
        numbers = [i.number for i in ledger.invoices_for_month(Month(2012, 2))]
    assert preview.exit_code == 0 and "DRAFT" in preview.stdout
    assert preview.stderr == (
        f"2012-02 is issued ({numbers[0]} to {numbers[-1]}): these drafts are recomputed from today's data (late data "
        "is regularised on the next month's invoices); the issued invoices: `sansfilm bill --month 2012-02 --issue`, "
        "which changes nothing\n"
    )
    assert "is issued" not in cli(corpus, "bill", "--month", "2012-03").stderr
    unknown = cli(corpus, "bill", "--month", "2012-03", "--establishment", "999999999")
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("error: --establishment 999999999 is not in the registry (")
    assert unknown.stderr.strip().endswith("establishments.csv): give one of its FINESS numbers")


def test_months_are_issued_in_order(corpus):
    """April cannot go before March (the issue's act 1): refused in one line naming the month to issue first."""
    result = issue_cli(corpus, "2012-04", "2012-05-03")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: 2012-04 cannot be issued before 2012-03: months are issued in order from "
        "the agreement's first month (2010-04); issue 2012-03 first"
    )
    with Ledger(corpus.ledger.url) as ledger:
        assert ledger.issued_months()[-1] == Month(2012, 2)


def _issue_in_subprocess(config: Path, month: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "--config",
        str(config),
        "bill",
        "--month",
        month,
        "--issue",
        "--issue-date",
        "2012-07-01",
        "--format",
        "json",
    ]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2]
    )


def test_two_concurrent_issue_commands_number_without_gaps(corpus):
    first, second = (
        _issue_in_subprocess(corpus.config_path, "2012-03"),
        _issue_in_subprocess(corpus.config_path, "2012-03"),
    )
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    messages = sorted(err.strip().splitlines()[0] for _, err in outputs)
    assert messages[0].startswith("2012-03 was already issued") and messages[1].startswith("issued 2012-03")
    numbers = [i["number"] for out, _ in outputs for i in json.loads(out)["invoices"]]
    assert sorted(set(numbers)) == [A_MARCH, B_MARCH]


def test_ledger_on_a_real_postgresql(corpus, postgres_database, tmp_path):
    url = postgres_database()
    config = corpus.config_path.parent / "pg.toml"
    config.write_text(CONFIG.replace("[contracts]", f'[ledger]\nurl = "{url}"\n[contracts]'), encoding="utf-8")
    settings = load_settings(config)
    issue_until(settings, MARCH)
    outcome = issue(settings, MARCH, date(2012, 4, 2), out_dir=tmp_path / "docs")
    assert [i.number for i in outcome.invoices] == [A_MARCH, B_MARCH]
    stored = Ledger(url).invoices_for_month(MARCH)
    assert stored == outcome.invoices and stored[0].net == outcome.invoices[0].net
    assert issue(settings, MARCH, date(2012, 4, 3)).already_issued


def test_usage_json_contract_and_duplicated_logs_count_once(fresh_corpus):
    corpus = fresh_corpus  # harvested again below

    def usage() -> dict:
        result = cli(corpus, "usage", "--month", "2012-03", "--format", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    first = usage()
    assert set(first) == {"month", "establishments", "unattributed", "unbilled"}
    a = next(e for e in first["establishments"] if e["establishment_id"] == A)
    assert set(a) == {
        "establishment_id",
        "studies_archived",
        "instances_archived",
        "bytes_archived",
        "storage_gb_month",
        "retrievals",
        "shares",
        "views",
        "opinions",
        "opinions_on_call",
        "portal_views",
        "portal_practitioners",
    }
    assert a["studies_archived"] == 5 and a["opinions"] == 0 and isinstance(a["storage_gb_month"], str)
    assert first["unattributed"]["studies_archived"] == 1  # the Clinique Inconnue file
    log = corpus.sources[1].path / "archive.log"
    (corpus.sources[1].path / "archive-copy.log").write_bytes(log.read_bytes())  # the same events, harvested twice
    operations.harvest(corpus)
    operations.build_warehouse(corpus)
    assert usage() == first


def test_governance_command_counts_issued_invoices_and_drafts(corpus):
    issue(corpus, MARCH, date(2012, 4, 2))
    service.meter(corpus, [APRIL])
    operations.build_warehouse(corpus)  # publishes the metered usage for readers
    (corpus.contracts.dir / "commitments.csv").write_text(
        f"establishment_id,studies_per_year,amount_per_year\n{A},120,24000.00\n", encoding="utf-8"
    )
    result = cli(corpus, "governance", "--as-of", "2012-05-01", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # May 2012 to March 2015: 35 months still to be billed
    assert report["validity"] == {**report["validity"], "months_left": 35, "status": "valid", "as_of": "2012-05-01"}
    with Ledger(corpus.ledger.url) as ledger:
        issued = [i.net for m in ledger.issued_months() for i in ledger.invoices_for_month(m)]
    april = {
        i.establishment_id: i.net
        for i in service.draft_month(load_contracts(corpus), APRIL, service.meter(corpus, [APRIL])[APRIL])
    }
    # every issued month with an invoice (A's from its go-live, 2010-10), then April drafted
    assert report["months_counted"][0] == "2010-10" and report["months_counted"][-2:] == ["2012-03", "2012-04"]
    assert len(report["months_counted"]) == 19 and report["drafted_months"] == ["2012-04"]
    amount = next(c for c in report["ceiling"] if c["measure"] == "amount")
    consumed = sum(issued) + sum(april.values())
    assert (Decimal(amount["consumed"]), Decimal(amount["issued"])) == (consumed, sum(issued))
    assert Decimal(amount["share"]) == (consumed / Decimal("1500000.00")).quantize(Decimal("0.0001"))
    # 2012-04-01 starts the agreement's third year: A's April, its only month live in it so far, against 120 / 12
    (commitment,) = report["commitments"]
    assert (
        commitment["establishment_id"],
        commitment["months_live"],
        commitment["expected_studies"],
        commitment["expected_amount"],
    ) == (A, 1, "10", "2000.00")
    assert Decimal(commitment["actual_amount"]) == april[A]
    # a credit note takes its amount off the month of the invoice it corrects: consumed and issued, to the cent
    with Ledger(corpus.ledger.url) as ledger:
        corrected = ledger.invoices_for_month(MARCH)[0].number
    credited = cli(corpus, "credit", corrected, "--amount", "100.00", "--reason", "Geste commercial")
    assert credited.exit_code == 0, credited.output
    after = json.loads(cli(corpus, "governance", "--as-of", "2012-05-01", "--format", "json").stdout)
    amount = next(c for c in after["ceiling"] if c["measure"] == "amount")
    assert (Decimal(amount["consumed"]), Decimal(amount["issued"])) == (consumed - 100, sum(issued) - 100)
    assert after["months_counted"] == report["months_counted"] and after["commitments"] == report["commitments"]
    table = cli(corpus, "governance", "--as-of", "2014-06-01")
    # June 2014 to March 2015: 10 months still to bill
    assert table.exit_code == 0 and "10 months left" in table.stdout and "renouvellement à lancer" in table.stdout
