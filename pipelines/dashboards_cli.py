"""`sansfilm dashboards` and `sansfilm users`: serve the Streamlit app, manage its local accounts."""

from __future__ import annotations

import errno
import ipaddress
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from analytics.config import Settings
from analytics.errors import SansfilmError

if TYPE_CHECKING:
    from analytics.accounts.logins import LoginGuard

APP = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"
SERVER = APP.with_name("server.py")  # the app with a start-up hook (the cache warmer)
PASSWORD_ENV = "SANSFILM_PASSWORD"
LOOPBACK = "127.0.0.1"
# The sample's demo accounts (password demo-<name>-sample): printed by `sansfilm demo`, for the sample corpus only.
DEMO_ACCOUNTS = (
    ("gcs", "gcs"),
    ("finance", "finance"),
    ("ars", "ars"),
    ("operator", "operator"),
    ("saint-eloi", "establishment:750238172"),
)


def streamlit_command(
    settings: Settings, port: int, *, address: str = LOOPBACK, headless: bool = True
) -> tuple[list[str], dict[str, str]]:
    """Users get the viewer's menu only (no Rerun, Clear cache or developer items) and a server that does not watch
    its source files; XSRF protection and same-origin WebSocket checks stay on (docs/deploy.md). The cookie secret
    comes from $STREAMLIT_SERVER_COOKIE_SECRET when set (never on a command line, which `ps` shows)."""
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(SERVER),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        str(headless).lower(),
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--server.enableXsrfProtection",
        "true",
        "--server.enableCORS",
        "true",
    ]
    env = {
        **os.environ,
        "SANSFILM_CONFIG": str(settings.config_path),
        "PYTHONPATH": str(SERVER.parents[1]),
        "SANSFILM_WARM_CACHES": "1",
    }  # the server fills each regional role's pages after each publish
    return cmd, env


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends it SIGTERM when the CLI dies, even by SIGKILL (Linux only)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def require_free_port(address: str, port: int) -> None:
    """Refuse (SansfilmError) an address and port the dashboards could not listen on, before saying they are served
    there (Streamlit would exit with a log line of its own): each address `address` names is tried as a server binds
    it, a port held by another server, an address not of this machine, a name that does not resolve."""
    try:
        found = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise SansfilmError(f"cannot listen on {address}:{port} ({exc}): check --address") from None
    for family, kind, protocol, _, where in found:
        try:
            with socket.socket(family, kind, protocol) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's port is free
                probe.bind(where)
        except OSError as exc:
            if exc.errno == errno.EAFNOSUPPORT:  # IPv6 off on this machine: the server skips that address too
                continue
            if exc.errno == errno.EADDRINUSE:
                raise SansfilmError(
                    f"cannot listen on {address}:{port} ({exc.strerror}): another server holds it, or the "
                    "dashboards already run there; choose another with --port"
                ) from None
            raise SansfilmError(
                f"cannot listen on {address}:{port} ({exc.strerror}): check --address and --port"
            ) from None


def serve(settings: Settings, port: int, address: str = LOOPBACK) -> int:
    """Run Streamlit as a child until it exits, or until this process gets SIGTERM, SIGINT or SIGHUP, which stop
    the child first (and the child gets SIGTERM if this process is killed outright). Returns the child's exit code,
    0 when a signal stopped it."""
    if not is_loopback(address):
        typer.echo(
            f"warning: the dashboards listen on {address}, beyond this machine: serve them behind a TLS "
            "reverse proxy instead (docs/deploy.md)",
            err=True,
        )
    require_free_port(address, port)
    cmd, env = streamlit_command(settings, port, address=address)
    typer.echo(f"dashboards on http://{address}:{port} (Ctrl-C to stop)")
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    child = subprocess.Popen(cmd, env=env, preexec_fn=preexec)  # no thread runs yet: preexec_fn is safe
    stopping = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)
        child.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        code = child.wait()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping else code


def registry_ids(settings: Settings) -> set[str]:
    """The FINESS an `establishment:` role may name."""
    from analytics.registry import load_registry

    return set(load_registry(settings.contracts.dir).by_id())


def ensure_demo_accounts(settings: Settings) -> list[tuple[str, str, str]]:
    """Create the demo accounts that do not exist yet (never overwrites one); returns (name, role, password)."""
    from analytics.accounts import accounts_path, add_account, load_accounts

    path = accounts_path(settings.root)
    existing = load_accounts(path)
    establishments = registry_ids(settings)
    made = []
    for name, role in DEMO_ACCOUNTS:
        password = f"demo-{name}-sample"
        if name not in existing:
            add_account(path, name, role, password, establishments=establishments)
        made.append((name, role, password if name not in existing or existing[name].role == role else "(unchanged)"))
    return made


def register(app: typer.Typer, settings: Callable[[], Settings], fail: Callable[[SansfilmError], typer.Exit]) -> None:
    @app.command()
    def dashboards(
        port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8501,
        address: Annotated[
            str,
            typer.Option(
                "--address",
                help="Address to listen on; anything but loopback warns: "
                "serve users through a TLS reverse proxy (docs/deploy.md).",
            ),
        ] = LOOPBACK,
    ) -> None:
        """Serve the dashboards on http://ADDRESS:PORT (reads the published warehouse only); SIGTERM or Ctrl-C stops
        them."""
        try:
            config = settings()
        except SansfilmError as exc:
            raise fail(exc) from None
        try:
            code = serve(config, port, address)
        except SansfilmError as exc:
            raise fail(exc) from None
        if code:
            raise typer.Exit(code)

    users = typer.Typer(
        no_args_is_help=True,
        help="Local dashboard accounts (salted scrypt hashes) and their "
        "failed-login locks. Passwords: at least 12 characters, not a common one.",
    )
    app.add_typer(users, name="users")

    @users.command("add")
    def users_add(
        name: Annotated[str, typer.Argument(help="User name (or the e-mail of an OIDC user).")],
        role: Annotated[str, typer.Option("--role", help="ars, gcs, finance, operator or establishment:<FINESS>.")],
        oidc_only: Annotated[bool, typer.Option("--oidc-only", help="No password: logs in through OIDC only.")] = False,
    ) -> None:
        """Create or replace an account (password from $SANSFILM_PASSWORD, else a prompt).

        Refused: a password shorter than 12 characters or on the common-password list, a FINESS not in the registry.
        """
        from analytics.accounts import accounts_path, add_account

        try:
            config = settings()
            path = accounts_path(config.root)
            password = None if oidc_only else os.environ.get(PASSWORD_ENV)
            if not oidc_only and not password:
                try:
                    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
                except typer.Abort:  # the end of the input (no terminal, nothing piped), or Ctrl-C
                    if sys.stdin.isatty():
                        raise
                    raise SansfilmError(
                        f"no password for {name}: set ${PASSWORD_ENV}, or run this in a terminal"
                    ) from None
            account = add_account(path, name, role, password, establishments=registry_ids(config))
        except SansfilmError as exc:
            raise fail(exc) from None
        typer.echo(f"{account.name}: {account.role} ({path})")

    @users.command("list")
    def users_list() -> None:
        """Names, roles and how they log in (never the hashes); `locked` after the locked ones."""
        from analytics.accounts import accounts_path, load_accounts

        try:
            config = settings()
            path = accounts_path(config.root)
            accounts, locked = load_accounts(path), _guard(config).locked()
        except SansfilmError as exc:
            raise fail(exc) from None
        for account in accounts.values():
            how = "password" if account.password_hash else "oidc"
            typer.echo(f"{account.name}\t{account.role}\t{how}" + ("\tlocked" if account.name in locked else ""))

    @users.command("unlock")
    def users_unlock(name: Annotated[str, typer.Argument(help="The name locked by failed logins.")]) -> None:
        """Lift the lock that failed logins put on NAME, and clear its failures."""
        from analytics.accounts import accounts_path, load_accounts

        try:
            config = settings()
            failures = _guard(config).unlock(name)
            if not failures and name not in load_accounts(accounts_path(config.root)):  # a name mistyped
                raise SansfilmError(f"no account and no failed login named {name}: see `sansfilm users list`")
        except SansfilmError as exc:
            raise fail(exc) from None
        typer.echo(f"{name}: unlocked ({failures} failed logins cleared)" if failures else f"{name}: not locked")


def _guard(settings: Settings) -> LoginGuard:
    from analytics.accounts import accounts_path
    from analytics.accounts.logins import LoginGuard

    return LoginGuard(accounts_path(settings.root), settings.accounts)
