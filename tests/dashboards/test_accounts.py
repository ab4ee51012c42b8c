"""Local accounts: salted hashes only, roles checked, the `users add` command."""

import json

import pytest
from typer.testing import CliRunner

from analytics.accounts import AccountError, add_account, authenticate, check_role, hash_password, load_accounts
from pipelines.cli import app


def test_passwords_are_salted_hashes_never_plaintext(tmp_path):
    path = tmp_path / "accounts.json"
    add_account(path, "alice", "finance", "s3cret-pass")
    add_account(path, "bob", "finance", "s3cret-pass")
    text = path.read_text()
    assert "s3cret-pass" not in text
    hashes = {a.password_hash for a in load_accounts(path).values()}
    assert len(hashes) == 2 and all(h.startswith("scrypt$") for h in hashes)  # same password, different salts
    assert authenticate(path, "alice", "s3cret-pass").role == "finance"
    assert authenticate(path, "alice", "wrong") is None
    assert authenticate(path, "nobody", "s3cret-pass") is None
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("role", ["ars", "gcs", "finance", "operator", "establishment:750238172"])
def test_known_roles(role):
    assert check_role(role) == role


@pytest.mark.parametrize("role", ["admin", "establishment:", "establishment:12345", "establishment:ABCDEFGHI"])
def test_unknown_roles_are_refused(role):
    with pytest.raises(AccountError):
        check_role(role)


def test_empty_password_is_refused():
    with pytest.raises(AccountError):
        hash_password("")


def test_users_add_takes_the_password_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "sansfilm.toml").write_text('[warehouse]\npath = "w.duckdb"\n[contracts]\ndir = "c"\n'
                                            '[archive]\nae_titles = ["X"]\n')  # fmt: skip
    monkeypatch.setenv("SANSFILM_PASSWORD", "from-env-1")
    runner = CliRunner()
    config = str(tmp_path / "sansfilm.toml")
    result = runner.invoke(app, ["--config", config, "users", "add", "carol", "--role", "establishment:940228794"])
    assert result.exit_code == 0, result.output
    stored = json.loads((tmp_path / "data" / "accounts.json").read_text())["accounts"]["carol"]
    assert stored["role"] == "establishment:940228794" and "from-env-1" not in json.dumps(stored)
    assert authenticate(tmp_path / "data" / "accounts.json", "carol", "from-env-1") is not None
    bad = runner.invoke(app, ["--config", config, "users", "add", "dave", "--role", "root"])
    assert bad.exit_code == 2 and "unknown role" in bad.output
    listed = runner.invoke(app, ["--config", config, "users", "list"])
    assert "carol\testablishment:940228794\tpassword" in listed.output and "scrypt" not in listed.output
