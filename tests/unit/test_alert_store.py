"""The record of alerts in a SQLite ledger: once per occurrence, a resolved-then-recurring condition is new, a kind
that could not be evaluated closes nothing, pending deliveries stay until accepted; and the [alerts] configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from analytics.alerts import detect, store
from analytics.alerts.rules import Alert
from analytics.config import load_settings
from analytics.errors import ConfigError

T0 = datetime(2014, 5, 2, 8, 0, tzinfo=UTC)
SILENT = Alert(
    "silent_site",
    "silent_site:750000001:2014-04-20",
    "2014-04-20",
    "CH Alpha se tait.",
    "750000001",
    "CH Alpha",
    {"days_silent": 12},
)
STALE = Alert("harvest_stale", "harvest_stale:audit:never", None, "La source « audit » n'a jamais été moissonnée.")
EVERY = frozenset({"silent_site", "harvest_stale"})


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


def test_an_occurrence_is_opened_once_and_a_recurrence_is_new(url):
    first = store.reconcile(url, [SILENT, STALE], EVERY, ["webhook"], T0)
    again = store.reconcile(url, [SILENT, STALE], EVERY, ["webhook"], T0 + timedelta(minutes=5))
    assert [o.alert.key for o in first.opened] == [SILENT.key, STALE.key] and first.resolved == []
    assert again.opened == [] and again.resolved == []
    ended = store.reconcile(url, [STALE], EVERY, ["webhook"], T0 + timedelta(minutes=10))
    assert [o.id for o in ended.resolved] == [first.opened[0].id]
    back = store.reconcile(url, [SILENT, STALE], EVERY, ["webhook"], T0 + timedelta(minutes=15))
    assert [o.alert.key for o in back.opened] == [SILENT.key] and back.opened[0].id not in {o.id for o in first.opened}
    everything = store.listing(url, include_resolved=True)
    assert [(r["occurrence"].alert.key, r["occurrence"].resolved_at is None) for r in everything] == [
        (SILENT.key, True),
        (STALE.key, True),
        (SILENT.key, False),
    ]
    assert everything[2]["occurrence"].opened_at == T0 and everything[2]["occurrence"].alert == SILENT


def test_a_kind_not_evaluated_closes_nothing(url):
    store.reconcile(url, [SILENT], EVERY, [], T0)
    unread = store.reconcile(url, [], frozenset({"harvest_stale"}), [], T0 + timedelta(minutes=5))
    assert unread.resolved == [] and len(store.listing(url)) == 1


def test_deliveries_stay_pending_until_accepted_on_each_channel(url):
    opened = store.reconcile(url, [SILENT], EVERY, ["webhook", "email"], T0).opened[0]
    assert [(o.id, c) for o, c in store.pending(url, ["webhook", "email"])] == [
        (opened.id, "email"),
        (opened.id, "webhook"),
    ]
    store.record_attempt(url, opened.id, "webhook", T0, "webhook http://127.0.0.1:9/ answered HTTP 500")
    store.record_attempt(url, opened.id, "email", T0, None)
    assert [c for _, c in store.pending(url, ["webhook", "email"])] == ["webhook"]
    assert store.pending(url, ["email"]) == []  # a channel removed from the configuration is not tried
    store.record_attempt(url, opened.id, "webhook", T0 + timedelta(minutes=5), None)
    assert store.pending(url, ["webhook", "email"]) == []
    deliveries = store.listing(url)[0]["deliveries"]
    assert [(d["channel"], d["attempts"], d["last_error"]) for d in deliveries] == [
        ("email", 1, None),
        ("webhook", 2, None),
    ]


BASE = """[warehouse]
path = "wh.duckdb"
[contracts]
dir = "contracts"
[archive]
ae_titles = ["RSF"]
"""
ALERTS = """
[alerts]
silent_days = 5
harvest_hours = 30

[alerts.webhook]
url = "https://hooks.example.org/sansfilm"

[alerts.email]
host = "smtp.example.org"
port = 465
from = "sansfilm@example.org"
to = ["exploitation@example.org"]
security = "ssl"
user = "sansfilm"
password_env = "TEST_SMTP_PASSWORD"
"""


def _load(tmp_path, text: str):
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_alerts_configuration_reads_thresholds_and_channels(tmp_path, monkeypatch):
    alerts = _load(tmp_path, BASE + ALERTS).alerts
    assert (alerts.silent_days, alerts.harvest_hours, alerts.channels) == (5, 30, ["webhook", "email"])
    assert (alerts.email.sender, alerts.email.security, alerts.email.port) == ("sansfilm@example.org", "ssl", 465)
    with pytest.raises(ConfigError, match=r"\$TEST_SMTP_PASSWORD, which is not set"):
        alerts.email.password()
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    assert alerts.email.password() == "s3cret"
    assert _load(tmp_path, BASE).alerts.channels == []  # no section: the run log only


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "silent_days = 5",
            "silent_days = 0",
            "'alerts.silent_days': Input should be greater than or equal to 1 (line 9)",
        ),
        (
            'security = "ssl"',
            'security = "tls"',
            "'alerts.email.security': Input should be 'starttls', 'ssl' or 'none' (line 20)",
        ),
        ("port = 465", 'port = 465\npassword = "x"', "unknown key 'alerts.email.password' (line 18)"),
        (
            'to = ["exploitation@example.org"]',
            'to = ["exploitation"]',
            "'exploitation' is not an e-mail address (line 19)",
        ),
        (
            'url = "https://hooks',
            'url = "ftp://hooks',
            "'alerts.webhook.url': Value error, must be an http:// or https:// URL (line 13)",
        ),
        ('user = "sansfilm"\n', "", "user and password_env go together"),
        ("[alerts.email]\n", "[alerts.mail]\n", "unknown key 'alerts.mail' (line 15)"),
    ],
)
def test_a_bad_alerts_key_is_one_line_naming_file_key_and_line(tmp_path, old, new, message):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, BASE + ALERTS.replace(old, new))
    text = str(err.value)
    assert message in text and str(tmp_path / "s.toml") in text and "\n" not in text
    assert "s3cret" not in text


def test_without_a_published_warehouse_only_the_check_history_is_evaluated(tmp_path):
    settings = _load(tmp_path, BASE)
    found = detect.detect(settings, datetime(2014, 5, 2, 8, 0, tzinfo=UTC))
    assert found.alerts == [] and found.evaluated == {"quality_error"}
    assert found.skipped == ["aucun entrepôt publié : sites silencieux, niveaux de service et moissons non évalués"]
    settings.published_path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(settings.published_path)).close()  # an empty copy: no mart the rules read
    unreadable = detect.detect(settings, datetime(2014, 5, 2, 8, 0, tzinfo=UTC))
    assert unreadable.evaluated == {"quality_error"} and "relancez `sansfilm run`" in unreadable.skipped[0]
