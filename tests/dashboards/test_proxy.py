"""The production way: `sansfilm dashboards` on loopback behind nginx (deploy/nginx/sansfilm.conf, rendered with free
loopback ports and a self-signed certificate), Chromium logging in over HTTPS through the proxy, with a local account
and with OIDC: the WebSocket upgrade passes, Streamlit's cookies come back Secure, XSRF protection is on, and failed
logins are counted against the client's address nginx forwards."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import pytest

from analytics.accounts import add_account
from analytics.accounts.logins import LoginGuard
from analytics.config import AccountsConfig
from tests.dashboards.browser import chromium, dashboards_cli, free_port, signed_in
from tests.dashboards.browser import metric as browser_metric
from tests.dashboards.conftest import ELOI, PASSWORD
from tests.dashboards.test_e2e import SHOTS, need_chromium
from tests.dashboards.test_oidc import ELOI_EMAIL, SECRETS, SSO
from tests.dashboards.test_pages import EXPECTED
from tests.nginx import SITE, nginx_proxy, require_nginx
from tests.oidc_provider import OIDCProvider

pytestmark = pytest.mark.e2e
COOKIE_SECRET = "a-test-cookie-secret-of-at-least-32-characters"


@pytest.fixture(scope="module")
def served(published, tmp_path_factory):
    """(proxy, OIDC provider, accounts file): `sansfilm dashboards` with its own accounts (eloi by password, an
    establishment's e-mail by OIDC) and an `[auth]` section whose redirect URI is the proxy's HTTPS address, then
    nginx in front of it."""
    need_chromium()
    require_nginx()
    home = tmp_path_factory.mktemp("proxied")
    accounts = home / "accounts.json"
    add_account(accounts, "eloi", f"establishment:{ELOI}", PASSWORD, establishments={ELOI})
    add_account(accounts, ELOI_EMAIL, f"establishment:{ELOI}", None, establishments={ELOI})
    https_port = free_port()
    redirect_uri = f"https://127.0.0.1:{https_port}/oauth2callback"
    env = {"SANSFILM_ACCOUNTS": str(accounts), "STREAMLIT_SERVER_COOKIE_SECRET": COOKIE_SECRET}
    with OIDCProvider("sansfilm-dashboards", "test-client-secret", redirect_uri) as provider:
        (home / ".streamlit").mkdir()
        (home / ".streamlit" / "secrets.toml").write_text(
            SECRETS.format(redirect_uri=redirect_uri, metadata_url=provider.metadata_url), encoding="utf-8"
        )
        with (
            dashboards_cli(published, env, cwd=home) as (_, url),
            nginx_proxy(home / "nginx", url.removeprefix("http://"), https_port) as proxy,
        ):
            yield proxy, provider, accounts


@pytest.fixture(scope="module")
def proxy(served):
    return served[0]


@pytest.fixture(scope="module")
def browser(served):
    with chromium() as launched:
        yield launched


def _https_page(browser, proxy, *also: str):
    """A page in a context of its own that accepts the test's self-signed certificate and reaches nothing but the
    proxy (and `also`)."""
    context = browser.new_context(ignore_https_errors=True, locale="fr-FR", viewport={"width": 1440, "height": 900})
    allowed = (proxy.https_url, *also)
    context.route(lambda url: not url.startswith(allowed), lambda route: route.abort())
    return context, context.new_page()


def _first_page(page) -> None:
    label, value = EXPECTED["establishment"]  # the role's first page, over the proxied WebSocket
    metric = browser_metric(page, label)
    metric.wait_for(timeout=60_000)
    assert value in metric.inner_text()


def _secure_cookies(context, *names: str) -> None:
    cookies = {c["name"]: c for c in context.cookies()}
    assert set(names) <= set(cookies), cookies.keys()
    assert all(c["secure"] for c in cookies.values()), cookies


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_plain_http_is_sent_to_https(proxy):
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(_NoRedirect).open(f"{proxy.http_url}/", timeout=10)
    assert answer.value.code == 301 and answer.value.headers["Location"].startswith("https://127.0.0.1")


def test_logging_in_over_https_through_the_proxy(served, browser):
    proxy, _, accounts = served
    context, page = _https_page(browser, proxy)
    first = page.goto(proxy.https_url)
    assert first.headers["strict-transport-security"].startswith("max-age=")
    page.get_by_label("Identifiant").fill("eloi")
    page.get_by_label("Mot de passe").fill("not-the-password")
    page.get_by_role("button", name="Se connecter", exact=True).click()
    page.get_by_text("Identifiant ou mot de passe incorrect.").wait_for(timeout=60_000)
    # counted against the browser's address as nginx forwards it (X-Real-IP), not as the proxy's loopback socket
    guard = LoginGuard(accounts, AccountsConfig())
    assert guard.failures("client", "127.0.0.1")[0] == 1 and guard.failures("client", "loopback")[0] == 0
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter", exact=True).click()
    _first_page(page)
    assert guard.failures("client", "127.0.0.1")[0] == 0  # a success clears the client's failures
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "proxy-establishment.png"), full_page=True)
    _secure_cookies(context, "_streamlit_xsrf")  # XSRF protection on, its cookie Secure
    context.close()
    deadline = time.monotonic() + 10  # nginx logs the WebSocket's request when it closes
    while '"GET /_stcore/stream HTTP/1.1" 101' not in (log := (proxy.prefix / "access.log").read_text()):
        assert time.monotonic() < deadline, log[-2000:]
        time.sleep(0.1)


def test_an_oidc_login_over_https_through_the_proxy(served, browser):
    proxy, provider, _ = served
    provider.user = {"sub": "u-1001", "email": ELOI_EMAIL, "name": "Radiologie Saint-Éloi"}
    context, page = _https_page(browser, proxy, provider.issuer)
    page.goto(proxy.https_url)
    page.get_by_role("button", name=SSO).click()
    signed_in(page, ELOI_EMAIL, ELOI).wait_for(timeout=60_000)
    _first_page(page)
    assert provider.issued[-1]["email"] == ELOI_EMAIL
    _secure_cookies(context, "_streamlit_xsrf", "_streamlit_user")  # the signed login cookie: HTTPS only
    context.close()


def test_the_deploy_doc_renders_every_placeholder_of_the_template():
    """docs/deploy.md's sed line and deploy/nginx/sansfilm.conf name the same placeholders."""
    doc = (SITE.parents[2] / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert set(re.findall(r"-e 's[/#](@[A-Z_]+@)[/#]", doc)) == set(re.findall(r"@[A-Z_]+@", SITE.read_text()))
