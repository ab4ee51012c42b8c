"""OIDC login end to end: `streamlit run` with an `[auth]` section pointing at a local provider
(tests/oidc_provider.py), Chromium clicks the SSO button, the provider approves the configured identity, and the
dashboards give it the role of its `--oidc-only` account — or refuse an identity that has no account."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.dashboards.browser import chromium, free_port, new_page, signed_in, streamlit_server
from tests.dashboards.browser import metric as browser_metric
from tests.dashboards.conftest import ELOI
from tests.dashboards.test_e2e import SHOTS, need_chromium
from tests.dashboards.test_pages import EXPECTED
from tests.oidc_provider import OIDCProvider

pytestmark = pytest.mark.e2e
ELOI_EMAIL = "radiologie@saint-eloi.example"
SSO = "Se connecter avec le fournisseur d'identité"
SECRETS = """[auth]
redirect_uri = "{redirect_uri}"
cookie_secret = "a-test-cookie-secret-of-at-least-32-characters"
client_id = "sansfilm-dashboards"
client_secret = "test-client-secret"
server_metadata_url = "{metadata_url}"
"""


@pytest.fixture(scope="module")
def oidc(published, tmp_path_factory):
    """(provider, dashboards URL): the provider, and the dashboards configured to log in through it."""
    need_chromium()
    home = tmp_path_factory.mktemp("oidc")
    accounts = home / "accounts.json"
    added = CliRunner().invoke(
        app,
        [
            "--config",
            str(published.config_path),
            "users",
            "add",
            ELOI_EMAIL,
            "--role",
            f"establishment:{ELOI}",
            "--oidc-only",
        ],
        env={"SANSFILM_ACCOUNTS": str(accounts)},
    )
    assert added.exit_code == 0, added.output
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/oauth2callback"
    with OIDCProvider("sansfilm-dashboards", "test-client-secret", redirect_uri) as provider:
        (home / ".streamlit").mkdir()
        (home / ".streamlit" / "secrets.toml").write_text(
            SECRETS.format(redirect_uri=redirect_uri, metadata_url=provider.metadata_url), encoding="utf-8"
        )
        with streamlit_server(published, {"SANSFILM_ACCOUNTS": str(accounts)}, cwd=home, port=port) as url:
            yield provider, url


@pytest.fixture(scope="module")
def browser(oidc):
    with chromium() as launched:
        yield launched


def _sso_login(browser, url: str):
    page = new_page(browser)  # a new browser context: no cookie from an earlier login
    page.goto(url)
    page.get_by_role("button", name=SSO).click()
    return page


def test_an_oidc_user_gets_the_role_of_its_account(oidc, browser):
    provider, url = oidc
    provider.user = {"sub": "u-1001", "email": ELOI_EMAIL, "name": "Radiologie Saint-Éloi"}
    page = _sso_login(browser, url)
    signed_in(page, ELOI_EMAIL, ELOI).wait_for(timeout=60_000)
    label, value = EXPECTED["establishment"]  # its own figures, on the only page it gets
    metric = browser_metric(page, label)
    metric.wait_for(timeout=60_000)
    assert value in metric.inner_text()
    page.locator('[data-testid="stDataFrame"], .js-plotly-plot').first.wait_for(timeout=60_000)
    for other in ("Factures", "Activité régionale", "Déploiement"):
        assert not page.get_by_role("link", name=other).count()
    assert not page.locator('[data-testid="stException"]').count()
    claims = provider.issued[-1]  # the ID token the dashboards accepted: this user, bound to their login request
    assert claims["email"] == ELOI_EMAIL and claims["aud"] == "sansfilm-dashboards" and claims["nonce"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let the charts finish drawing
    page.screenshot(path=str(SHOTS / "oidc-establishment.png"), full_page=True)
    page.close()


def test_an_oidc_identity_without_an_account_is_refused(oidc, browser):
    provider, url = oidc
    provider.user = {"sub": "u-666", "email": "intrus@example.org", "name": "Intrus"}
    page = _sso_login(browser, url)
    page.get_by_text("intrus@example.org n'a pas de rôle").wait_for(timeout=60_000)
    assert provider.issued[-1]["email"] == "intrus@example.org"  # authenticated by the provider, yet no access
    page.locator(".st-key-preload .main-svg").first.wait_for(state="attached", timeout=60_000)  # the page all drawn
    assert not page.locator('[data-testid="stMetric"]:visible').count()  # no figure on screen (the preload is hidden)
    assert not page.get_by_role("link", name="Mon établissement").count()
    page.get_by_label("Identifiant").wait_for(timeout=60_000)  # the password form is still offered
    page.screenshot(path=str(SHOTS / "oidc-refused.png"), full_page=True)
    page.close()
