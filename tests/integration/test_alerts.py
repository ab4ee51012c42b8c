"""The alerts end to end: a corpus made with `sansfilm samples` (its own seed) and harvested with `sansfilm harvest`,
the Dagster sensor evaluated through `build_sensor_context`, a real SMTP server and a real HTTP receiver on loopback.
Exactly one message per occurrence on each channel, across re-evaluations, a refused delivery, a reset cursor; a
condition that ends and comes back is a new occurrence and a new message."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from typer.testing import CliRunner

from analytics import warehouse
from analytics.alerts import store
from analytics.alerts.rules import Alert
from analytics.config import Settings, load_settings
from analytics.periods import PARIS
from analytics.quality import history
from analytics.quality.contracts import CheckResult
from pipelines.alerts.sensors import ALERTS_SENSOR
from pipelines.cli import app
from pipelines.definitions import build_definitions
from tests.alert_receivers import smtp_server, webhook_server
from tests.nginx import self_signed
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)

PAYLOAD_KEYS = {
    "version",
    "occurrence",
    "kind",
    "key",
    "title",
    "message",
    "establishment",
    "since",
    "raised_at",
    "details",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Settings:
    """Four establishments over three months from seed 23 (not the sample's), harvested through the CLI, under a
    contract whose PACS_RIS ingestion delay target is 1 minute (an amendment nobody's data meets)."""
    root = tmp_path_factory.mktemp("alerts") / "corpus"
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["samples", "--out", str(root), "--seed", "23", "--establishments", "4", "--months", "3", "--start", "2014-02"],
    )
    assert made.exit_code == 0, made.output
    levels = root / "contracts" / "service_levels.yaml"
    text = levels.read_text(encoding="utf-8")  # PACS_RIS comes first in the file
    text = text.replace('target: "1440"', 'target: "1"', 1).replace('{above: "1440"', '{above: "1"', 1)
    levels.write_text(text, encoding="utf-8")
    harvested = runner.invoke(app, ["--config", str(root / "sansfilm.toml"), "harvest"])
    assert harvested.exit_code == 0, harvested.output
    return load_settings(root / "sansfilm.toml")


def _configure(settings: Settings, hook_url: str, smtp_port: int) -> Settings:
    text = settings.config_path.read_text(encoding="utf-8").split("\n[alerts]\n")[0]  # this test's channels only
    text += (
        f'\n[alerts]\nsilent_days = 7\nharvest_hours = 26\n\n[alerts.webhook]\nurl = "{hook_url}"\n\n'
        f'[alerts.email]\nhost = "127.0.0.1"\nport = {smtp_port}\nfrom = "sansfilm@rsf.example"\n'
        'to = ["exploitation@rsf.example", "astreinte@rsf.example"]\nsecurity = "none"\n'
    )
    settings.config_path.write_text(text, encoding="utf-8")
    return load_settings(settings.config_path)


def _published(settings: Settings, sql: str):
    con = warehouse.connect_published(settings.published_path)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def _tick(settings: Settings, instance: dg.DagsterInstance, cursor: str | None) -> tuple[str, str | None]:
    """One evaluation of the sensor as the code location defines it: (its tick message, its new cursor)."""
    sensor = next(s for s in build_definitions(settings).sensors if s.name == ALERTS_SENSOR)
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert result.run_requests in (None, [])  # it launches nothing
    return result.skip_reason.skip_message, result.cursor


def _failing_check(settings: Settings, passed: bool, at: datetime) -> None:
    result = CheckResult(
        "alert_test_blocking",
        "staged.stg_dicom_instances",
        "error",
        passed,
        0 if passed else 3,
        {"description": "contrôle de test du capteur d'alertes"},
    )
    history.record(settings.ledger.url, [result], trigger="check", at=at)


def test_one_message_per_occurrence_on_each_channel(corpus, monkeypatch, capfd):
    with webhook_server() as (hook, hook_url), smtp_server() as (mailbox, smtp_port):
        settings = _configure(corpus, hook_url, smtp_port)
        # the programme's clock: 27 h after the last harvest (stale at 26 h); every site silent since April 2014
        last_harvest = _published(settings, "select max(last_harvest_at) from marts.mart_source_freshness")
        now = last_harvest.astimezone(UTC).replace(microsecond=0) + timedelta(hours=27)
        missed = _published(
            settings,
            "select count(*) from marts.mart_service_levels where breached and month = "
            "(select max(month) from marts.mart_service_levels)",
        )
        assert missed >= 1  # the amended target is missed in the last month assessed
        monkeypatch.setenv("SANSFILM_NOW", now.isoformat())
        instance = dg.DagsterInstance.ephemeral()
        hook.refuse_next = 2  # the receiver is down for the first two posts: they must come later, once

        first, cursor = _tick(settings, instance, None)
        kinds = Counter(body["kind"] for body in hook.received + hook.refused)
        assert kinds == {"silent_site": 4, "harvest_stale": 2, "service_level": missed}
        total = 6 + missed
        assert len(hook.received) == total - 2 and len(mailbox.messages) == total
        assert f"{total} nouvelle(s) alerte(s)" in first and "2 envoi(s) en échec" in first

        second, _ = _tick(settings, instance, cursor)  # re-evaluation: nothing new, the two refused ones retried
        assert "0 nouvelle(s) alerte(s)" in second and "2 message(s) envoyé(s)" in second
        restarted, _ = _tick(settings, dg.DagsterInstance.ephemeral(), None)  # a new instance, no cursor: nothing
        assert "0 nouvelle(s)" in restarted and "0 message(s) envoyé(s)" in restarted
        keys = [body["key"] for body in hook.received]
        assert len(keys) == len(set(keys)) == total
        assert sorted(m["X-Sansfilm-Alert-Key"] or "" for m in mailbox.messages) == sorted(keys)

        body = next(b for b in hook.received if b["kind"] == "silent_site")
        assert set(body) == PAYLOAD_KEYS and set(body["establishment"]) == {"finess", "name"}
        assert body["establishment"]["finess"] in body["key"] and body["since"] == body["key"].rsplit(":", 1)[1]
        assert set(body["details"]) == {"last_study_date", "days_silent", "threshold_days"}
        assert "n'a envoyé aucun examen depuis" in body["message"]
        mail = next(m for m in mailbox.messages if m["X-Sansfilm-Alert-Key"] == body["key"])
        assert (
            mail["Subject"] == f"[sansfilm] Site silencieux : {body['establishment']['name']} "
            f"({body['establishment']['finess']})"
        )
        assert body["message"] in mail.get_content()
        assert mailbox.envelopes[0] == ("sansfilm@rsf.example", ["exploitation@rsf.example", "astreinte@rsf.example"])
        logged = capfd.readouterr().err  # the sensor's tick log (context.log)
        assert logged.count("ALERTE ") == total and logged.count("non envoyée par webhook") == 2

        # a blocking check fails: one new occurrence; passes: it ends (nothing sent); fails again: a new one
        _failing_check(settings, False, now - timedelta(minutes=30))
        _tick(settings, instance, None)
        _tick(settings, instance, None)
        _failing_check(settings, True, now - timedelta(minutes=20))
        _tick(settings, instance, None)
        _failing_check(settings, False, now - timedelta(minutes=10))
        _tick(settings, instance, None)
        quality = [b for b in hook.received if b["kind"] == "quality_error"]
        assert [b["since"] for b in quality] == [
            (now - timedelta(minutes=m)).astimezone(PARIS).isoformat() for m in (30, 10)
        ]
        assert quality[0]["occurrence"] != quality[1]["occurrence"] and quality[0]["establishment"] is None
        assert len(mailbox.messages) == total + 2 and len(hook.received) == total + 2
        level = next(b for b in hook.received if b["kind"] == "service_level")
        assert level["details"]["term"] == "ingestion_delay_p95" and level["details"]["target"] == "1.00"
        assert level["establishment"]["finess"] in level["key"] and "délai d'ingestion" in level["message"]

        listed = CliRunner().invoke(app, ["--config", str(settings.config_path), "alerts"])
        assert listed.exit_code == 0, listed.output
        assert listed.output.count("email envoyé; webhook envoyé") == total + 1  # and the check failing now
        assert "alert_test_blocking" in listed.output


def test_send_test_reaches_both_channels_and_says_which_failed(corpus, tmp_path):
    with webhook_server() as (hook, hook_url), smtp_server() as (mailbox, smtp_port):
        settings = _configure(corpus, hook_url, smtp_port)
        runner = CliRunner()
        sent = runner.invoke(app, ["--config", str(settings.config_path), "alerts", "--send-test"])
        assert sent.exit_code == 0, sent.output
        assert "webhook: message de test accepté" in sent.output and "email: message de test accepté" in sent.output
        assert [b["kind"] for b in hook.received] == ["test"] and len(mailbox.messages) == 1
        hook.refuse_next = 1
        refused = runner.invoke(app, ["--config", str(settings.config_path), "alerts", "--send-test"])
        assert refused.exit_code == 1 and "webhook: ÉCHEC : webhook http://127.0.0.1" in refused.output
        assert "answered HTTP 503" in refused.output and "Traceback" not in refused.output


def test_the_record_on_a_real_postgresql(postgres_database):
    """Production keeps the ledger in PostgreSQL: the same once-per-occurrence record there (revision 0003)."""
    url = postgres_database()
    at = datetime(2014, 5, 2, 8, 0, tzinfo=PARIS)
    silent = Alert(
        "silent_site",
        "silent_site:750000001:2014-04-20",
        "2014-04-20",
        "CH Alpha se tait.",
        "750000001",
        "CH Alpha",
        {"days_silent": 12},
    )
    kinds = frozenset({"silent_site"})
    first = store.reconcile(url, [silent], kinds, ["webhook", "email"], at)
    assert store.reconcile(url, [silent], kinds, ["webhook", "email"], at + timedelta(minutes=5)).opened == []
    store.record_attempt(url, first.opened[0].id, "email", at, None)
    store.record_attempt(url, first.opened[0].id, "webhook", at, "webhook answered HTTP 503")
    assert [(o.id, c) for o, c in store.pending(url, ["webhook", "email"])] == [(first.opened[0].id, "webhook")]
    assert [o.id for o in store.reconcile(url, [], kinds, ["webhook"], at + timedelta(minutes=10)).resolved] == [
        first.opened[0].id
    ]
    again = store.reconcile(url, [silent], kinds, ["webhook"], at + timedelta(minutes=15)).opened
    assert len(again) == 1 and again[0].id != first.opened[0].id
    listed = store.listing(url, include_resolved=True)
    assert [r["occurrence"].opened_at for r in listed] == [at + timedelta(minutes=15), at]
    assert listed[1]["occurrence"].alert == silent


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_with_a_login_from_the_environment(corpus, tmp_path, monkeypatch, security):
    """A relay that wants TLS (STARTTLS or implicit) and a login: the certificate is checked against `ca_file`, the
    password comes from the variable `password_env` names; a wrong one is refused in one line, never shown."""
    cert, key = self_signed(tmp_path)
    with smtp_server(tls=(cert, key), security=security, login=("sansfilm", "bon-mot-de-passe")) as (mailbox, port):
        text = corpus.config_path.read_text(encoding="utf-8").split("\n[alerts]\n")[0]
        corpus.config_path.write_text(
            text + f'\n[alerts]\n[alerts.email]\nhost = "127.0.0.1"\nport = {port}\nfrom = "sansfilm@rsf.example"\n'
            f'to = ["exploitation@rsf.example"]\nsecurity = "{security}"\nuser = "sansfilm"\n'
            f'password_env = "TEST_ALERTS_SMTP_PASSWORD"\nca_file = "{cert}"\n',
            encoding="utf-8",
        )
        runner, args = CliRunner(), ["--config", str(corpus.config_path), "alerts", "--send-test"]
        monkeypatch.delenv("TEST_ALERTS_SMTP_PASSWORD", raising=False)
        unset = runner.invoke(app, args)
        assert unset.exit_code == 1 and "$TEST_ALERTS_SMTP_PASSWORD, which is not set" in unset.output
        monkeypatch.setenv("TEST_ALERTS_SMTP_PASSWORD", "mauvais-mot-de-passe")
        refused = runner.invoke(app, args)
        assert refused.exit_code == 1 and "refused the login of 'sansfilm'" in refused.output
        assert "mauvais-mot-de-passe" not in refused.output and mailbox.messages == []
        monkeypatch.setenv("TEST_ALERTS_SMTP_PASSWORD", "bon-mot-de-passe")
        sent = runner.invoke(app, args)
        assert sent.exit_code == 0, sent.output
        assert [m["Subject"] for m in mailbox.messages] == ["[sansfilm] Message de test"]
        assert "ce canal d'alertes fonctionne" in mailbox.messages[0].get_content()
