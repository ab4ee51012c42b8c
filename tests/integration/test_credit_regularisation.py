"""A month corrected by a credit note is not corrected a second time by a regularisation (issue 15), on SQLite and
on a real PostgreSQL, through the commands a finance officer types.

The tiny corpus: A's October 2010 invoice RSF-000001 bills the subscription (1 800.00) and the top-up to the minimum
(2 500.00: no usage). Finance credits the top-up line; then a study of A's received in October arrives late. The
recomputed October bills the study and a top-up reduced by as much; the next invoice's regularisation must bring
October to that recomputed net from what is still billed after the credit note (1 800.00), not from the invoice as
issued (which would credit the study a second time: October would end at 1 800.00)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from analytics import operations
from analytics.billing import service
from analytics.billing.model import Month
from analytics.config import Settings
from pipelines.cli import app
from tests.billing_history import issue_until
from tests.dicom_factory import make_dicom
from tests.integration.test_billing import at
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)
from tests.tiny_corpus import with_ledger

A, OCTOBER, DECEMBER = "750000015", Month(2010, 10), Month(2010, 12)
runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tiny, monkeypatch) -> Settings:
    monkeypatch.setenv("SANSFILM_NOW", "2011-02-05T12:00:00")
    if request.param == "postgresql":
        tiny = with_ledger(tiny, request.getfixturevalue("postgres_database")())
    operations.harvest(tiny)
    operations.build_warehouse(tiny)
    issue_until(tiny, DECEMBER, today=date(2010, 12, 31))  # October and November
    return tiny


def cli(settings: Settings, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(settings.config_path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def regularising(settings: Settings, number: str) -> dict[str, Decimal]:
    """Code -> amount of the regularisation lines that December's invoices would carry for invoice `number`."""
    found: dict[str, Decimal] = {}
    for invoice in service.preview(settings, DECEMBER):
        for line in invoice.lines:
            if line.reference == number and line.code.startswith("REGUL:"):
                found[line.code] = found.get(line.code, Decimal("0.00")) + line.amount
    return found


def test_a_late_study_after_a_credit_note_regularises_from_what_is_still_billed(settings):
    note = json.loads(
        cli(settings, "credit", "RSF-000001", "--lines", "2", "--reason", "Minimum non dû", "--format", "json")
    )
    assert note["net"] == "-2500.00"
    assert regularising(settings, "RSF-000001") == {}  # no data changed: the credit stands as finance made it

    late = make_dicom(
        settings.sources[0].path / "late" / "IM9", study_uid="1.2.250.1.999.77", sop_uid="1.2.250.1.999.2.77"
    )
    at(late, "2010-10-20T10:00:00+02:00")
    operations.harvest(settings)
    operations.build_warehouse(settings)
    (recomputed,) = [i for i in service.preview(settings, OCTOBER) if i.establishment_id == A]
    codes = {line.code: line.amount for line in recomputed.lines}
    assert Decimal("0.00") < codes["MINIMUM"] < Decimal("2500.00") and recomputed.net == Decimal("4300.00")

    regul = regularising(settings, "RSF-000001")
    billed = Decimal("4300.00") + Decimal(note["net"])  # RSF-000001 less its credit note
    assert billed + sum(regul.values()) == recomputed.net  # October ends billed as recomputed, once
    assert regul["REGUL:MINIMUM"] == codes["MINIMUM"]  # the credited top-up restarts from 0.00, not from 2 500.00
    assert "REGUL:SUBSCRIPTION" not in regul

    # issued: the regularisation is recorded once, and the next month finds nothing left to regularise
    cli(settings, "bill", "--month", "2010-12", "--issue")
    december = {n: d for n, d in accounts(settings).items() if d["month"] == "2010-12"}
    assert len(december) == 1
    (invoice,) = [i for i in service.preview(settings, Month(2011, 1)) if i.establishment_id == A]
    assert not [line for line in invoice.lines if line.reference == "RSF-000001"]  # nothing left to regularise


def accounts(settings: Settings) -> dict[str, dict]:
    return {d["number"]: d for d in json.loads(cli(settings, "payments", "list", "--format", "json"))["documents"]}
