"""The sample harvested, metered and published once per test run, with its draft invoices and accounts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics import operations, warehouse
from analytics.accounts import add_account
from analytics.billing import service
from analytics.config import Settings, load_settings
from analytics.periods import Month
from analytics.reporting.scope import Filters
from tests.billing_history import TODAY, issue_until
from tests.conftest import copy_made, copy_sample, once_per_run

PASSWORD = "test-password"
ROLES = {
    "gcs": "gcs",
    "finance": "finance",
    "ars": "ars",
    "operator": "operator",
    "eloi": "establishment:750238172",
    "creteil": "establishment:940228794",
}
ELOI, CRETEIL = "750238172", "940228794"
ALL = Filters("2012-01", "2012-12")


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> Settings:
    from pipelines.dashboards_cli import registry_ids

    def make(root: Path) -> None:
        settings = copy_sample(root / "corpus")
        operations.harvest(settings)
        operations.build_warehouse(settings)
        operations.meter_and_draft(settings)  # every month metered, drafts written, as `sansfilm run` does
        operations.publish(settings)
        issue_until(settings, Month(2012, 1))  # the months of the agreement before the sample's data
        issue_date, out_dir = date(2012, 2, 2), settings.billing.out_dir
        service.issue(settings, Month(2012, 1), issue_date=issue_date, today=TODAY, out_dir=out_dir)
        for name, role in ROLES.items():
            add_account(root / "accounts.json", name, role, PASSWORD, establishments=registry_ids(settings))

    made = once_per_run(tmp_path_factory, "dashboards", make)
    return load_settings(copy_made(made, tmp_path_factory, "dash") / "corpus" / "sansfilm.toml")


@pytest.fixture(scope="session")
def accounts_file(published) -> str:
    return str(published.root.parent / "accounts.json")


@pytest.fixture
def con(published):
    connection = warehouse.connect_published(published.published_path)
    yield connection
    connection.close()
