"""The user's loop on a corpus nobody tuned to (another seed, size and start month than the sample), through the
commands a user types: `sansfilm samples` -> `sansfilm run` on its own config -> every dashboard page of every role in
Chromium -> every notebook executed with parameters -> `usage`, `bill`, `check`, `governance`.

The clock is set inside the corpus's last month (SANSFILM_NOW), so that month is metered as month to date and
labelled so, and the three before it are finished and drafted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from analytics.config import load_settings
from dashboards.ui import PAGES
from tests.dashboards.browser import chromium, login, streamlit_server
from tests.dashboards.test_e2e import need_chromium
from tests.integration.test_notebooks import execute, kernel_dir  # noqa: F401  kernel_dir is a fixture

pytestmark = pytest.mark.e2e
SANSFILM = str(Path(sys.executable).with_name("sansfilm"))
NOW = "2013-12-15T12:00"
PASSWORD = "loop-Chromium-2013-12"
ROLES = ("gcs", "finance", "ars", "operator")


def sansfilm(*args: str, config: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SANSFILM_NOW": NOW, "SANSFILM_PASSWORD": PASSWORD}
    result = subprocess.run(
        [SANSFILM, *(["--config", str(config)] if config else []), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """samples -> run, as a new user does; returns the corpus's config."""
    out = tmp_path_factory.mktemp("loop") / "mine"
    made = sansfilm(
        "samples", "--out", str(out), "--seed", "7", "--establishments", "5", "--months", "4", "--start", "2013-09"
    )
    assert made.returncode == 0, made.stderr
    config = out / "sansfilm.toml"
    ran = sansfilm("run", config=config)
    assert ran.returncode == 0, ran.stderr
    assert "metered: 2013-09 to 2013-12 (2013-12 month to date); drafts of 3 finished month(s)" in ran.stdout
    return config


@pytest.fixture(scope="module")
def establishment(corpus) -> str:
    """An establishment with usage in the month-to-date month (from the published warehouse)."""
    con = duckdb.connect(str(load_settings(corpus).published_path), read_only=True)
    try:
        (found,) = con.execute("""select establishment_id from marts.fct_usage_daily where month = '2013-12'
                                  and establishment_id <> 'UNATTRIBUTED' group by 1
                                  order by sum(studies_archived + views) desc, 1 limit 1""").fetchone()
    finally:
        con.close()
    return found


def test_run_leaves_readers_every_month_metered_and_the_finished_ones_drafted(corpus):
    settings = load_settings(corpus)
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        metered = con.execute(
            "select month, month_to_date, metered_through::varchar from marts.fct_metered_months order by 1"
        ).fetchall()
        usage_months = [
            m for (m,) in con.execute("select distinct month from marts.fct_usage_daily order by 1").fetchall()
        ]
    finally:
        con.close()
    assert metered == [
        ("2013-09", False, "2013-09-30"),
        ("2013-10", False, "2013-10-31"),
        ("2013-11", False, "2013-11-30"),
        ("2013-12", True, "2013-12-15"),
    ]
    assert usage_months == ["2013-09", "2013-10", "2013-11", "2013-12"]
    drafts = settings.billing.out_dir / "drafts"
    assert sorted(p.name for p in drafts.iterdir()) == ["2013-09", "2013-10", "2013-11"]
    assert all((drafts / m / "invoices.json").is_file() for m in ("2013-09", "2013-10", "2013-11"))
    assert (settings.lake.root / "raw" / "audit_events").exists()


def test_every_page_of_every_role_in_chromium(corpus, establishment):
    need_chromium()
    users = {role: role for role in ROLES} | {"site": f"establishment:{establishment}"}
    for name, role in users.items():
        added = sansfilm("users", "add", name, "--role", role, config=corpus)
        assert added.returncode == 0, added.stderr
    with streamlit_server(load_settings(corpus)) as url, chromium() as browser:
        for name, role in users.items():
            page = login(browser, url, name, PASSWORD)
            kind = role.split(":")[0]
            titles = [title for section in PAGES.values() for _, title, _, roles in section if kind in roles]
            assert titles
            for title in titles:
                link = page.get_by_role("link", name=title)
                if link.count():  # a role with a single page has no navigation menu
                    link.first.click()
                page.locator('[data-testid="stMetric"], [data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
                page.wait_for_timeout(500)
                text = page.locator("body").inner_text()
                assert not page.locator('[data-testid="stException"]').count(), f"{name} / {title}"
                assert "n'a pas pu être affichée" not in text and "Traceback" not in text, f"{name} / {title}: {text}"
                assert "mois en cours, chiffres arrêtés au 15/12/2013" in text, (name, title)
            page.close()


@pytest.mark.parametrize(
    "name,parameters",
    [
        ("explain_invoice", {"MONTH": "2013-10"}),
        ("explain_invoice", {}),
        ("regional_volumes", {"FIRST_MONTH": "2013-10", "LAST_MONTH": "2013-11"}),
        ("storage_forecast", {"HORIZON": 6}),
        ("next_agreement", {"PROPOSAL": "a_storage_cut.yaml", "FIRST_MONTH": "2013-10"}),
    ],
)
def test_every_notebook_runs_on_the_corpus_with_parameters(
    corpus,
    establishment,
    name,
    parameters,
    kernel_dir,  # noqa: F811
    tmp_path,
):
    if name == "explain_invoice" and parameters:
        parameters = {**parameters, "ESTABLISHMENT": establishment}
    settings = load_settings(corpus)
    nb, found = execute(name, settings, kernel_dir, tmp_path, "'ok': True", parameters)
    assert found["ok"]
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    if name == "explain_invoice" and not parameters:  # default: the latest metered month, said to be month to date
        assert "month: 2013-12 (month to date, through 2013-12-15)" in printed
    if name == "storage_forecast":
        assert "latest metered month: 2013-12 (month to date, through 2013-12-15)" in printed


def test_usage_bill_check_and_governance_succeed(corpus, establishment):
    for fmt in ("table", "csv", "json"):
        usage = sansfilm("usage", "--month", "2013-12", "--format", fmt, config=corpus)
        assert usage.returncode == 0, usage.stderr
        bill = sansfilm("bill", "--month", "2013-11", "--format", fmt, config=corpus)
        assert bill.returncode == 0, bill.stderr
    assert (
        "usage 2013-12 (month to date, through 2013-12-15)"
        in sansfilm("usage", "--month", "2013-12", config=corpus).stdout
    )
    as_json = sansfilm("usage", "--month", "2013-12", "--format", "json", config=corpus)
    report = json.loads(as_json.stdout)  # the contract's shape; the label on stderr
    assert as_json.stderr == "2013-12: month to date, through 2013-12-15 (figures grow until the month ends)\n"
    assert any(e["establishment_id"] == establishment for e in report["establishments"])
    draft = sansfilm("bill", "--month", "2013-12", "--establishment", establishment, config=corpus)
    assert draft.returncode == 0 and "(month to date, through 2013-12-15)" in draft.stdout, draft.stderr
    check = sansfilm("check", config=corpus)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr
    governance = sansfilm("governance", "--as-of", "2013-12-15", config=corpus)
    assert governance.returncode == 0, governance.stderr
    assert "months counted: 2013-09 to 2013-11" in governance.stdout


def test_simulating_the_current_tariff_changes_nothing(corpus):
    """Every metered month of the agreement, the month to date included and said so: deltas of 0.00."""
    contracts = load_settings(corpus).contracts.dir
    current = sansfilm("simulate", "--tariff", str(contracts / "framework.yaml"), "--format", "json", config=corpus)
    assert current.returncode == 0, current.stderr
    data = json.loads(current.stdout)
    assert (data["from"], data["to"]) == ("2013-09", "2013-12")
    assert data["month_to_date"] == {"2013-12": "2013-12-15"}
    assert current.stderr == "2013-12 month to date, through 2013-12-15 (figures grow until the month ends)\n"
    assert data["current_net"] == data["simulated_net"] and {e["delta"] for e in data["establishments"]} == {"0.00"}
    bundle = sansfilm("simulate", "--tariff", str(contracts / "proposals" / "b_bundle.yaml"), config=corpus)
    assert bundle.returncode == 0 and "total" in bundle.stdout, bundle.stderr
