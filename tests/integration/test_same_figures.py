"""The sample's usage and draft invoices are those the pre-dbt warehouse gives (the code of commit d166035).

tests/fixtures/before_dbt/ holds what that code computes from the committed sample corpus, recorded by
tests/fixtures/before_dbt/record.py (it runs d166035's own `sansfilm demo` on a copy of data/samples in a temporary
worktree). When the sample changes, re-run it, check that every changed row is explained by the change, and update the
draft count and net below from what it prints.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from analytics import warehouse
from tests.fixtures.before_dbt.record import USAGE_QUERY

BEFORE = Path(__file__).parents[1] / "fixtures" / "before_dbt"


def test_usage_is_identical_to_the_pre_dbt_warehouse(metered):
    con = warehouse.connect(metered.published_path, read_only=True)
    try:
        rows = con.execute(USAGE_QUERY).fetchall()
    finally:
        con.close()
    with open(BEFORE / "usage_monthly.csv", encoding="utf-8", newline="") as f:
        before = [tuple(r) for r in list(csv.reader(f))[1:]]
    assert [tuple(str(v) for v in r) for r in rows] == before


def test_draft_invoices_are_identical_to_the_pre_dbt_warehouse(metered):
    drafts = sorted((metered.billing.out_dir / "drafts").iterdir())
    lines = []
    for folder in drafts:
        text = (folder / "invoice_lines.csv").read_text(encoding="utf-8").splitlines()
        lines += text[1:]
    before = (BEFORE / "invoice_lines.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert lines == before
    invoices = {(r["month"], r["establishment_id"]) for r in csv.DictReader((BEFORE / "invoice_lines.csv").open())}
    net = sum(Decimal(r["amount"]) for r in csv.DictReader((BEFORE / "invoice_lines.csv").open()))
    assert (len(invoices), net) == (99, Decimal("348515.91"))  # what `make demo` shows
