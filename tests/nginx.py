"""A throwaway nginx for tests: Debian's binary with its own main config and prefix directory under a temp dir, the
site from `deploy/nginx/sansfilm.conf` rendered with free loopback ports and a self-signed certificate made here;
one foreground process (`master_process off`), stopped at the end.

Never uses the system's configuration (`/etc/nginx`), its service, or ports 80/443: `make system-deps` installs the
package and stops that service.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "sansfilm.conf"
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")
MAIN = """daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/sansfilm.conf;
}}
"""


def require_nginx() -> None:
    if not os.access(NGINX, os.X_OK):
        hint = "nginx is not installed: `make test` installs it when run as root (apt-get install nginx)"
        if os.environ.get("CI"):
            pytest.fail(f"{hint}; CI must install it (the Makefile's SYSTEM_PACKAGES).")
        pytest.skip(hint)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(template: str, values: dict[str, str]) -> str:
    """The template with each @NAME@ replaced, as docs/deploy.md's sed line does; every placeholder must be given."""
    text = template
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = _PLACEHOLDER.findall(text)
    assert not left, f"placeholders not rendered: {left}"
    return text


def self_signed(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `host` (IP and localhost), valid a day, with its key: (certificate, key) PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "sansfilm.crt", directory / "sansfilm.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass(frozen=True)
class Proxy:
    https_url: str
    http_url: str
    prefix: Path

    def log_tail(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


@contextmanager
def nginx_proxy(prefix: Path, upstream: str, https_port: int | None = None) -> Iterator[Proxy]:
    """deploy/nginx/sansfilm.conf in front of `upstream` (host:port), HTTPS (on `https_port` if given: the OIDC
    redirect URI names it before nginx starts) and HTTP on free loopback ports."""
    require_nginx()
    for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(prefix)
    https_port, http_port = https_port or free_port(), free_port()
    (prefix / "sansfilm.conf").write_text(
        render(
            SITE.read_text(encoding="utf-8"),
            {
                "SERVER_NAME": "127.0.0.1",
                "HTTPS_LISTEN": f"127.0.0.1:{https_port}",
                "HTTP_LISTEN": f"127.0.0.1:{http_port}",
                "CERTIFICATE": str(cert),
                "CERTIFICATE_KEY": str(key),
                "DASHBOARDS": upstream,
            },
        ),
        encoding="utf-8",
    )
    (prefix / "nginx.conf").write_text(MAIN.format(prefix=prefix), encoding="utf-8")
    cmd = [NGINX, "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*cmd, "-t", "-q"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    proxy = Proxy(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", prefix)
    try:
        context = ssl.create_default_context(cafile=cert)
        deadline = time.monotonic() + 15
        while True:
            try:
                with (
                    socket.create_connection(("127.0.0.1", https_port), timeout=1) as raw,
                    context.wrap_socket(raw, server_hostname="127.0.0.1"),
                ):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {proxy.log_tail()}") from None
                time.sleep(0.1)
        yield proxy
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
