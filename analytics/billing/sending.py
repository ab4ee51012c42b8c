"""Sending an issued invoice or credit note, recorded in the ledger (when, how, to whom) with the sending itself.

Transports ([billing] in the configuration, docs/billing.md):
- `outbox` (the default): the Factur-X PDF (with its CII XML inside) copied to `[billing] outbox`, where the
  organisation's exchange tool picks it up and deposits it on Chorus Pro. The copy is atomic (a tool polling the
  folder never reads half a file).
- `email`: the Factur-X PDF attached to a message to the establishment's `billing_email` in the registry, through
  the SMTP relay `[billing] smtp_host`:`smtp_port` (STARTTLS and login when configured; the password from
  $SANSFILM_SMTP_PASSWORD; the relay's certificate and host name always checked, against `smtp_ca_file` if given).
The file sent is the issued one under `[billing] out_dir/<month>/`, checked against the SHA-256 recorded when it was
issued: an altered or missing file is never sent. The transport runs inside the ledger transaction that records it:
if it fails, nothing is recorded; a re-send is another record.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from analytics.alerts.settings import tls_context
from analytics.billing.followup import ActRefused, recorded_document
from analytics.billing.ledger import Ledger
from analytics.billing.ledger_tables import dispatch
from analytics.config import BillingConfig

TRANSPORTS = ("outbox", "email")
SMTP_TIMEOUT_S = 30
PASSWORD_ENV = "SANSFILM_SMTP_PASSWORD"


@dataclass(frozen=True)
class Sent:
    number: str
    transport: str
    recipient: str
    file_name: str
    act_id: int


def send(
    ledger: Ledger, config: BillingConfig, number: str, *, transport: str, actor: str, email_of: dict[str, str | None]
) -> Sent:
    """Send the issued document `number` by `transport` and record it; `email_of`: establishment id -> its
    billing_email in the registry (for `email`)."""
    if transport not in TRANSPORTS:
        raise ActRefused(f"transport '{transport}' is not one of {', '.join(TRANSPORTS)}")
    document = recorded_document(ledger, number, "pdf")
    month, file_name, sha256 = document.month, document.file_name, document.sha256
    path = config.out_dir / month / file_name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ActRefused(
            f"{path} is missing: run `sansfilm bill --month {month} --rewrite-documents`, then send again"
        ) from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ActRefused(
            f"{path} is not the document issued (its SHA-256 differs from the ledger's): run `sansfilm "
            f"bill --month {month} --rewrite-documents`; nothing was sent"
        )
    establishment = document.establishment_id
    if transport == "email":
        recipient = email_of.get(establishment)
        if not recipient:
            raise ActRefused(
                f"establishment {establishment} has no billing_email in the registry "
                "(contracts/establishments.csv): add it, or send with --transport outbox"
            )
    else:
        recipient = str(config.outbox)
    with ledger.recording(f"record the sending of {number}") as rec:
        act_id = rec.act("send", number, actor, {"transport": transport, "recipient": recipient, "file": file_name})
        rec.insert(
            dispatch,
            [
                {
                    "act_id": act_id,
                    "document_number": number,
                    "transport": transport,
                    "recipient": recipient,
                    "file_name": file_name,
                    "sha256": sha256,
                }
            ],
        )
        if transport == "outbox":
            to_outbox(config.outbox, file_name, data)
        else:
            title = "Avoir" if document.kind == "credit_note" else "Facture"
            by_email(config, recipient, f"{title} {number}", file_name, data)
    return Sent(number, transport, recipient, file_name, act_id)


def to_outbox(outbox: Path, file_name: str, data: bytes) -> Path:
    """Write the file into the outbox atomically (temporary name, then rename)."""
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        target = outbox / file_name
        temporary = outbox / f".{file_name}.part"
        temporary.write_bytes(data)
        os.replace(temporary, target)
    except OSError as exc:
        raise ActRefused(
            f"cannot write to the outbox {outbox} ({exc.strerror or exc}): check [billing] outbox; nothing was recorded"
        ) from None
    return target


def by_email(config: BillingConfig, recipient: str, subject: str, file_name: str, data: bytes) -> None:
    message = EmailMessage()
    message["From"] = config.smtp_from
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config.smtp_from.rpartition("@")[2] or "localhost")
    message.set_content(
        f"Bonjour,\n\nVeuillez trouver ci-joint : {subject}, au format Factur-X (PDF avec sa "
        "facture électronique EN 16931).\n\nCordialement,\nProgramme Région sans film\n"
    )
    message.add_attachment(data, maintype="application", subtype="pdf", filename=file_name)
    try:
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
            if config.smtp_starttls:
                smtp.starttls(context=tls_context(config.smtp_ca_file))
            if config.smtp_user:
                smtp.login(config.smtp_user, os.environ.get(PASSWORD_ENV, ""))
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise ActRefused(
            f"the SMTP relay {config.smtp_host}:{config.smtp_port} refused the login of '{config.smtp_user}': check "
            f"[billing] smtp_user and ${PASSWORD_ENV}; nothing was recorded"
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise ActRefused(
            f"the SMTP relay {config.smtp_host}:{config.smtp_port} did not take the e-mail to {recipient} "
            f"({exc}): check [billing] smtp_host and smtp_port; nothing was recorded"
        ) from None
    if refused:
        raise ActRefused(f"the SMTP relay refused {recipient}: {refused}; nothing was recorded")
