"""The sample's usage and draft invoices are those the pre-dbt warehouse gave (figures written by commit d166035)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from analytics import warehouse

BEFORE = Path(__file__).parents[1] / "fixtures" / "before_dbt"


def test_usage_is_identical_to_the_pre_dbt_warehouse(metered):
    con = warehouse.connect(metered.published_path, read_only=True)
    try:
        rows = con.execute(
            """select month, establishment_id, sum(studies_archived), sum(instances_archived), sum(bytes_archived),
                      sum(stored_bytes), sum(retrievals), sum(shares), sum(views)
               from marts.fct_usage_daily group by all order by all"""
        ).fetchall()
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
