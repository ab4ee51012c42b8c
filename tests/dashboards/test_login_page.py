"""AppTest of the login form's refusals: the same message for an unknown name and a wrong password, the time left
when the back-off is longer than the form waits, the lock; failures seeded through the store with an injected clock."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from analytics.accounts import add_account
from analytics.accounts.logins import LoginGuard
from tests.dashboards.test_pages import APP

PASSWORD = "correct-horse-battery"


@pytest.fixture
def login(published, tmp_path, monkeypatch):
    """(guard, try_login): a fresh accounts file with `alice`, and a function that submits the form."""
    accounts = tmp_path / "accounts.json"
    add_account(accounts, "alice", "finance", PASSWORD, establishments=())
    monkeypatch.setenv("SANSFILM_CONFIG", str(published.config_path))
    monkeypatch.setenv("SANSFILM_ACCOUNTS", str(accounts))

    def try_login(name: str, password: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60).run()
        at.text_input(key="login_name").input(name)
        at.text_input(key="login_password").input(password)
        at.button[0].click().run()
        return at

    return LoginGuard(accounts, published.accounts), try_login


def _refusal(at: AppTest) -> str:
    assert "viewer" not in at.session_state
    return at.error[0].value


def _seed(guard: LoginGuard, name: str, failures: int, client: str = "192.0.2.1") -> None:
    """`failures` failed logins of `name` from `client` (not the form's), spaced as the back-off allows, ending now."""
    clock = [time.time() - 600 * failures]
    guard.clock, guard.sleep = (lambda: clock[0]), (lambda s: clock.__setitem__(0, clock[0] + s))
    for _ in range(failures):
        clock[0] += 600
        guard.attempt(name, "wrong", client)
    guard.clock, guard.sleep = time.time, time.sleep


def test_an_unknown_name_and_a_wrong_password_get_the_same_message(login):
    guard, try_login = login
    assert _refusal(try_login("nobody", PASSWORD)) == _refusal(try_login("alice", "wrong-password-here"))
    assert _refusal(try_login("alice", "wrong")) == "Identifiant ou mot de passe incorrect."
    assert guard.failures("account", "nobody")[0] == 1 and guard.failures("account", "alice")[0] == 2
    assert guard.failures("client", "loopback")[0] == 3  # no proxy: a loopback peer with no X-Real-IP


def test_a_long_back_off_is_refused_with_the_time_left(login):
    guard, try_login = login
    _seed(guard, "alice", 6)  # the next attempt waits 32 s after the last one: more than the 5 s the form sleeps
    message = _refusal(try_login("alice", PASSWORD))
    assert message.startswith("Trop d'échecs : réessayez dans ") and message.endswith(" s.")
    assert 25 <= int(message.split()[-2]) <= 33


def test_a_locked_name_is_refused_even_with_its_password(login):
    guard, try_login = login
    for name, client in (("alice", "192.0.2.1"), ("nobody", "192.0.2.2")):
        _seed(guard, name, 10, client)  # [accounts] lock_after defaults to 10
    locked = _refusal(try_login("alice", PASSWORD))
    assert locked.startswith("Compte verrouillé") and "sansfilm users unlock" in locked
    assert _refusal(try_login("nobody", "anything-at-all")) == locked  # the same for a name that does not exist
    guard.unlock("alice")
    assert try_login("alice", PASSWORD).session_state["viewer"].role == "finance"
