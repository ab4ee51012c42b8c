"""`sansfilm dashboards` as a user runs it: the Streamlit child stops with the CLI (SIGTERM, Ctrl-C, or the CLI
killed outright), users get the viewer's menu only, and an address beyond loopback is warned about."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.dashboards_cli import is_loopback
from tests.dashboards.browser import chromium, dashboards_cli, free_port, new_page
from tests.dashboards.conftest import PASSWORD
from tests.dashboards.test_e2e import need_chromium

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()]


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for a reaper that a container may not have)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_the_streamlit_child_stops_with_the_cli(published, signum):
    with dashboards_cli(published) as (cli, url):
        port = int(url.rsplit(":", 1)[1])
        (child,) = _children(cli.pid)
        assert _running(child) and _listening(port)
        os.kill(cli.pid, signum)  # the CLI alone, as systemd or a shell's kill does
        code = cli.wait(30)
        deadline = time.monotonic() + 30
        while (_running(child) or _listening(port)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(child), f"streamlit (pid {child}) outlived the CLI"
        assert not _listening(port)
        assert code == (-signal.SIGKILL if signum == signal.SIGKILL else 0)


def test_an_address_beyond_loopback_is_warned_about_in_one_line(published):
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: Streamlit cannot bind it and exits, nothing listens
    cmd = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "--config",
        str(published.config_path),
        "dashboards",
        "--address",
        "192.0.2.1",
        "--port",
        str(free_port()),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.stderr.splitlines() == [
        "warning: the dashboards listen on 192.0.2.1, beyond this machine: serve "
        "them behind a TLS reverse proxy instead (docs/deploy.md)",
        f"error: cannot listen on 192.0.2.1:{cmd[-1]} (Cannot assign requested address): check --address and --port",
    ]
    assert result.returncode == 2  # refused before Streamlit starts


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("dashboards.example", False),
    ],
)
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


DEVELOPER_ITEMS = ("Rerun", "Clear cache", "Deploy", "Developer")


def test_users_get_no_rerun_clear_cache_or_developer_menu(published, accounts_file):
    need_chromium()
    with dashboards_cli(published, {"SANSFILM_ACCOUNTS": accounts_file}) as (_, url), chromium() as browser:
        page = new_page(browser)
        page.goto(url)
        page.get_by_label("Identifiant").fill("gcs")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.get_by_text("gcs ·").first.wait_for(timeout=60_000)
        page.locator('[data-testid="stMetric"]').first.wait_for(timeout=60_000)
        deploy = page.locator('[data-testid="stAppDeployButton"]').count()
        page.locator('[data-testid="stMainMenu"]').first.click()  # the viewer's menu: the theme, nothing else
        popover = page.locator('[data-testid="stMainMenuPopover"]')
        popover.wait_for(timeout=10_000)
        menu = popover.inner_text()
        page.keyboard.press("Escape")
        page.keyboard.press("c")  # Streamlit's developer shortcut: C opens "Clear caches"
        page.wait_for_timeout(1000)
        dialog = page.get_by_text("Clear caches").count()
        assert not deploy and not dialog
        assert menu.strip() and not [item for item in DEVELOPER_ITEMS if item.lower() in menu.lower()], menu
        page.close()
