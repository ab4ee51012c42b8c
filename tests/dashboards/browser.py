"""`streamlit run` on a loopback port and Debian's Chromium driven by Playwright: shared by the end-to-end tests
and bench/dashboards.py --browser."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analytics.config import Settings
from pipelines.dashboards_cli import streamlit_command

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {proc.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.3)


@contextmanager
def dashboards_cli(
    settings: Settings,
    env: dict[str, str] | None = None,
    port: int | None = None,
    cwd: Path | None = None,
    start_timeout: float = 60,
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`sansfilm dashboards --port PORT` as a user starts it (cwd: where `.streamlit/secrets.toml` is read); yields
    (the CLI's process, base URL) once healthy. The CLI is in a session of its own, so that whatever it leaves behind
    can be stopped after the test."""
    port = port or free_port()
    cmd = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "--config",
        str(settings.config_path),
        "dashboards",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=cwd or Path(__file__).resolve().parents[2],
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, start_timeout)
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def streamlit_server(
    settings: Settings,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    port: int | None = None,
    start_timeout: float = 60,
) -> Iterator[str]:
    """The dashboards of these settings served on 127.0.0.1 (cwd: where `.streamlit/secrets.toml` is read); yields
    the base URL once healthy, stops the whole process group after."""
    port = port or free_port()
    cmd, base_env = streamlit_command(settings, port)
    proc = subprocess.Popen(
        cmd,
        env={**base_env, **(env or {})},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, start_timeout)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser):
    """A French, laptop-sized browser context (its own cookies and HTTP cache) that can reach nothing but loopback."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR")
    context.route(lambda url: not url.startswith(LOOPBACK), lambda route: route.abort())
    # a page's first load waits for Streamlit's script run: on two cores busy with the rest of the suite it once took
    # more than Playwright's 30 s default (a safety net, not a measure: speed is the benchmarks')
    context.set_default_navigation_timeout(120_000)
    return context


def new_page(browser):
    """A page in a context of its own: no cookie from an earlier login."""
    return new_context(browser).new_page()


def login(browser, url: str, user: str, password: str):
    """A new page logged in through the form as `user`; returns it once the sidebar names the user."""
    page = new_page(browser)
    page.goto(url)
    page.get_by_label("Identifiant").fill(user)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_text(f"{user} ·").first.wait_for(timeout=60_000)
    return page


def metric(page, label: str):
    """The metric whose label is exactly `label` (a page may show 'Examens archivés, déc. 2012' before it)."""
    exact = page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)
    return page.locator('[data-testid="stMetric"]').filter(has=exact).first


def signed_in(page, email: str, finess: str):
    """The sidebar's line naming who is logged in: the e-mail, then the role in words with the FINESS."""
    return page.get_by_text(re.compile(rf"{re.escape(email)} · établissement .*\({finess}\)")).first
