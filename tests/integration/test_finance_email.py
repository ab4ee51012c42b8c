"""`sansfilm send --transport email` through a real SMTP server (aiosmtpd) started by the test on loopback: the
Factur-X PDF attached, to the establishment's billing_email in the registry, each sending recorded; a relay that is
down records nothing; a relay that wants STARTTLS and a login, its certificate checked against a private CA."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from datetime import date
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from analytics.billing.model import Month
from analytics.config import load_settings
from pipelines.cli import app
from tests.alert_receivers import smtp_server
from tests.billing_history import issue_until
from tests.nginx import self_signed
from tests.tiny_corpus import CONFIG

A_EMAIL = "facturation@hegp.example.fr"
runner = CliRunner()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd's handler hook
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    for _attempt in range(3):  # the port may be taken between probing and binding
        controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
        try:
            controller.start()
            break
        except (OSError, RuntimeError):
            continue
    else:
        pytest.fail("no free loopback port for the SMTP server")
    yield controller.port, inbox
    controller.stop()


@pytest.fixture
def corpus(tiny, smtp, monkeypatch):
    from analytics import operations

    monkeypatch.setenv("SANSFILM_NOW", "2011-01-20T12:00:00")
    registry = tiny.contracts.dir / "establishments.csv"
    lines = registry.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ",billing_email"] + [
        row + ("," + A_EMAIL if row.startswith("750000015,") else ",") for row in lines[1:]
    ]
    registry.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = tiny.config_path.parent / "smtp.toml"
    config.write_text(
        CONFIG + f'\n[billing]\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp[0]}\n'
        'smtp_from = "factures@rsf.example.fr"\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    operations.harvest(settings)
    operations.build_warehouse(settings)
    issue_until(settings, Month(2010, 11), today=date(2010, 12, 31))
    return settings


def cli(settings, *args: str):
    return runner.invoke(app, ["--config", str(settings.config_path), *args])


def test_email_sends_the_facturx_pdf_to_the_registry_address_and_records_it(corpus, smtp):
    _port, inbox = smtp
    for _ in range(2):  # sending again is possible, and recorded again
        result = cli(corpus, "send", "RSF-000001", "--transport", "email")
        assert result.exit_code == 0 and f"sent RSF-000001 by email to {A_EMAIL}" in result.stdout, result.output
    assert len(inbox.messages) == 2
    sender, recipients, content = inbox.messages[0]
    assert (sender, recipients) == ("factures@rsf.example.fr", [A_EMAIL])
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert message["Subject"] == "Facture RSF-000001"
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["RSF-000001.pdf"]
    issued = (corpus.billing.out_dir / "2010-10" / "RSF-000001.pdf").read_bytes()
    assert attachments[0].get_content() == issued  # the Factur-X file as issued, byte for byte
    acts = json.loads(cli(corpus, "ledger", "acts", "--subject", "RSF-000001", "--format", "json").stdout)["acts"]
    assert [(a["kind"], a["detail"]["transport"], a["detail"]["recipient"]) for a in acts] == [
        ("send", "email", A_EMAIL),
        ("send", "email", A_EMAIL),
    ]
    listed = json.loads(cli(corpus, "payments", "list", "--format", "json").stdout)["documents"]
    assert listed[0]["sent"].endswith(" email")


def test_a_relay_that_is_down_records_nothing(corpus, smtp):
    port, inbox = smtp
    config = corpus.config_path.read_text(encoding="utf-8").replace(
        f"smtp_port = {port}", f"smtp_port = {_free_port()}"
    )
    corpus.config_path.write_text(config, encoding="utf-8")
    result = cli(corpus, "send", "RSF-000001", "--transport", "email")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert "the SMTP relay 127.0.0.1:" in result.stderr and "nothing was recorded" in result.stderr
    acts = json.loads(cli(corpus, "ledger", "acts", "--subject", "RSF-000001", "--format", "json").stdout)["acts"]
    assert acts == [] and inbox.messages == []


def test_email_over_starttls_with_a_login_and_a_private_ca(corpus, smtp, tmp_path, monkeypatch):
    """The relay requires STARTTLS before MAIL and a login: its certificate is checked against `smtp_ca_file`, the
    password comes from $SANSFILM_SMTP_PASSWORD; a wrong one, or a certificate the CA did not sign, is refused in one
    line that does not show the password, and records nothing."""
    cert, key = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    other_ca, _ = self_signed(tmp_path / "other")  # a certificate the relay's was not signed with
    port, _inbox = smtp
    plain = corpus.config_path.read_text(encoding="utf-8")
    with smtp_server(tls=(cert, key), security="starttls", login=("factures", "bon-mot-de-passe")) as (mailbox, tls):

        def configure(ca: Path) -> None:
            corpus.config_path.write_text(
                plain.replace(f"smtp_port = {port}", f"smtp_port = {tls}")
                + f'smtp_starttls = true\nsmtp_user = "factures"\nsmtp_ca_file = "{ca}"\n',
                encoding="utf-8",
            )

        configure(cert)
        monkeypatch.setenv("SANSFILM_SMTP_PASSWORD", "mauvais-mot-de-passe")
        wrong = cli(corpus, "send", "RSF-000001", "--transport", "email")
        assert wrong.exit_code == 2 and wrong.stderr.count("\n") == 1, wrong.output
        assert "refused the login of 'factures'" in wrong.stderr and "mauvais" not in wrong.output
        configure(other_ca)
        monkeypatch.setenv("SANSFILM_SMTP_PASSWORD", "bon-mot-de-passe")
        untrusted = cli(corpus, "send", "RSF-000001", "--transport", "email")
        assert untrusted.exit_code == 2 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted.output
        assert mailbox.messages == []
        configure(cert)
        sent = cli(corpus, "send", "RSF-000001", "--transport", "email")
        assert sent.exit_code == 0 and f"sent RSF-000001 by email to {A_EMAIL}" in sent.stdout, sent.output
    assert mailbox.envelopes == [("factures@rsf.example.fr", [A_EMAIL])]
    (attachment,) = mailbox.messages[0].iter_attachments()
    assert attachment.get_content() == (corpus.billing.out_dir / "2010-10" / "RSF-000001.pdf").read_bytes()
    acts = json.loads(cli(corpus, "ledger", "acts", "--subject", "RSF-000001", "--format", "json").stdout)["acts"]
    assert [(a["kind"], a["detail"]["transport"]) for a in acts] == [("send", "email")]  # the refusals: nothing
