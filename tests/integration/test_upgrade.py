"""`sansfilm upgrade` on an installation left by sansfilm v0.1.0 (committed fixtures, tests/v010.py), on SQLite and on
a real PostgreSQL: every invoice, line, number, amount, raw record and file state is carried over, the documents are
unchanged, `check` passes and the next month is issued; commands refuse the old schema in one line before it."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from analytics.billing.ledger import Ledger
from analytics.config import load_settings
from analytics.periods import Month
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)
from tests.v010 import (
    CORPUS,
    documents_as_issued,
    installation,
    issued_documents,
    ledger_rows,
    load_postgres,
    raw_rows,
    sansfilm,
)

NEXT = "2010-07"  # the month after the three v0.1.0 issued


@pytest.fixture(params=["sqlite", "postgresql"])
def v010(request, tmp_path) -> Path:
    if request.param == "sqlite":
        return installation(tmp_path / "site")
    url = request.getfixturevalue("postgres_database")()
    load_postgres(url)
    return installation(tmp_path / "site", ledger_url=url)


def _one_line_refusal(result, wanted: str) -> None:
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert wanted in message, message


@pytest.mark.slow
def test_upgrade_keeps_every_record(v010):
    settings = load_settings(v010)
    url, warehouse_file = settings.ledger.url, settings.warehouse.path
    ledger_before, raw_before = ledger_rows(url), raw_rows(warehouse_file)
    assert [len(ledger_before[t]) for t in ("issued_month", "invoice")] == [3, 9]
    assert len(raw_before["dicom_instances"][1]) > 0 and len(raw_before["harvest_files"][1]) > 0

    # before the upgrade every command that reads a store refuses it in one line naming the command to run
    _one_line_refusal(sansfilm(v010, "bill", "--month", NEXT), "run `sansfilm upgrade`")
    _one_line_refusal(sansfilm(v010, "harvest"), "run `sansfilm upgrade`")
    _one_line_refusal(sansfilm(v010, "check"), "run `sansfilm upgrade`")
    _one_line_refusal(sansfilm(v010, "usage", "--month", NEXT), "run `sansfilm upgrade`")
    _one_line_refusal(sansfilm(v010, "run"), "run `sansfilm upgrade`")

    dry = sansfilm(v010, "upgrade", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would upgrade" in dry.stdout and "nothing was changed" in dry.stdout
    assert not list(v010.parent.rglob("*.bak"))
    _one_line_refusal(sansfilm(v010, "bill", "--month", NEXT), "run `sansfilm upgrade`")  # still the old schema

    done = sansfilm(v010, "upgrade")
    assert done.exit_code == 0, done.output
    copies = sorted(v010.parent.rglob("*.bak"))
    assert [p.name.split(".v0001-")[0] for p in copies] == (
        ["ledger.sqlite", "sansfilm.duckdb"] if url.startswith("sqlite") else ["sansfilm.duckdb"]
    )
    assert all(str(p) in done.stdout for p in copies)
    raw_columns = {table: columns for table, (columns, _) in raw_before.items()}
    assert raw_rows(next(p for p in copies if "duckdb" in p.name), raw_columns) == raw_before  # the copy is whole
    # raw migration 0003 turns the path of every table but harvest_files into its file key: compared apart
    kept = {
        table: [c for c in columns if c != "path" or table == "harvest_files"] for table, columns in raw_columns.items()
    }
    raw_before = raw_rows(next(p for p in copies if "duckdb" in p.name), kept)
    again = sansfilm(v010, "upgrade")
    assert again.exit_code == 0 and again.stdout.count("up to date") == 2, again.output

    # every invoice, line, usage, revision, number and amount, every raw record and file state: unchanged
    ledger_after = ledger_rows(url)
    assert {t: rows for t, rows in ledger_after.items() if t in ledger_before} == ledger_before
    assert {"quality_run", "quality_result"} <= set(ledger_after)  # made now where v0.1.0 never ran `check`
    assert raw_rows(warehouse_file, kept) == raw_before
    _paths_became_file_keys(next(p for p in copies if "duckdb" in p.name), warehouse_file)
    with Ledger(url) as ledger:
        assert [str(m) for m in ledger.issued_months()] == list(CORPUS["issued"])
        issued = [i for m in ledger.issued_months() for i in ledger.invoices_for_month(m)]
    assert [i.number for i in issued] == [f"RSF-{n:06d}" for n in range(1, 10)]
    stored = {r["number"]: (r["net"], r["vat"], r["gross"]) for r in ledger_before["invoice"]}
    assert {i.number: (str(i.net), str(i.vat), str(i.gross)) for i in issued} == stored

    # the hash chain computed by revision 0002 from the rows holds, and so does the numbering
    verified = sansfilm(v010, "ledger", "verify")
    assert verified.exit_code == 0, verified.output

    # the documents issued by v0.1.0 are untouched, byte for byte
    assert issued_documents(settings.billing.out_dir) == documents_as_issued()
    # the XML and CSV re-rendered from the ledger are those v0.1.0 wrote (its PDFs carried their writing time)
    xml = sorted(name for name in documents_as_issued() if name.endswith(".xml"))[0]
    month = xml.split("/")[0]
    for name in (xml, xml.removesuffix(".xml") + ".csv"):
        (settings.billing.out_dir / name).unlink()
    rewritten = sansfilm(v010, "bill", "--month", month, "--rewrite-documents")
    assert rewritten.exit_code == 0, rewritten.output
    assert issued_documents(settings.billing.out_dir) == documents_as_issued()

    # the platform runs on the upgraded stores: harvest (rebuilds the marts), check, and the next month is issued
    harvested = sansfilm(v010, "harvest", "--format", "json")
    assert harvested.exit_code == 0, harvested.output
    checked = sansfilm(v010, "check", "--format", "json")
    assert checked.exit_code == 0, checked.output
    assert all(c["passed"] for c in json.loads(checked.stdout)["checks"] if c["severity"] == "error")
    issued_next = sansfilm(v010, "bill", "--month", NEXT, "--issue", "--issue-date", "2010-08-05", "--format", "json")
    assert issued_next.exit_code == 0, issued_next.output
    with Ledger(url) as ledger:
        numbers = [i.number for i in ledger.invoices_for_month(Month.parse(NEXT))]
    assert numbers and numbers[0] == "RSF-000010"
    assert {k: v for k, v in issued_documents(settings.billing.out_dir).items() if not k.startswith(NEXT)} == (
        documents_as_issued()
    )
    con = duckdb.connect(str(warehouse_file), read_only=True)
    try:
        assert con.execute("select max(version) from raw.schema_version").fetchall()[0][0] >= 1
    finally:
        con.close()


def _paths_became_file_keys(before: Path, after: Path) -> None:
    """Each record's path is now the key of that path (analytics.file_keys), with the warehouse's own salt."""
    from analytics.file_keys import file_key

    tables = ("dicom_instances", "audit_events")
    old, new = duckdb.connect(str(before), read_only=True), duckdb.connect(str(after), read_only=True)
    try:
        (salt,) = new.execute("select salt from raw.file_key_salt").fetchone()
        for table in tables:
            paths = old.execute(f"select record_key, source, path from raw.{table} order by 1").fetchall()
            keys = new.execute(f"select record_key, file_key from raw.{table} order by 1").fetchall()
            assert keys == [(record, file_key(salt, source, path)) for record, source, path in paths] and keys
        states = new.execute("select source, path, file_key from raw.harvest_files").fetchall()
        assert all(key == file_key(salt, source, path) for source, path, key in states) and states
    finally:
        old.close()
        new.close()
