"""docs/billing.md shows the Factures workflow with screenshots made by tests/dashboards/test_finance_e2e.py: each
one it shows is in docs/screenshots/, is a PNG, and together they stay small enough for the repository."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
BUDGET = 400_000  # bytes, all billing-*.png together


def test_every_billing_screenshot_shown_exists_and_they_stay_small():
    shown = set(re.findall(r"\]\((screenshots/billing-[\w-]+\.png)\)", (DOCS / "billing.md").read_text("utf-8")))
    present = {f"screenshots/{p.name}" for p in (DOCS / "screenshots").glob("billing-*.png")}
    assert {"screenshots/billing-issue.png", "screenshots/billing-credit.png"} <= shown
    assert shown == present  # none missing, none left unshown
    for name in present:
        assert (DOCS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert sum((DOCS / name).stat().st_size for name in present) < BUDGET
