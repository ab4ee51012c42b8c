"""Failed logins, slowed and locked: per account name and per client, across every session and process.

The state is a small SQLite file beside the accounts file (`accounts.json` -> `accounts-logins.sqlite`, mode 600):
the accounts and their failures live and are backed up together, every dashboards process on the host sees the
same counts (SQLite serialises the writers), and the dashboards, which read only the published warehouse, need no
write access to the ledger's database. Two rows per attempt at most: one for the name typed, one for the client.

The rules ([accounts] in the configuration, analytics.config.AccountsConfig):
* after k failures in a row, the next attempt of that name, or from that client, waits
  `backoff_seconds * 2**(k-1)` (at most `backoff_max_seconds`) after the last one; a wait up to `wait_max_seconds`
  is slept through, a longer one is refused with the time left;
* after `lock_after` failures in a row a name is locked until `sansfilm users unlock NAME`; a success clears both
  rows; rows of names that are not locked (and of clients) are forgotten after a day without a failure.
Unknown names are counted and locked like real ones, and each checked attempt costs one scrypt either way
(analytics.accounts.authenticate): nothing tells an unknown name from a known one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from analytics.accounts import Account, AccountError, authenticate
from analytics.config import AccountsConfig

FORGET_AFTER = 86_400.0  # seconds without a failure after which an unlocked row is dropped
_KEY_MAX = 200  # longer names or client keys cannot be accounts: cut, so the store stays small
_SCHEMA = """CREATE TABLE IF NOT EXISTS login_failures (
    kind TEXT NOT NULL,           -- 'account' (the name typed) or 'client' (the client's address)
    key TEXT NOT NULL,
    failures INTEGER NOT NULL,    -- in a row, since the last success
    not_before REAL NOT NULL,     -- epoch seconds: no attempt before this
    last REAL NOT NULL,           -- epoch seconds of the last attempt counted
    PRIMARY KEY (kind, key))"""


class Outcome(Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"  # wrong name or password
    TOO_SOON = "too soon"  # back-off longer than wait_max_seconds: not checked
    LOCKED = "locked"  # lock_after failures in a row: not checked until `sansfilm users unlock`


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    account: Account | None = None
    retry_after: float = 0.0  # TOO_SOON: seconds until the next attempt is allowed
    waited: float = 0.0  # seconds slept before checking


def store_path(accounts: Path) -> Path:
    return accounts.with_name(f"{accounts.stem}-logins.sqlite")


def delay(policy: AccountsConfig, failures: int) -> float:
    """Seconds between the attempt after `failures` failures in a row and the last one."""
    return 0.0 if failures <= 0 else min(policy.backoff_seconds * 2 ** (failures - 1), policy.backoff_max_seconds)


class LoginGuard:
    """`clock` (epoch seconds, shared by processes) and `sleep` are injectable: tests assert the waits and refusals
    without waiting."""

    def __init__(
        self,
        accounts: Path,
        policy: AccountsConfig,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.accounts, self.policy, self.clock, self.sleep = accounts, policy, clock, sleep
        self.store = store_path(accounts)

    def attempt(self, name: str, password: str, client: str) -> Attempt:
        name, client = name.strip()[:_KEY_MAX], client[:_KEY_MAX]
        keys = (("account", name), ("client", client))
        now = self.clock()
        with self._transaction() as con:
            rows = [self._row(con, kind, key) for kind, key in keys]
            if rows[0][0] >= self.policy.lock_after:
                return Attempt(Outcome.LOCKED)
            start = max(now, rows[0][1], rows[1][1])
            if start - now > self.policy.wait_max_seconds:
                return Attempt(Outcome.TOO_SOON, retry_after=start - now)
            # counted as failed before the check, so that attempts made in parallel each take the next slot; a
            # success clears it
            for (kind, key), (failures, _) in zip(keys, rows, strict=True):
                con.execute(
                    "INSERT OR REPLACE INTO login_failures VALUES (?, ?, ?, ?, ?)",
                    (kind, key, failures + 1, start + delay(self.policy, failures + 1), start),
                )
            con.execute(
                "DELETE FROM login_failures WHERE last < ? AND (kind = 'client' OR failures < ?)",
                (now - FORGET_AFTER, self.policy.lock_after),
            )
        waited = max(0.0, start - now)
        if waited:
            self.sleep(waited)
        account = authenticate(self.accounts, name, password)
        if account is None:
            return Attempt(Outcome.REFUSED, waited=waited)
        with self._transaction() as con:
            con.executemany("DELETE FROM login_failures WHERE kind = ? AND key = ?", keys)
        return Attempt(Outcome.ACCEPTED, account, waited=waited)

    def failures(self, kind: str, key: str) -> tuple[int, float]:
        """(failures in a row, not before) of a name ('account') or a client ('client')."""
        if not self.store.exists():  # reading creates nothing
            return (0, 0.0)
        with self._transaction() as con:
            return self._row(con, kind, key)

    def locked(self) -> set[str]:
        if not self.store.exists():
            return set()
        with self._transaction() as con:
            rows = con.execute(
                "SELECT key FROM login_failures WHERE kind = 'account' AND failures >= ?", (self.policy.lock_after,)
            ).fetchall()
        return {key for (key,) in rows}

    def unlock(self, name: str) -> int:
        """Clear a name's failures; returns how many there were."""
        if not self.store.exists():
            return 0
        with self._transaction() as con:
            failures, _ = self._row(con, "account", name)
            con.execute("DELETE FROM login_failures WHERE kind = 'account' AND key = ?", (name,))
        return failures

    @staticmethod
    def _row(con: sqlite3.Connection, kind: str, key: str) -> tuple[int, float]:
        row = con.execute(
            "SELECT failures, not_before FROM login_failures WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return (row[0], row[1]) if row else (0, 0.0)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            if not self.store.exists():
                self.store.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self.store, os.O_WRONLY | os.O_CREAT, 0o600))  # it names who tried to log in
            con = sqlite3.connect(self.store, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise AccountError(f"{self.store}: cannot open the failed-login store ({exc})") from None
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute(_SCHEMA)
            yield con
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            raise AccountError(f"{self.store}: failed-login store unusable ({exc})") from None
        finally:
            con.close()
