"""Delivering an alert: the webhook's JSON (a contract: docs/operations.md#alertes) and the e-mail, in French.

A channel that does not accept the message raises DeliveryError with a one-line reason (never a credential); the
caller keeps the delivery pending and tries again on the next tick.
"""

from __future__ import annotations

import json
import os
import smtplib
import urllib.error
import urllib.request
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from analytics.alerts.rules import TITLES
from analytics.alerts.settings import AlertsConfig, EmailConfig, WebhookConfig, tls_context
from analytics.alerts.store import Occurrence
from analytics.errors import SansfilmError
from analytics.periods import PARIS

PAYLOAD_VERSION = 1


class DeliveryError(SansfilmError):
    """A channel refused or could not be reached; the delivery stays pending."""


def payload(occurrence: Occurrence) -> dict[str, Any]:
    """The webhook's JSON: the same keys for every kind, `details` per kind (docs/operations.md#alertes)."""
    alert = occurrence.alert
    establishment = None
    if alert.establishment_id:
        establishment = {"finess": alert.establishment_id, "name": alert.establishment_name}
    return {
        "version": PAYLOAD_VERSION,
        "occurrence": occurrence.id,
        "kind": alert.kind,
        "key": alert.key,
        "title": TITLES.get(alert.kind, alert.kind),
        "message": alert.message,
        "establishment": establishment,
        "since": alert.since,
        "raised_at": occurrence.opened_at.astimezone(PARIS).isoformat(),
        "details": alert.details,
    }


def send_webhook(config: WebhookConfig, body: dict[str, Any]) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "sansfilm-alerts"}
    if config.token_env:
        token = os.environ.get(config.token_env)
        if not token:
            raise DeliveryError(f"webhook: ${config.token_env} (token_env) is not set")
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(config.url, data=data, headers=headers, method="POST")
    try:
        context = tls_context(config.ca_file) if config.url.startswith("https:") else None
        with urllib.request.urlopen(request, timeout=config.timeout, context=context) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook {config.url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DeliveryError(f"webhook {config.url} unreachable: {reason}") from None


def email_message(config: EmailConfig, body: dict[str, Any], now: datetime) -> EmailMessage:
    message = EmailMessage()
    who = body["establishment"]
    subject = f"[sansfilm] {body['title']}" + (f" : {who['name']} ({who['finess']})" if who else "")
    message["Subject"] = subject
    message["From"] = config.sender
    message["To"] = ", ".join(config.to)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("sansfilm-alert")
    message["X-Sansfilm-Alert-Key"] = body["key"]  # for mail rules and de-duplication on the receiving side
    lines = [body["message"], "", f"Type : {body['title']} ({body['kind']})"]
    if body["since"]:
        lines.append(f"Depuis : {body['since']}")
    lines += [f"Levée le : {body['raised_at']}", f"Clé : {body['key']}", "", "Détails :"]
    lines += [f"  {name} : {value}" for name, value in body["details"].items() if value is not None]
    lines += ["", "Message envoyé une seule fois pour cette occurrence par sansfilm (capteur d'alertes Dagster)."]
    message.set_content("\n".join(lines))
    return message


def send_email(config: EmailConfig, message: EmailMessage) -> None:
    password = config.password()  # a missing variable is a ConfigError: said, and the delivery stays pending
    try:
        context = tls_context(config.ca_file)  # a missing ca_file is an OSError: said like a refused connection
        if config.security == "ssl":
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with client:
            if config.security == "starttls":
                client.starttls(context=context)
            if config.user:
                client.login(config.user, password or "")
            client.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise DeliveryError(f"e-mail: {config.host}:{config.port} refused the login of '{config.user}'") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"e-mail via {config.host}:{config.port} failed: {exc}") from None


def deliver(config: AlertsConfig, channel: str, body: dict[str, Any], now: datetime) -> None:
    """Send one alert's body on one channel; DeliveryError (or ConfigError) when it was not accepted."""
    if channel == "webhook" and config.webhook is not None:
        send_webhook(config.webhook, body)
    elif channel == "email" and config.email is not None:
        send_email(config.email, email_message(config.email, body, now))
    else:
        raise DeliveryError(f"channel '{channel}' is not configured in [alerts]")
