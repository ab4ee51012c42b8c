"""Real receivers for the alert channels, on loopback and free ports: an SMTP server (aiosmtpd) and an HTTP server
taking JSON POSTs. Each keeps what it accepted; the HTTP one can refuse its first requests (HTTP 503)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)  # (MAIL FROM, RCPT TO)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(
    tls: tuple[Path, Path] | None = None, security: str = "none", login: tuple[str, str] | None = None
) -> Iterator[tuple[Mailbox, int]]:
    """`tls`: (certificate, key) PEM files; `security`: `starttls` (required before MAIL) or `ssl` (implicit TLS);
    `login`: the only (user, password) AUTH accepts, then required."""
    mailbox, port = Mailbox(), free_port()
    options: dict = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, tls))
        options = {"ssl_context": context} if security == "ssl" else {"tls_context": context, "require_starttls": True}
    if login:

        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
            given = (auth_data.login.decode(), auth_data.password.decode())
            return AuthResult(success=given == login, handled=False)  # False: aiosmtpd answers 535 itself

        options |= {"authenticator": authenticate, "auth_required": True, "auth_require_tls": security == "starttls"}
        # (implicit TLS: aiosmtpd only knows of STARTTLS'd sessions, so it must not ask for one)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@dataclass
class Hook:
    received: list[dict] = field(default_factory=list)  # bodies answered 2xx
    refused: list[dict] = field(default_factory=list)  # bodies answered 503
    refuse_next: int = 0  # how many of the next requests to refuse
    headers: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def webhook_server() -> Iterator[tuple[Hook, str]]:
    hook, lock = Hook(), threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's hook name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
            with lock:
                refuse = hook.refuse_next > 0
                hook.refuse_next -= refuse
                (hook.refused if refuse else hook.received).append(body)
                hook.headers.append(dict(self.headers))
            self.send_response(503 if refuse else 204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook, f"http://127.0.0.1:{server.server_address[1]}/alerts"
    finally:
        server.shutdown()
        server.server_close()
