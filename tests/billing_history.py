"""The months a billing test starts from. Months are issued in order from the agreement's first month (April 2010 in
the test corpora), so a test that issues March 2012 first issues the 23 months before it, as a finance officer would
have: subscriptions and top-ups to the minimum, no usage (the corpora's data starts later).

Issuing them through `service.issue` takes ~10 s, so it is done once per process and contracts, and the ledger and
its documents are copied into each test's corpus (SQLite). The data-quality gate is skipped for those months (their
data is not what the tests are about); the month under test goes through it as usual.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import analytics.quality
from analytics.billing import service
from analytics.billing.contracts import load_contracts
from analytics.config import Settings
from analytics.periods import Month

TODAY = date(2012, 12, 31)  # the issuing clock of the tests that issue 2012's months
_templates: dict[tuple[str, str], Path] = {}


@contextmanager
def _without_quality_gate() -> Iterator[None]:
    gate = analytics.quality.require_error_checks_pass
    analytics.quality.require_error_checks_pass = lambda settings, price: price()
    try:
        yield
    finally:
        analytics.quality.require_error_checks_pass = gate


def issue_until(settings: Settings, before: Month, *, today: date = TODAY) -> None:
    """Issue every month of the agreement before `before` into the settings' ledger (documents under [billing]
    out_dir), each on the 1st of the next month."""
    contracts = load_contracts(settings)
    sqlite = settings.ledger.url.startswith("sqlite:///")
    key = (contracts.fingerprint, str(before))
    ledger_file = Path(settings.ledger.url.removeprefix("sqlite:///")) if sqlite else None
    if ledger_file is not None and key in _templates:
        template = _templates[key]
        ledger_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(template / "ledger.sqlite", ledger_file)
        shutil.copytree(template / "documents", settings.billing.out_dir, dirs_exist_ok=True)
        return
    month = contracts.tariff.first_month
    with _without_quality_gate():
        while month < before:
            service.issue(
                settings, month, issue_date=month.next().first_day, today=today, out_dir=settings.billing.out_dir
            )
            month = month.next()
    if ledger_file is not None:
        template = Path(tempfile.mkdtemp(prefix="sansfilm-history-"))
        shutil.copy2(ledger_file, template / "ledger.sqlite")
        settings.billing.out_dir.mkdir(parents=True, exist_ok=True)  # no document yet when no month had invoices
        shutil.copytree(settings.billing.out_dir, template / "documents")
        _templates[key] = template
