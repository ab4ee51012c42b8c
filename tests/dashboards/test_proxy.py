"""The production way: `sansfilm dashboards` on loopback behind nginx (deploy/nginx/sansfilm.conf, rendered with free
loopback ports and a self-signed certificate), Chromium logging in over HTTPS through the proxy: the WebSocket
upgrade passes, Streamlit's cookies come back Secure, XSRF protection is on, and failed logins are counted against
the client's address nginx forwards."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import pytest

from analytics.accounts.logins import LoginGuard
from tests.dashboards.browser import chromium, dashboards_cli
from tests.dashboards.conftest import PASSWORD
from tests.dashboards.test_e2e import SHOTS, need_chromium
from tests.dashboards.test_pages import EXPECTED
from tests.nginx import SITE, nginx_proxy, require_nginx

pytestmark = pytest.mark.e2e
COOKIE_SECRET = "a-test-cookie-secret-of-at-least-32-characters"


@pytest.fixture(scope="module")
def proxy(published, accounts_file, tmp_path_factory):
    need_chromium()
    require_nginx()
    env = {"SANSFILM_ACCOUNTS": accounts_file, "STREAMLIT_SERVER_COOKIE_SECRET": COOKIE_SECRET}
    with dashboards_cli(published, env) as (_, url), \
            nginx_proxy(tmp_path_factory.mktemp("nginx"), url.removeprefix("http://")) as proxy:  # fmt: skip
        yield proxy


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_plain_http_is_sent_to_https(proxy):
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(_NoRedirect).open(f"{proxy.http_url}/", timeout=10)
    assert answer.value.code == 301 and answer.value.headers["Location"].startswith("https://127.0.0.1")


def test_logging_in_over_https_through_the_proxy(proxy, published, accounts_file):
    with chromium() as browser:
        context = browser.new_context(ignore_https_errors=True, locale="fr-FR", viewport={"width": 1440, "height": 900})
        context.route(lambda url: not url.startswith(proxy.https_url), lambda route: route.abort())
        page = context.new_page()
        first = page.goto(proxy.https_url)
        assert first.headers["strict-transport-security"].startswith("max-age=")
        page.get_by_label("Identifiant").fill("eloi")
        page.get_by_label("Mot de passe").fill("not-the-password")
        page.get_by_role("button", name="Se connecter").click()
        page.get_by_text("Identifiant ou mot de passe incorrect.").wait_for(timeout=60_000)
        # counted against the browser's address as nginx forwards it (X-Real-IP), not against the proxy's socket
        guard = LoginGuard(published.root.parent / "accounts.json", published.accounts)
        assert str(guard.store) == accounts_file.replace("accounts.json", "accounts-logins.sqlite")
        assert guard.failures("client", "127.0.0.1")[0] == 1 and guard.failures("client", "loopback")[0] == 0
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        label, value = EXPECTED["establishment"]  # the role's first page, over the proxied WebSocket
        metric = page.locator('[data-testid="stMetric"]', has_text=label).first
        metric.wait_for(timeout=60_000)
        assert value in metric.inner_text()
        assert guard.failures("client", "127.0.0.1")[0] == 0  # a success clears the client's failures
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "proxy-establishment.png"), full_page=True)
        cookies = {c["name"]: c for c in context.cookies()}
        assert "_streamlit_xsrf" in cookies  # XSRF protection on
        assert all(c["secure"] for c in cookies.values()), cookies
        context.close()
    deadline = time.monotonic() + 10  # nginx logs the WebSocket's request when it closes
    while '"GET /_stcore/stream HTTP/1.1" 101' not in (log := (proxy.prefix / "access.log").read_text()):
        assert time.monotonic() < deadline, log[-2000:]
        time.sleep(0.1)


def test_the_deploy_doc_renders_every_placeholder_of_the_template():
    """docs/deploy.md's sed line and deploy/nginx/sansfilm.conf name the same placeholders."""
    doc = (SITE.parents[2] / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert set(re.findall(r"-e 's[/#](@[A-Z_]+@)[/#]", doc)) == set(re.findall(r"@[A-Z_]+@", SITE.read_text()))
