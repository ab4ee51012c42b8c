"""`sansfilm dashboards` and `sansfilm users`: serve the Streamlit app, manage its local accounts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from analytics.config import Settings
from analytics.errors import SansfilmError

APP = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"
SERVER = APP.with_name("server.py")  # the app with a start-up hook (the cache warmer)
PASSWORD_ENV = "SANSFILM_PASSWORD"
# The sample's demo accounts: printed by `sansfilm demo`, for the sample corpus only.
DEMO_ACCOUNTS = (("gcs", "gcs"), ("finance", "finance"), ("ars", "ars"), ("operator", "operator"),
                 ("saint-eloi", "establishment:750238172"))  # fmt: skip


def streamlit_command(settings: Settings, port: int, *, headless: bool = True) -> tuple[list[str], dict[str, str]]:
    cmd = [sys.executable, "-m", "streamlit", "run", str(SERVER), "--server.address", "127.0.0.1", "--server.port",
           str(port), "--server.headless", str(headless).lower(), "--browser.gatherUsageStats", "false",
           "--global.developmentMode", "false"]  # fmt: skip
    env = {**os.environ, "SANSFILM_CONFIG": str(settings.config_path), "PYTHONPATH": str(SERVER.parents[1]),
           "SANSFILM_WARM_CACHES": "1"}  # the server fills each regional role's pages after each publish
    return cmd, env


def serve(settings: Settings, port: int) -> None:
    cmd, env = streamlit_command(settings, port)
    typer.echo(f"dashboards on http://127.0.0.1:{port} (Ctrl-C to stop)")
    try:
        subprocess.run(cmd, env=env, check=False)
    except KeyboardInterrupt:
        pass


def ensure_demo_accounts(settings: Settings) -> list[tuple[str, str, str]]:
    """Create the demo accounts that do not exist yet (never overwrites one); returns (name, role, password)."""
    from analytics.accounts import accounts_path, add_account, load_accounts

    path = accounts_path(settings.root)
    existing = load_accounts(path)
    made = []
    for name, role in DEMO_ACCOUNTS:
        password = f"demo-{name}"
        if name not in existing:
            add_account(path, name, role, password)
        made.append((name, role, password if name not in existing or existing[name].role == role else "(unchanged)"))
    return made


def register(app: typer.Typer, settings: Callable[[], Settings], fail: Callable[[SansfilmError], typer.Exit]) -> None:
    @app.command()
    def dashboards(port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1.")] = 8501) -> None:
        """Serve the dashboards on http://127.0.0.1:PORT (reads the published warehouse only)."""
        try:
            config = settings()
        except SansfilmError as exc:
            raise fail(exc) from None
        serve(config, port)

    users = typer.Typer(no_args_is_help=True, help="Local dashboard accounts (salted scrypt hashes).")
    app.add_typer(users, name="users")

    @users.command("add")
    def users_add(
        name: Annotated[str, typer.Argument(help="User name (or the e-mail of an OIDC user).")],
        role: Annotated[str, typer.Option("--role", help="ars, gcs, finance, operator or establishment:<FINESS>.")],
        oidc_only: Annotated[bool, typer.Option("--oidc-only", help="No password: logs in through OIDC only.")] = False,
    ) -> None:
        """Create or replace an account; the password comes from $SANSFILM_PASSWORD, else a prompt."""
        from analytics.accounts import accounts_path, add_account

        try:
            path = accounts_path(settings().root)
            password = None if oidc_only else (os.environ.get(PASSWORD_ENV)
                                               or typer.prompt("password", hide_input=True, confirmation_prompt=True))  # fmt: skip
            account = add_account(path, name, role, password)
        except SansfilmError as exc:
            raise fail(exc) from None
        typer.echo(f"{account.name}: {account.role} ({path})")

    @users.command("list")
    def users_list() -> None:
        """Names and roles (never the hashes)."""
        from analytics.accounts import accounts_path, load_accounts

        try:
            accounts = load_accounts(accounts_path(settings().root))
        except SansfilmError as exc:
            raise fail(exc) from None
        for account in accounts.values():
            typer.echo(f"{account.name}\t{account.role}\t{'password' if account.password_hash else 'oidc'}")
