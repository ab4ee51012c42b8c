"""The `[alerts]` section of the configuration: thresholds and channels. No secret in the file: the SMTP password
is read from the environment variable the file names (`password_env`)."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analytics.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _is_address(text: str) -> bool:
    local, at, domain = text.partition("@")
    return bool(local and at and "." in domain) and not any(c in text for c in " <>,;")


class WebhookConfig(_Section):
    """A JSON POST per alert (shape in docs/operations.md); a secret token, if any, travels in a header whose value
    comes from the environment."""

    url: str
    timeout: float = Field(default=10.0, gt=0)  # seconds per request
    token_env: str | None = None  # sent as `Authorization: Bearer <value>` when set
    ca_file: Path | None = None  # PEM file of a private CA to trust instead of the system's; relative to the file

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials: put a token in the environment and name it with token_env")
        return url


class EmailConfig(_Section):
    """An SMTP server: `security` is `starttls` (port 587), `ssl` (implicit TLS, port 465) or `none` (a relay on
    a trusted network); `user` with `password_env` logs in, the password itself stays in the environment."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    password_env: str | None = None
    timeout: float = Field(default=30.0, gt=0)  # seconds per SMTP exchange
    ca_file: Path | None = None  # PEM file of a private CA to trust instead of the system's; relative to the file

    @field_validator("sender", "to")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        bad = [a for a in ([value] if isinstance(value, str) else value) if not _is_address(a)]
        if bad:
            raise ValueError(f"'{bad[0]}' is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _login_pair(self) -> EmailConfig:
        if bool(self.user) != bool(self.password_env):
            raise ValueError("user and password_env go together (the password itself stays in the environment)")
        return self

    def password(self) -> str | None:
        """The SMTP password from the environment; a missing variable is a configuration error naming it."""
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(
                f"[alerts.email] password_env names ${self.password_env}, which is not set: export "
                "the SMTP password in that variable"
            )
        return value


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificates and host names are always checked: against `ca_file` when given, else the system's CAs."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class AlertsConfig(_Section):
    silent_days: int = Field(default=7, ge=1)  # a live site with no study for more than this many Paris days
    harvest_hours: int = Field(default=26, ge=1)  # a source whose last harvest finished longer ago than this
    webhook: WebhookConfig | None = None
    email: EmailConfig | None = None

    @property
    def channels(self) -> list[str]:
        return [name for name in ("webhook", "email") if getattr(self, name) is not None]

    def resolved(self, root: Path) -> AlertsConfig:
        """`ca_file` paths made absolute, relative to the configuration file's folder like every path."""
        update = {}
        for name in ("webhook", "email"):
            channel = getattr(self, name)
            if channel is not None and channel.ca_file is not None and not channel.ca_file.is_absolute():
                update[name] = channel.model_copy(update={"ca_file": (root / channel.ca_file).resolve()})
        return self.model_copy(update=update)
