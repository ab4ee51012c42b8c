"""A throwaway PostgreSQL server for tests: its own data dir, socket dir and loopback port, gone at the end.

Never uses the Debian cluster or service (`/var/lib/postgresql/*/main`, port 5432): initdb and pg_ctl run on a fresh
temp dir. Import the fixtures into a test module: `from tests.postgres import postgres_server, postgres_database`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

INSTALL_HINT = (
    "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): `make test` installs it when run as root, "
    "or run `apt-get install -y --no-install-recommends postgresql`"
)


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl") if (p.parent / "initdb").exists()]
    found.sort(key=lambda bindir: int(bindir.parent.name) if bindir.parent.name.isdigit() else 0)
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_postgres(bindir: Path) -> Iterator[str]:
    """Start a server in a temp dir; yield its SQLAlchemy URL (trust auth, user postgres); stop and remove it."""
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    tmp = Path(tempfile.mkdtemp(prefix="sansfilm-pg-"))
    data, log = tmp / "data", tmp / "server.log"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, *args], cwd=tmp, capture_output=True, text=True, timeout=120)

    started = False
    try:
        if as_root:
            shutil.chown(tmp, "postgres", "postgres")  # initdb refuses to run as root
        done = run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        for _attempt in range(3):  # the free port may be taken between probing and binding
            port = _free_port()
            options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
            done = run(
                str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"
            )
            if done.returncode == 0:
                started = True
                break
        if not started:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{done.stdout}\n{done.stderr}\n{tail}")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of the session's throwaway server (its `postgres` database); skips, or fails on CI, if not installed."""
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(f"{INSTALL_HINT}. CI must install it (add postgresql to the Makefile's SYSTEM_PACKAGES).")
        pytest.skip(INSTALL_HINT)
    with throwaway_postgres(bindir) as url:
        yield url


def create_database(server_url: str) -> str:
    """A new, empty database on the server; returns its URL."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:16]}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(database_url: str) -> None:
    import sqlalchemy as sa

    server_url, name = database_url.rsplit("/", 1)
    engine = sa.create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases on the session server, all dropped after the test."""
    made: list[str] = []

    def make() -> str:
        made.append(create_database(postgres_server))
        return made[-1]

    yield make
    for url in made:
        drop_database(url)
