"""Local accounts: salted hashes only, roles checked against the registry, the password policy, the `users` commands."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.accounts import (
    AccountError,
    add_account,
    authenticate,
    check_role,
    hash_password,
    load_accounts,
    wordlist,
)
from analytics.accounts.passwords import WeakPassword, check_password, common_passwords
from pipelines.cli import app

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"  # the sample's registry: 750238172, 940228794, ...
REGISTRY = {"750238172", "940228794"}
GOOD = "correct-horse-battery"


def test_passwords_are_salted_hashes_never_plaintext(tmp_path):
    path = tmp_path / "accounts.json"
    add_account(path, "alice", "finance", GOOD, establishments=REGISTRY)
    add_account(path, "bob", "finance", GOOD, establishments=REGISTRY)
    text = path.read_text()
    assert GOOD not in text
    hashes = {a.password_hash for a in load_accounts(path).values()}
    assert len(hashes) == 2 and all(h.startswith("scrypt$") for h in hashes)  # same password, different salts
    assert authenticate(path, "alice", GOOD).role == "finance"
    assert authenticate(path, "alice", "wrong") is None
    assert authenticate(path, "nobody", GOOD) is None
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("role", ["ars", "gcs", "finance", "operator", "establishment:750238172"])
def test_known_roles(role):
    assert check_role(role) == role


@pytest.mark.parametrize("role", ["admin", "establishment:", "establishment:12345", "establishment:ABCDEFGHI"])
def test_unknown_roles_are_refused(role):
    with pytest.raises(AccountError):
        check_role(role)


def test_an_establishment_role_must_name_an_establishment_of_the_registry(tmp_path):
    path = tmp_path / "accounts.json"
    with pytest.raises(AccountError, match="not in the establishment registry"):
        add_account(path, "eve", "establishment:123456789", GOOD, establishments=REGISTRY)
    with pytest.raises(AccountError, match="not in the establishment registry"):
        add_account(path, "eve@chu.example", "establishment:123456789", None, establishments=REGISTRY)  # OIDC too
    assert not path.exists()
    assert add_account(path, "eve", "establishment:940228794", GOOD, establishments=REGISTRY).role.endswith("794")


def test_empty_password_is_refused():
    with pytest.raises(AccountError):
        hash_password("")


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("", "too short"),
        ("eleven-char", "too short"),
        ("motdepasse123", "common"),
        ("Password123456", "common"),
        ("AZERTYUIOP2024", "common"),
        ("  qwertyuiop123  ", "common"),
        ("1q2w3e4r5t6y", "common"),
        ("123456789012", "common"),
        ("soleil.soleil", "common"),
        ("p@$$w0rd1234", "common"),
        ("abababababab", "too few"),
        ("alice@chu.example", "user name"),
    ],
)
def test_weak_passwords_are_refused(password, why):
    with pytest.raises(WeakPassword, match=why):
        check_password(password, "alice@chu.example")


@pytest.mark.parametrize("password", [GOOD, "twelve-chars", "Radiologie sans film, 2026", "demo-gcs-sample"])
def test_passwords_the_policy_accepts(password):
    assert check_password(password, "alice") == password


def test_the_common_password_list_is_the_generators_output_and_a_few_thousand_long():
    shipped = wordlist.LIST_FILE.read_text(encoding="utf-8").splitlines()
    assert shipped == wordlist.generate()  # regenerate with `python -m analytics.accounts.wordlist`
    assert 3_000 <= len(common_passwords()) <= 20_000
    assert all(len(p) >= wordlist.MIN_LENGTH and p == p.lower() for p in shipped)


def _config(tmp_path: Path) -> str:
    (tmp_path / "sansfilm.toml").write_text(
        f'[warehouse]\npath = "w.duckdb"\n[contracts]\ndir = "{CONTRACTS}"\n'
        '[archive]\nae_titles = ["X"]\n[accounts]\nlock_after = 3\n'
    )
    return str(tmp_path / "sansfilm.toml")


def test_users_add_takes_the_password_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SANSFILM_PASSWORD", "from-the-environment")
    runner = CliRunner()
    config = _config(tmp_path)
    result = runner.invoke(app, ["--config", config, "users", "add", "carol", "--role", "establishment:940228794"])
    assert result.exit_code == 0, result.output
    stored = json.loads((tmp_path / "data" / "accounts.json").read_text())["accounts"]["carol"]
    assert stored["role"] == "establishment:940228794" and "from-the-environment" not in json.dumps(stored)
    assert authenticate(tmp_path / "data" / "accounts.json", "carol", "from-the-environment") is not None
    bad = runner.invoke(app, ["--config", config, "users", "add", "dave", "--role", "root"])
    assert bad.exit_code == 2 and "unknown role" in bad.output
    listed = runner.invoke(app, ["--config", config, "users", "list"])
    assert "carol\testablishment:940228794\tpassword\n" in listed.output and "scrypt" not in listed.output


@pytest.mark.parametrize(
    ("role", "password", "message"),
    [
        ("finance", "short-one", "too short: at least 12 characters"),
        ("finance", "Motdepasse2024", "on the list of common passwords"),
        ("establishment:123456789", "from-the-environment", "FINESS is not in the establishment registry"),
    ],
)
def test_users_add_refuses_in_one_line_and_writes_nothing(tmp_path, monkeypatch, role, password, message):
    monkeypatch.setenv("SANSFILM_PASSWORD", password)
    result = CliRunner().invoke(app, ["--config", _config(tmp_path), "users", "add", "dave", "--role", role])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not (tmp_path / "data" / "accounts.json").exists()


def test_users_add_with_no_password_to_read_says_how_to_give_one(tmp_path, monkeypatch):
    monkeypatch.delenv("SANSFILM_PASSWORD", raising=False)
    result = CliRunner().invoke(app, ["--config", _config(tmp_path), "users", "add", "dave", "--role", "gcs"], input="")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("no password for dave: set $SANSFILM_PASSWORD, or run this in a terminal")
    piped = CliRunner().invoke(
        app, ["--config", _config(tmp_path), "users", "add", "dave", "--role", "gcs"], input="from-a-pipe-123\n" * 2
    )
    assert piped.exit_code == 0, piped.output  # a password piped twice is still read as the prompt's


def test_users_unlock_lifts_the_lock_that_failed_logins_put(tmp_path, monkeypatch):
    from analytics.accounts.logins import LoginGuard, Outcome
    from analytics.config import load_settings

    monkeypatch.setenv("SANSFILM_PASSWORD", "from-the-environment")
    runner = CliRunner()
    config = _config(tmp_path)
    assert runner.invoke(app, ["--config", config, "users", "add", "carol", "--role", "gcs"]).exit_code == 0
    settings = load_settings(config)
    guard = LoginGuard(tmp_path / "data" / "accounts.json", settings.accounts, clock=lambda: 1e9, sleep=lambda s: None)
    for _ in range(3):  # [accounts] lock_after = 3 in this config; the wait is slept (a no-op here)
        assert guard.attempt("carol", "wrong", "10.0.0.1").outcome is Outcome.REFUSED
    assert guard.attempt("carol", "from-the-environment", "10.0.0.2").outcome is Outcome.LOCKED
    listed = runner.invoke(app, ["--config", config, "users", "list"])
    assert "carol\tgcs\tpassword\tlocked" in listed.output
    unlocked = runner.invoke(app, ["--config", config, "users", "unlock", "carol"])
    assert unlocked.exit_code == 0 and unlocked.output == "carol: unlocked (3 failed logins cleared)\n"
    assert guard.attempt("carol", "from-the-environment", "10.0.0.2").outcome is Outcome.ACCEPTED
    assert runner.invoke(app, ["--config", config, "users", "unlock", "carol"]).output == "carol: not locked\n"
    assert "locked" not in runner.invoke(app, ["--config", config, "users", "list"]).output
    # a name mistyped is said so, in one line; failures of a name that is no account (someone trying names) clear
    mistyped = runner.invoke(app, ["--config", config, "users", "unlock", "carl"])
    assert mistyped.exit_code == 2, mistyped.output
    assert mistyped.output.strip().splitlines() == [
        "error: no account and no failed login named carl: see `sansfilm users list`"
    ]
    assert guard.attempt("mallory", "guess", "10.0.0.3").outcome is Outcome.REFUSED
    assert runner.invoke(app, ["--config", config, "users", "unlock", "mallory"]).output == (
        "mallory: unlocked (1 failed logins cleared)\n"
    )


def test_users_help_states_the_rules():
    result = CliRunner().invoke(app, ["users", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "at least 12 characters" in text and "unlock" in text and "failed-login" in text


def test_the_demo_accounts_pass_the_rules_and_log_in(tmp_path, monkeypatch):
    from analytics.config import load_settings
    from pipelines.dashboards_cli import ensure_demo_accounts

    monkeypatch.setenv("SANSFILM_ACCOUNTS", str(tmp_path / "accounts.json"))
    made = ensure_demo_accounts(load_settings(CONTRACTS.parent / "sansfilm.toml"))
    assert [(name, password) for name, _, password in made][0] == ("gcs", "demo-gcs-sample")
    for name, role, password in made:
        assert authenticate(tmp_path / "accounts.json", name, password).role == role
    assert ensure_demo_accounts(load_settings(CONTRACTS.parent / "sansfilm.toml")) == made  # never overwritten


def test_listing_and_unlocking_create_no_file(tmp_path):
    config = _config(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["--config", config, "users", "list"]).output == ""
    assert runner.invoke(app, ["--config", config, "users", "unlock", "carol"]).output == (
        "error: no account and no failed login named carol: see `sansfilm users list`\n"
    )
    # data/ itself may exist: a configuration without [ledger] gets its default ledger folder at load
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [tmp_path / "sansfilm.toml"]
