"""`sansfilm simulate` through the commands a user types, on a corpus nobody tuned to (another seed, size and start
month than the sample, starting with the agreement): samples -> run -> bill --issue -> simulate. With the current
tariff every delta is 0.00, issued months included; the ledger is byte- and row-identical after any simulation."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.billing.ledger import Ledger
from analytics.billing.simulation import own_month
from analytics.config import load_settings
from analytics.periods import Month
from tests.commands import sansfilm as run_sansfilm

NOW = "2010-07-10T12:00"  # the corpus's three months (April-June 2010) are finished


def sansfilm(*args: str, config: Path | None = None) -> subprocess.CompletedProcess:
    return run_sansfilm(*args, config=config, now=NOW)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("simulate") / "mine"
    made = sansfilm(
        "samples", "--out", str(out), "--seed", "11", "--establishments", "4", "--months", "3", "--start", "2010-04"
    )
    assert made.returncode == 0, made.stderr
    config = out / "sansfilm.toml"
    ran = sansfilm("run", config=config)
    assert ran.returncode == 0, ran.stderr
    assert "metered: 2010-04 to 2010-06; drafts of 3 finished month(s)" in ran.stdout
    for month in ("2010-04", "2010-05"):
        issued = sansfilm("bill", "--month", month, "--issue", config=config)
        assert issued.returncode == 0, issued.stderr
    return config


def ledger_state(config: Path) -> tuple[str, dict[str, list]]:
    """The ledger file's SHA-256 and every row of every table."""
    path = Path(load_settings(config).ledger.url.removeprefix("sqlite:///"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [t for (t,) in con.execute("select name from sqlite_master where type = 'table' order by 1")]
        return digest, {t: con.execute(f'select * from "{t}" order by 1').fetchall() for t in tables}
    finally:
        con.close()


def simulate(config: Path, *args: str) -> dict:
    result = sansfilm("simulate", *args, "--format", "json", config=config)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_current_tariff_gives_zero_deltas_and_issued_months_count_as_billed(corpus):
    settings = load_settings(corpus)
    before = ledger_state(corpus)
    data = simulate(corpus, "--tariff", str(settings.contracts.dir / "framework.yaml"))
    assert list(data)[:5] == ["from", "to", "current_net", "simulated_net", "establishments"]
    assert (data["from"], data["to"], data["months"]) == ("2010-04", "2010-06", ["2010-04", "2010-05", "2010-06"])
    assert data["current_net"] == data["simulated_net"] and Decimal(data["current_net"]) > 0
    assert {e["delta"] for e in data["establishments"]} == {"0.00"}
    for row in data["establishments"]:
        assert list(row)[:5] == ["establishment_id", "offer", "current_net", "simulated_net", "delta"]
        assert all(isinstance(row[k], str) for k in ("current_net", "simulated_net", "delta"))
    # what the two issued months billed (their own lines) is in the current figures, to the cent
    with Ledger(settings.ledger.url, read_only=True) as ledger:
        issued = [own_month(i) for m in ("2010-04", "2010-05") for i in ledger.invoices_for_month(Month.parse(m))]
    assert issued and sum(e["issued_months"] for e in data["establishments"]) == len(issued)
    only_issued = simulate(corpus, "--tariff", str(settings.contracts.dir / "framework.yaml"), "--to", "2010-05")
    assert Decimal(only_issued["current_net"]) == sum((i.net for i in issued), Decimal("0.00"))
    assert ledger_state(corpus) == before


@pytest.mark.parametrize("name", ["a_storage_cut.yaml", "b_bundle.yaml"])
def test_a_proposal_is_simulated_without_writing_to_the_ledger(corpus, name):
    settings = load_settings(corpus)
    before = ledger_state(corpus)
    data = simulate(corpus, "--tariff", str(settings.contracts.dir / "proposals" / name), "--from", "2010-05")
    assert data["from"] == "2010-05" and data["months"] == ["2010-05", "2010-06"]
    assert data["proposal"]["laid_over"] is True
    rows = data["establishments"]
    assert Decimal(data["simulated_net"]) == sum(Decimal(r["simulated_net"]) for r in rows)
    assert all(Decimal(r["delta"]) == Decimal(r["simulated_net"]) - Decimal(r["current_net"]) for r in rows)
    table = sansfilm("simulate", "--tariff", str(settings.contracts.dir / "proposals" / name), config=corpus)
    assert table.returncode == 0 and "laid over the current agreement" in table.stdout
    assert ", months 2010-04 to 2010-06 (3), net of VAT, EUR" in table.stdout.splitlines()[0]
    # a range reaching outside the metered months: the header names the months simulated, and those asked
    proposal = str(settings.contracts.dir / "proposals" / name)
    wider = sansfilm("simulate", "--tariff", proposal, "--from", "2009-01", "--to", "2010-05", config=corpus)
    assert wider.returncode == 0, wider.stderr
    assert (
        ", months 2010-04 to 2010-05 (2, the metered ones of 2009-01 to 2010-05), net of VAT, EUR"
        in wider.stdout.splitlines()[0]
    )
    assert ledger_state(corpus) == before


def test_bad_input_is_one_line_naming_what_is_wrong(corpus, tmp_path):
    settings = load_settings(corpus)
    bad = tmp_path / "bad.yaml"
    text = (settings.contracts.dir / "proposals" / "b_bundle.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace('monthly_fee: "1900.00"', 'monthly_fee: "1 900,00"'), encoding="utf-8")
    line = next(i for i, t in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1) if "1 900,00" in t)
    for args, expected in [
        (("--tariff", str(bad)), f"{bad}, line {line}, field 'offers.PACS.monthly_fee'"),
        (("--tariff", str(tmp_path / "none.yaml")), "the proposed tariff file does not exist"),
        (("--tariff", str(bad), "--from", "2010-13"), "--from '2010-13' is not a month (YYYY-MM)"),
        (("--tariff", str(settings.contracts.dir / "framework.yaml"), "--from", "2011-01"), "no metered month"),
    ]:
        result = sansfilm("simulate", *args, config=corpus)
        assert result.returncode == 2 and result.stdout == "", result.stdout
        assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
