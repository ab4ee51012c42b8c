"""End to end: `streamlit run` on a loopback port, Debian's Chromium driven by Playwright, a login through the form,
every page of a role visited with the sample's figures on screen, a screenshot per page in build/screenshots/.
Then the dashboards keep answering while a pipeline rebuilds and republishes the warehouse in another process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines.dashboards_cli import streamlit_command
from tests.dashboards.conftest import PASSWORD
from tests.dashboards.test_pages import EXPECTED, PAGES

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
TITLES = {"rollout": "Déploiement", "finance": "Factures", "regional": "Activité régionale",
          "operator": "Stockage et service", "quality": "Qualité des données", "establishment": "Mon établissement"}  # fmt: skip
USERS = {"gcs": "gcs", "ars": "ars", "establishment:750238172": "eloi"}


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium when run as root")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(published, accounts_file):
    _need_chromium()
    port = _free_port()
    cmd, env = streamlit_command(published, port)
    env["SANSFILM_ACCOUNTS"] = accounts_file
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {proc.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def _login(browser, server, user: str):
    page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="fr-FR")
    page.route(lambda url: not url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")),
               lambda route: route.abort())  # loopback only  # fmt: skip
    page.goto(server)
    page.get_by_label("Identifiant").fill(user)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_text(f"{user} ·").first.wait_for(timeout=60_000)
    return page


def _visit(page, name: str) -> None:
    link = page.get_by_role("link", name=TITLES[name])
    if link.count():  # a role with a single page has no navigation menu
        link.first.click()
    label, value = EXPECTED[name]
    metric = page.locator('[data-testid="stMetric"]', has_text=label).first
    metric.wait_for(timeout=60_000)
    assert value.replace("\u202f", " ") in metric.inner_text().replace("\u202f", " ").replace("\xa0", " ")
    page.locator('[data-testid="stDataFrame"], .js-plotly-plot').first.wait_for(timeout=60_000)
    assert not page.locator('[data-testid="stException"]').count()


@pytest.mark.parametrize("role", list(USERS))
def test_every_page_shows_the_sample(browser, server, role):
    page = _login(browser, server, USERS[role])
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in PAGES[role]:
        _visit(page, name)
        page.wait_for_timeout(500)  # let the charts finish drawing
        page.screenshot(path=str(SHOTS / f"{role.replace(':', '-')}-{name}.png"), full_page=True)
    if role == "ars":
        assert page.get_by_text("moins de 10 examens").count()
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
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(published.config_path), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])  # fmt: skip
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
