"""A small OpenID Connect provider on 127.0.0.1 for the login tests: discovery document, JWKS, an authorization
endpoint that approves the configured user at once and redirects back with a code, and a token endpoint that
returns an RS256-signed ID token (iss, sub, aud, exp, iat, nonce, email).

It checks what a real provider checks on the client's side of the flow (client id and secret, the registered
redirect URI, single-use codes, PKCE S256 when the client sends a challenge), so a misconfigured client fails here
as it would in production. Not a provider for anything but tests: one client, no consent, no refresh tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

TOKEN_LIFETIME_S = 300


@dataclass
class OIDCProvider:
    client_id: str
    client_secret: str
    redirect_uri: str
    user: dict[str, str] = field(default_factory=dict)  # the identity approved at the next authorization
    issued: list[dict[str, object]] = field(default_factory=list)  # claims of every ID token issued
    _codes: dict[str, dict[str, object]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "sansfilm-test", "use": "sig", "alg": "RS256"})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def __enter__(self) -> OIDCProvider:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def metadata(self) -> dict[str, object]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "name", "nonce"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if query.get("client_id") != self.client_id or query.get("redirect_uri") != self.redirect_uri:
            return 400, {}, b"unknown client or unregistered redirect_uri"
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            return 400, {}, b"only the authorization code flow with scope openid"
        if not self.user:
            return 403, {}, b"no user configured"
        code = secrets.token_urlsafe(24)
        self._codes[code] = {
            "nonce": query.get("nonce"),
            "user": dict(self.user),
            "challenge": query.get("code_challenge"),
            "method": query.get("code_challenge_method"),
        }
        back = f"{self.redirect_uri}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": back}, b""

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, object]]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            client_id, _, client_secret = (
                unquote_plus(part)
                for part in base64.b64decode(  # RFC 6749 2.3.1: form-encoded first
                    authorization[6:]
                )
                .decode()
                .partition(":")
            )
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        grant = self._codes.pop(form.get("code", ""), None)  # single use
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or form.get("redirect_uri") != self.redirect_uri
        ):
            return 400, {"error": "invalid_grant"}
        if grant["challenge"] is not None:
            verifier = form.get("code_verifier", "").encode()
            computed = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
            if grant["method"] != "S256" or computed != grant["challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        now = int(time.time())  # the client checks exp and iat against its clock
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
            **grant["user"],
            **({"nonce": grant["nonce"]} if grant["nonce"] else {}),
        }
        self.issued.append(claims)
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "id_token": id_token,
            "scope": "openid email profile",
        }


def _handler(provider: OIDCProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:  # quiet
            pass

        def _send(
            self,
            status: int,
            body: bytes,
            headers: dict[str, str] | None = None,
            content_type: str = "application/json",
        ) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": content_type, "Cache-Control": "no-store", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._send(200, json.dumps(provider.metadata()).encode())
            elif url.path == "/jwks":
                self._send(200, json.dumps({"keys": [provider.key.as_dict(private=False)]}).encode())
            elif url.path == "/authorize":
                status, headers, body = provider.authorize({k: v[0] for k, v in parse_qs(url.query).items()})
                self._send(status, body, headers, "text/plain")
            else:
                self._send(404, b"{}")

        def do_POST(self) -> None:  # noqa: N802
            if urlsplit(self.path).path != "/token":
                self._send(404, b"{}")
                return
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            status, body = provider.token(form, self.headers.get("Authorization"))
            self._send(status, json.dumps(body).encode())

    return Handler
