"""The finance readers behind the dashboards' pages and `simulate`: a ledger not created yet is one with nothing
issued; a [ledger] url whose folder does not exist (mistyped, a volume not mounted) is no empty ledger, and is
refused in one line naming the folder, never created."""

from __future__ import annotations

import pytest

from analytics.billing.ledger import LedgerUnreachable
from analytics.reporting import finance
from analytics.reporting.scope import Filters, Viewer

FINANCE = Viewer("t", "finance")


def readers(url: str) -> dict[str, object]:
    return {
        "issued_month_list": lambda: finance.issued_month_list(url),
        "issued_for_regularisation": lambda: finance.issued_for_regularisation(url, {"750000001"}),
        "credited_for_regularisation": lambda: finance.credited_for_regularisation(url),
        "issued_invoices": lambda: finance.issued_invoices(url, FINANCE, Filters()),
        "issued_lines": lambda: finance.issued_lines(url, FINANCE, "F-2024-000001"),
    }


@pytest.mark.parametrize("reader", list(readers("")))
def test_a_ledger_folder_that_does_not_exist_is_refused(reader, tmp_path):
    folder = tmp_path / "nowhere"
    with pytest.raises(LedgerUnreachable) as refused:
        readers(f"sqlite:///{folder / 'ledger.sqlite'}")[reader]()
    assert f"its folder {folder} does not exist (cannot tell which months were issued)" in str(refused.value)
    assert not folder.exists()


@pytest.mark.parametrize("reader", list(readers("")))
def test_a_ledger_not_created_yet_holds_nothing_issued(reader, tmp_path):
    result = readers(f"sqlite:///{tmp_path / 'ledger.sqlite'}")[reader]()
    assert len(result) == 0
    assert not (tmp_path / "ledger.sqlite").exists()
