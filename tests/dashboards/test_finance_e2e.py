"""End to end (issue 15): `streamlit run` on loopback, Debian's Chromium driven by Playwright. Finance logs in,
issues February 2012 from the Factures page, credits one line of one invoice, records a payment, marks an invoice
sent to the outbox; the CLI then shows the same numbers, statuses and documents. Then two browser sessions click
"Émettre" on March at once: one issues, the other is told it is done. On a copy of the published sample (January
2012 issued), the clock on 31 December 2012."""

from __future__ import annotations

import io
import json
import re
import shutil
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from analytics.config import load_settings
from pipelines.cli import app
from tests.dashboards.browser import chromium, login, streamlit_server
from tests.dashboards.conftest import PASSWORD
from tests.dashboards.test_e2e import SHOTS, need_chromium

pytestmark = pytest.mark.e2e
NOW = "2012-12-31T12:00:00"
TIMEOUT = 180_000  # an issue meters, runs the data-quality gate and renders every document


@pytest.fixture(scope="module")
def corpus(published, tmp_path_factory):
    root = tmp_path_factory.mktemp("finance-e2e") / "corpus"
    shutil.copytree(published.root, root)
    return load_settings(root / "sansfilm.toml")


@pytest.fixture(scope="module")
def server(corpus, accounts_file):
    need_chromium()
    with streamlit_server(corpus, {"SANSFILM_ACCOUNTS": accounts_file, "SANSFILM_NOW": NOW}) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as launched:
        yield launched


def factures(browser, server):
    page = login(browser, server, "finance", PASSWORD)
    link = page.get_by_role("link", name="Factures")
    if link.count():
        link.first.click()
    page.get_by_role("button", name="Émettre", exact=True).wait_for(timeout=TIMEOUT)
    return page


def choose(page, key: str, text: str) -> None:
    """Pick an option of a Streamlit selectbox or multiselect by typing it."""
    box = page.locator(f".st-key-{key} input").first
    box.click()
    box.fill(text)
    page.locator('[role="option"]', has_text=text).first.click()


def fill(page, key: str, text: str) -> None:
    field = page.locator(f".st-key-{key} input").first
    field.fill(text)
    field.press("Tab")  # Streamlit takes a text input's value when it loses focus


def outcome(page, pattern: str) -> str:
    alert = page.locator('[data-testid="stAlert"]', has_text=re.compile(pattern)).first
    alert.wait_for(timeout=TIMEOUT)
    return alert.inner_text()


def acts_block(page):
    """The tabs of the four acts (the page has other tabs above)."""
    return page.locator('[data-testid="stTabs"]', has=page.get_by_role("tab", name="Paiement")).first


def doc_shot(page, name: str, target=None, viewport: tuple[int, int] = (1440, 2400)) -> None:
    """build/screenshots/billing-<name>.png for docs/billing.md: `target` (a locator) alone, else the viewport, in 64
    colours (a few tens of KB). docs/screenshots/ holds copies: `cp build/screenshots/billing-*.png docs/screenshots/`
    after running this module. The viewport is made tall enough for the whole target: Streamlit's tables draw only
    the rows in view."""
    from PIL import Image

    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.wait_for_timeout(1000)  # the page lays out again, and Streamlit's fade-in of a rerun ends
    png = target.screenshot(animations="disabled") if target is not None else page.screenshot(animations="disabled")
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64, dither=Image.Dither.NONE)
    image.save(SHOTS / f"billing-{name}.png", optimize=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def cli(settings, *args: str):
    result = CliRunner().invoke(app, ["--config", str(settings.config_path), *args], env={"SANSFILM_NOW": NOW})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_finance_issues_credits_records_a_payment_and_sends_from_the_page(browser, server, corpus):
    page = factures(browser, server)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_text("Je confirme l'émission de").click()
    page.get_by_role("button", name="Émettre", exact=True).wait_for(timeout=TIMEOUT)
    doc_shot(page, "issue", acts_block(page))  # the month's drafts, regularisations and gate, confirmed
    page.get_by_role("button", name="Émettre", exact=True).click()
    issued = outcome(page, "2012-02 émis")
    first, last = re.search(r"(RSF-\d{6}) à (RSF-\d{6})", issued).groups()
    page.screenshot(path=str(SHOTS / "finance-issue.png"), full_page=True)

    page.get_by_role("tab", name="Avoir").click()
    choose(page, "desk_credit_number", first)
    page.locator(".st-key-desk_credit_scope").get_by_text("lignes").click()
    choose(page, "desk_credit_lines", "1 · ")
    fill(page, "desk_credit_reason", "Abonnement facturé deux fois")
    page.get_by_role("button", name="Émettre l'avoir").click()
    credited = outcome(page, "Avoir RSF-")
    credit_number = re.search(r"Avoir (RSF-\d{6})", credited).group(1)
    page.screenshot(path=str(SHOTS / "finance-credit.png"), full_page=True)
    page.get_by_role("tab", name="Avoir").click()
    doc_shot(page, "credit", acts_block(page))

    page.get_by_role("tab", name="Paiement").click()
    choose(page, "desk_pay_number", last)
    fill(page, "desk_pay_amount", "100.00")
    fill(page, "desk_pay_reference", "VIR TRESOR 0042")
    page.get_by_role("button", name="Enregistrer le paiement").click()
    outcome(page, f"Paiement de 100.00 € enregistré sur {last}")
    page.get_by_role("tab", name="Paiement").click()
    doc_shot(page, "payment", acts_block(page))

    page.get_by_role("tab", name="Envoyer").click()
    choose(page, "desk_send_number", first)
    page.get_by_role("button", name="Marquer envoyé").click()
    outcome(page, f"{first} envoyé \\(outbox\\)")
    page.get_by_role("tab", name="Envoyer").click()
    doc_shot(page, "send", acts_block(page))
    page.screenshot(path=str(SHOTS / "finance-follow-up.png"), full_page=True)
    # the statuses after the acts: the latest rows (February's invoices, the credit note), every column in view
    page.set_viewport_size({"width": 2200, "height": 900})
    heading = page.get_by_role("heading", name="Suivi des factures et avoirs")
    heading.evaluate("e => e.scrollIntoView({block: 'start'})")
    grid = heading.locator("xpath=following::*[@data-testid='stDataFrame'][1]")
    grid.hover()
    page.mouse.wheel(0, 20_000)  # the grid scrolls to its last rows
    doc_shot(page, "follow-up", viewport=(2200, 900))
    assert not page.locator('[data-testid="stException"]').count()
    page.close()

    # the CLI shows the same numbers, statuses and documents
    listed = {d["number"]: d for d in json.loads(cli(corpus, "payments", "list", "--format", "json"))["documents"]}
    assert listed[credit_number]["kind"] == "credit_note" and listed[credit_number]["references"] == [first]
    assert listed[first]["status"] == "sent"
    assert Decimal(listed[first]["credited"]) == -Decimal(listed[credit_number]["gross"]) > 0
    assert (listed[last]["status"], listed[last]["paid"]) == ("partly paid", "100.00")
    bill = json.loads(cli(corpus, "bill", "--month", "2012-02", "--issue", "--format", "json"))  # issued: unchanged
    assert (bill["invoices"][0]["number"], bill["invoices"][-1]["number"]) == (first, last)
    assert {i["number"]: i["gross"] for i in bill["invoices"]} == {
        n: d["gross"] for n, d in listed.items() if d["month"] == "2012-02" and d["kind"] == "invoice"
    }
    folder = corpus.billing.out_dir / "2012-02"
    assert {p.name for p in folder.glob(f"{credit_number}.*")} == {
        f"{credit_number}.{k}" for k in ("pdf", "xml", "csv")
    }
    assert (corpus.billing.outbox / f"{first}.pdf").read_bytes() == (folder / f"{first}.pdf").read_bytes()
    acts = json.loads(cli(corpus, "ledger", "acts", "--format", "json"))["acts"]
    assert [(a["kind"], a["actor"]) for a in acts[-4:]] == [
        ("issue", "dashboards:finance"),
        ("credit", "dashboards:finance"),
        ("payment", "dashboards:finance"),
        ("send", "dashboards:finance"),
    ]
    assert cli(corpus, "ledger", "verify").startswith("ledger at ")


def test_two_sessions_issue_at_once_one_issues_the_other_is_told(browser, server, corpus):
    pages = [factures(browser, server) for _ in range(2)]
    for page in pages:
        page.get_by_text("Je confirme l'émission de mars 2012").click()  # the next month to issue is March
        page.get_by_role("button", name="Émettre", exact=True).wait_for(timeout=TIMEOUT)
    for page in pages:
        page.get_by_role("button", name="Émettre", exact=True).click()
    answers = sorted(outcome(page, "2012-03 (émis|est déjà émis)") for page in pages)
    assert answers[0].startswith("2012-03 est déjà émis") and answers[1].startswith("2012-03 émis"), answers
    for page in pages:
        page.close()
    acts = json.loads(cli(corpus, "ledger", "acts", "--subject", "2012-03", "--format", "json"))["acts"]
    assert len(acts) == 1  # issued once
