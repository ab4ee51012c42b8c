"""End to end: `streamlit run` on a loopback port, Debian's Chromium driven by Playwright, a login through the form,
every page of every role visited with a département filter and a short period (no English or internal label, no
nan/inf/None, no exception, `lang="fr"`, nothing spilling sideways on a 390 px phone), a screenshot per page at
1440 px and 390 px in build/screenshots/ (docs/dashboards.md shows them).
Then the dashboards keep answering while a pipeline rebuilds and republishes the warehouse in another process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.dashboards.browser import CHROMIUM, chromium, login, new_page, streamlit_server
from tests.dashboards.conftest import PASSWORD
from tests.dashboards.forbidden import offences
from tests.dashboards.test_pages import EXPECTED, PAGES
from tests.integration.test_sample import patient_identity

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
TITLES = {
    "rollout": "Déploiement",
    "finance": "Factures",
    "proposals": "Prochain accord",
    "regional": "Activité régionale",
    "operator": "Stockage et service",
    "quality": "Qualité des données",
    "establishment": "Mon établissement",
    "opinions": "Télé-avis",
}
USERS = {"gcs": "gcs", "finance": "finance", "operator": "operator", "ars": "ars", "establishment:750238172": "eloi"}


def need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium when run as root")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


@pytest.fixture(scope="module")
def server(published, accounts_file):
    need_chromium()
    with streamlit_server(published, {"SANSFILM_ACCOUNTS": accounts_file}) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as launched:
        yield launched


def _login(browser, server, user: str):
    return login(browser, server, user, PASSWORD)


def _visit(page, name: str, filtered: bool = False) -> None:
    link = page.get_by_role("link", name=TITLES[name])
    if link.count():  # a role with a single page has no navigation menu
        link.first.click()
    label, value = EXPECTED[name]
    metric = page.locator('[data-testid="stMetric"]', has_text=label.split(" fin ")[0]).first
    metric.wait_for(timeout=60_000)
    if not filtered:  # the sample's figures over the whole period
        assert value.replace("\u202f", " ") in metric.inner_text().replace("\u202f", " ").replace("\xa0", " ")
    page.locator('[data-testid="stDataFrame"], .js-plotly-plot').first.wait_for(timeout=60_000)
    assert not page.locator('[data-testid="stException"]').count()


LINK = "?du=2012-10&au=2012-12&departement=94"  # a short period and a département, carried by the link
WIDTHS = (1440, 390)  # a laptop and a phone


@cache
def identifiers() -> re.Pattern:
    """The sample's patient IDs and doctors' RPPS numbers (8 characters or more: shorter ones read as figures)."""
    ids = sorted(i for i in patient_identity()[1] if len(i) >= 8)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, ids)) + r")\b")


def check_page(page, name: str, role: str) -> None:
    """The page in French with no number gone wrong and no patient ID or RPPS number, at both widths; a screenshot of
    each in build/screenshots/."""
    text = page.locator('[data-testid="stMain"]').inner_text() + page.locator('[data-testid="stSidebar"]').inner_text()
    assert not offences(text), (name, offences(text))
    assert not identifiers().findall(text), name
    assert not page.locator('[data-testid="stException"]').count(), name
    assert not page.get_by_text("n'a pas pu être affichée").count(), name
    assert page.evaluate("document.documentElement.lang") == "fr"
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(700)  # let the charts redraw at that width
        page.screenshot(path=str(SHOTS / f"{role.replace(':', '-')}-{name}-{width}.png"), full_page=True)
        if width < 600:  # on a phone nothing spills sideways out of the page
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, name
    page.set_viewport_size({"width": 1440, "height": 900})
    expand = page.locator('[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button')
    if expand.count() and expand.first.is_visible():  # the phone width folded the sidebar (its navigation)
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        try:
            expand.first.click(timeout=5_000)
        except PlaywrightTimeoutError:  # Streamlit unfolded it itself at the wide width: the button left the page
            pass
    expand.first.wait_for(state="hidden", timeout=30_000)  # unfolded either way: the next page's link is there


@pytest.mark.parametrize("role", list(USERS))
def test_every_page_in_french_with_a_filter_on_a_laptop_and_a_phone(browser, server, role):
    page = login(browser, server + LINK, USERS[role], PASSWORD)  # one session per role, every page inside
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in PAGES[role]:
        _visit(page, name, filtered=True)
        check_page(page, name, role)
    if role == "ars":
        assert page.get_by_text("moins de 10 examens").count()
    page.close()


def test_the_login_page_preloads_out_of_sight_and_finance_downloads_the_whole_period(browser, server):
    page = new_page(browser)
    page.goto(server)
    page.locator(".st-key-preload .main-svg").first.wait_for(
        state="attached", timeout=60_000
    )  # the charts' code loaded
    assert not page.locator(".st-key-preload").is_visible()
    page.close()
    page = _login(browser, server, "finance")
    _visit(page, "finance")
    metric = page.locator('[data-testid="stMetric"]', has_text="Factures émises / brouillons").first.inner_text()
    issued, drafts = (int(n) for n in metric.splitlines()[-1].split(" / "))
    with page.expect_download() as download:
        page.get_by_role("button", name="Toutes les factures de la période (CSV)").click()
    raw = Path(download.value.path()).read_text(encoding="utf-8")
    assert raw.startswith("\ufeff")  # a BOM: a spreadsheet reads the accents
    rows = raw[1:].splitlines()
    assert rows[0].startswith("statut;mois;numéro;FINESS") and len(rows) - 1 == issued + drafts
    assert sum(1 for row in rows if row.startswith("émise;")) == issued
    page.close()


WRITER = """
import sys, time
from pathlib import Path
from analytics import warehouse
from analytics.config import load_settings
settings = load_settings(sys.argv[1])
con = warehouse.connect(settings.warehouse.path)  # hold the write lock the whole time, as a running pipeline does
try:
    warehouse.ensure_schema(con)
    print("writing", flush=True)
    deadline = time.monotonic() + 300  # until the test says stop (a file), at most 5 minutes
    while not Path(sys.argv[2]).exists() and time.monotonic() < deadline:
        warehouse.build_models(con)
        warehouse.publish(con, settings.published_path)
finally:
    con.close()
"""


def test_dashboards_keep_working_while_a_pipeline_writes(browser, server, published, tmp_path):
    page = _login(browser, server, "gcs")
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(published.config_path), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert writer.stdout.readline().strip() == "writing", writer.stderr.read()
        for name in ("regional", "operator", "finance", "rollout", "regional", "operator"):
            _visit(page, name)  # each visit queries the published copy again (its version changes at each publish)
        assert writer.poll() is None  # the pipeline was still writing all along
    finally:
        stop.touch()
        writer.wait(120)
    assert writer.returncode == 0, writer.stderr.read()
    page.close()
