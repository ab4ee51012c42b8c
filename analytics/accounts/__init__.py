"""Local dashboard accounts: the embedded default when no OIDC provider is configured.

One JSON file (`$SANSFILM_ACCOUNTS`, else `data/accounts.json` beside the config) maps a user name to a role and a
salted scrypt hash of the password: the password itself is never stored. The same file gives the role of an OIDC
user (by e-mail address, with no password) when Streamlit's `st.login` is configured.

Roles: `ars`, `gcs`, `finance`, `operator`, `establishment:<FINESS>` (a FINESS of the establishment registry). New
passwords follow analytics.accounts.passwords; failed logins are slowed and locked by analytics.accounts.logins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from analytics.accounts.passwords import check_password
from analytics.errors import SansfilmError

ACCOUNTS_ENV = "SANSFILM_ACCOUNTS"
ROLES = ("ars", "gcs", "finance", "operator")
_ROLE = re.compile(r"^(ars|gcs|finance|operator|establishment:\d{9})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._+-]{0,127}$")
# scrypt cost: ~50 ms per check on one core, enough to make guessing slow, cheap enough for a login form
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AccountError(SansfilmError):
    """A bad role, name or accounts file."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str | None  # "scrypt$n$r$p$salt$hash" (base64); None for an OIDC-only account


def accounts_path(config_root: Path) -> Path:
    return Path(os.environ.get(ACCOUNTS_ENV) or config_root / "data" / "accounts.json")


def check_role(role: str) -> str:
    role = role.strip()
    if not _ROLE.match(role):
        raise AccountError(f"unknown role '{role}': use one of {', '.join(ROLES)} or establishment:<FINESS> (9 digits)")
    return role


def check_establishment(role: str, establishments: Collection[str]) -> str:
    """An `establishment:<FINESS>` role names an establishment of the registry (other roles pass)."""
    if role.startswith("establishment:") and role.split(":", 1)[1] not in establishments:
        raise AccountError(
            f"unknown establishment in role '{role}': its FINESS is not in the establishment registry "
            "(contracts/establishments.csv)"
        )
    return role


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    if not password:
        raise AccountError("an empty password is not allowed")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not password:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


def load_accounts(path: Path) -> dict[str, Account]:
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {
            name: Account(name, check_role(a["role"]), a.get("password_hash")) for name, a in raw["accounts"].items()
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise AccountError(f"{path}: not a sansfilm accounts file ({exc})") from None


def save_accounts(path: Path, accounts: dict[str, Account]) -> None:
    """Write atomically, readable by its owner only (it holds password hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "accounts": {
            a.name: {"role": a.role, "password_hash": a.password_hash}
            for a in sorted(accounts.values(), key=lambda a: a.name)
        }
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
    os.replace(tmp, path)


def add_account(path: Path, name: str, role: str, password: str | None, *, establishments: Collection[str]) -> Account:
    """Create or replace an account (a password of None makes an OIDC-only account); `establishments`: the FINESS
    of the registry, which an establishment role must name."""
    if not _NAME.match(name):
        raise AccountError(f"'{name}' is not a valid user name (letters, digits, @ . _ + -)")
    role = check_establishment(check_role(role), establishments)
    account = Account(name, role, hash_password(check_password(password, name)) if password is not None else None)
    accounts = load_accounts(path)
    accounts[name] = account
    save_accounts(path, accounts)
    return account


# made at import (one scrypt, once per process), so that no login pays for it
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def authenticate(path: Path, name: str, password: str) -> Account | None:
    """The account if the password is its own. An unknown name (or an OIDC-only account) costs one scrypt too, against
    a dummy hash: the answer takes the same time whether the name exists or not (no user enumeration by timing)."""
    account = load_accounts(path).get(name.strip())
    stored = account.password_hash if account is not None else None
    ok = verify_password(password, stored or _DUMMY_HASH)
    return account if ok and stored else None
