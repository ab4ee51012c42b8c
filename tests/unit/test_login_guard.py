"""Failed logins slowed per name and per client, locked after N, the same work for unknown and known names; the
clock and the sleep are injected (one test waits for real, under half a second)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import pytest

import analytics.accounts
from analytics.accounts import add_account
from analytics.accounts.logins import FORGET_AFTER, LoginGuard, Outcome, delay, store_path
from analytics.config import AccountsConfig

PASSWORD = "correct-horse-battery"
T0 = 1_800_000_000.0


class Clock:
    """Epoch seconds that move only when told to, or when slept through."""

    def __init__(self) -> None:
        self.now, self.slept = T0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def accounts(tmp_path):
    path = tmp_path / "data" / "accounts.json"
    add_account(path, "alice", "finance", PASSWORD, establishments=())
    add_account(path, "bob", "gcs", PASSWORD, establishments=())
    add_account(path, "sso@chu.example", "ars", None, establishments=())  # OIDC only: no password
    return path


def guard(accounts, clock: Clock, **policy) -> LoginGuard:
    policy = {"lock_after": 10, "backoff_seconds": 1.0, "backoff_max_seconds": 300.0, "wait_max_seconds": 0.0} | policy
    return LoginGuard(accounts, AccountsConfig(**policy), clock=clock, sleep=clock.sleep)


def test_the_delay_doubles_with_each_failure_up_to_the_cap():
    policy = AccountsConfig(backoff_seconds=1.5, backoff_max_seconds=60)
    assert [delay(policy, k) for k in range(8)] == [0, 1.5, 3, 6, 12, 24, 48, 60]


def test_each_failure_of_a_name_doubles_its_wait_whatever_the_client(accounts):
    clock = Clock()
    g = guard(accounts, clock)  # wait_max 0: any wait is refused with the time left, never slept
    for k in range(1, 6):
        assert g.attempt("alice", "wrong", f"10.0.0.{k}").outcome is Outcome.REFUSED
        failures, not_before = g.failures("account", "alice")
        assert (failures, not_before - clock.now) == (k, 2 ** (k - 1))
        clock.now += 2 ** (k - 1) - 0.5
        early = g.attempt("alice", PASSWORD, "10.0.1.1")  # even the right password, from another client
        assert (early.outcome, early.retry_after) == (Outcome.TOO_SOON, 0.5)
        clock.now += 0.5
    assert clock.slept == []
    assert g.attempt("alice", PASSWORD, "10.0.1.1").outcome is Outcome.ACCEPTED
    assert g.failures("account", "alice") == (0, 0.0)  # a success clears the name and its client


def test_each_failure_of_a_client_doubles_its_wait_whatever_the_name(accounts):
    clock = Clock()
    g = guard(accounts, clock)
    assert g.attempt("alice", "wrong", "203.0.113.9").outcome is Outcome.REFUSED
    early = g.attempt("bob", PASSWORD, "203.0.113.9")  # another name, the right password: the client waits
    assert (early.outcome, early.retry_after) == (Outcome.TOO_SOON, 1.0)
    assert g.attempt("nobody", "guess", "203.0.113.9").retry_after == 1.0
    assert g.attempt("bob", PASSWORD, "198.51.100.7").outcome is Outcome.ACCEPTED  # another client does not wait
    clock.now += 1
    assert g.attempt("carol", "wrong", "203.0.113.9").outcome is Outcome.REFUSED
    assert g.failures("client", "203.0.113.9")[0] == 2
    assert g.attempt("bob", PASSWORD, "203.0.113.9").retry_after == 2.0


def test_short_waits_are_slept_through_longer_ones_refused(accounts):
    clock = Clock()
    g = guard(accounts, clock, wait_max_seconds=5)
    outcomes = [g.attempt("alice", "wrong", "10.0.0.1") for _ in range(4)]
    assert [a.outcome for a in outcomes] == [Outcome.REFUSED] * 4
    assert [a.waited for a in outcomes] == [0, 1, 2, 4] and clock.slept == [1, 2, 4]
    refused = g.attempt("alice", PASSWORD, "10.0.0.1")  # the next wait would be 8 s > 5 s: refused, not checked
    assert (refused.outcome, refused.retry_after) == (Outcome.TOO_SOON, 8.0)
    clock.now += 8
    assert g.attempt("alice", PASSWORD, "10.0.0.1").outcome is Outcome.ACCEPTED


def test_attempts_at_the_same_moment_each_take_the_next_slot(accounts):
    """Counted before the password is checked: sessions trying in parallel cannot share one slot."""
    clock = Clock()
    g = guard(accounts, clock, wait_max_seconds=100)
    slots = []
    for _ in range(4):
        g.sleep = slots.append  # the clock does not move: every attempt starts at the same moment
        g.attempt("alice", "wrong", "10.0.0.1")
    assert slots == [1, 3, 7]  # 1, then 1 + 2, then 1 + 2 + 4


def test_a_name_locks_after_n_failures_until_unlocked_and_the_password_is_not_checked(accounts, monkeypatch):
    clock = Clock()
    g = guard(accounts, clock, lock_after=3)
    for k in range(3):
        clock.now += 1000
        assert g.attempt("alice", "wrong", f"10.0.0.{k}").outcome is Outcome.REFUSED
    calls = _count_scrypt(monkeypatch)
    clock.now += 10**6
    assert g.attempt("alice", PASSWORD, "10.9.9.9").outcome is Outcome.LOCKED  # the right password, a new client
    assert calls == []
    assert g.locked() == {"alice"}
    assert g.unlock("alice") == 3
    assert g.attempt("alice", PASSWORD, "10.9.9.9").outcome is Outcome.ACCEPTED
    assert g.unlock("alice") == 0


def test_locks_stay_and_other_failures_are_forgotten_after_a_day(accounts):
    clock = Clock()
    g = guard(accounts, clock, lock_after=2, wait_max_seconds=10)
    for name in ("alice", "alice", "bob"):
        g.attempt(name, "wrong", "10.0.0.1")
    clock.now += FORGET_AFTER + 10
    g.attempt("nobody", "wrong", "10.0.0.2")  # any attempt prunes
    assert g.failures("account", "bob") == (0, 0.0) and g.failures("client", "10.0.0.1") == (0, 0.0)
    assert g.locked() == {"alice"}


def _count_scrypt(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = hashlib.scrypt

    def counted(password, **kwargs):
        calls.append(kwargs["n"])
        return real(password, **kwargs)

    monkeypatch.setattr(analytics.accounts.hashlib, "scrypt", counted)
    return calls


def test_unknown_and_known_names_get_the_same_answers_and_the_same_work(accounts, monkeypatch):
    """No user enumeration: one scrypt of the same cost per checked attempt whether the name exists, has a password
    or not; the same outcomes, waits and lock for a name that does not exist."""
    clock = Clock()
    g = guard(accounts, clock, lock_after=3, wait_max_seconds=5)
    calls = _count_scrypt(monkeypatch)
    runs = {}
    for name in ("alice", "nobody", "sso@chu.example"):
        runs[name] = [(a.outcome, a.waited) for a in (g.attempt(name, "wrong", name) for _ in range(4))]
        assert len(calls) == 3 and len(set(calls)) == 1  # three checked, the fourth refused by the lock unchecked
        calls.clear()
    assert runs["alice"] == runs["nobody"] == runs["sso@chu.example"]
    assert runs["alice"][-1] == (Outcome.LOCKED, 0.0)
    assert g.locked() == {"alice", "nobody", "sso@chu.example"}


def test_the_failures_are_shared_by_every_process_through_the_store(accounts):
    clock = Clock()
    g = guard(accounts, clock, lock_after=2)
    script = (
        "import sys; from pathlib import Path; from analytics.accounts.logins import LoginGuard;"
        "from analytics.config import AccountsConfig;"
        "print(LoginGuard(Path(sys.argv[1]), AccountsConfig(lock_after=2), sleep=lambda s: None)"
        ".attempt('alice', 'wrong', '10.0.0.1').outcome.value)"
    )
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", script, str(accounts)], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "refused"
    assert g.failures("account", "alice")[0] == 2
    assert g.attempt("alice", PASSWORD, "10.0.0.3").outcome is Outcome.LOCKED
    store = store_path(accounts)
    assert store.name == "accounts-logins.sqlite" and oct(store.stat().st_mode & 0o777) == "0o600"


def test_the_wait_is_real_with_the_real_clock(accounts):
    """The default clock and sleep: the attempt after a failure does not check before the back-off has passed."""
    g = LoginGuard(accounts, AccountsConfig(backoff_seconds=0.5, wait_max_seconds=1))
    assert g.attempt("alice", "wrong", "10.0.0.1").outcome is Outcome.REFUSED
    _, not_before = g.failures("account", "alice")
    second = g.attempt("alice", PASSWORD, "10.0.0.1")
    assert second.outcome is Outcome.ACCEPTED and 0 < second.waited <= 0.5
    assert time.time() >= not_before
