"""The invoice detail shows what the invoice says: its lines as the issued document lists them (unit prices with the
tariff's decimals, e.g. 2,4571, the amount of every line), then the totals HT, TVA and TTC."""

from __future__ import annotations

import csv
from decimal import Decimal

from analytics.billing.ledger import Ledger
from tests.dashboards.conftest import ELOI
from tests.dashboards.test_pages import app  # noqa: F401  the AppTest fixture

NBSP = "\u202f"


def fr(value: str) -> str:
    """The document's exact decimal in French, with the decimals it has."""
    number = Decimal(value)
    digits = max(-number.as_tuple().exponent, 0)
    return f"{number:,.{digits}f}".replace(",", NBSP).replace(".", ",")


def test_the_invoice_lines_on_screen_are_the_documents(app, published):  # noqa: F811
    with Ledger(published.ledger.url) as ledger:
        (invoice,) = [i for i in ledger.invoices_for_month(ledger.issued_months()[-1]) if i.establishment_id == ELOI]
    month = str(invoice.month)
    document = published.billing.out_dir / month / f"{invoice.number}.csv"
    rows = list(csv.DictReader(document.open(encoding="utf-8")))
    at = app("finance")
    at.selectbox(key="finance_month").set_value(month).run()
    (site,) = [o for o in at.selectbox(key="finance_pick_establishment").options if o.endswith(f"({ELOI})")]
    at.selectbox(key="finance_pick_establishment").set_value(site).run()
    (choice,) = [o for o in at.selectbox(key="finance_pick").options if o.endswith(f" · {invoice.number}")]
    at.selectbox(key="finance_pick").set_value(choice).run()
    assert not at.exception
    lines, totals = (t.value for t in at.table[-2:])
    shown = [(r["désignation"], r["quantité"], r["prix unitaire HT"], r["montant HT"]) for _, r in lines.iterrows()]
    assert shown == [
        (r["description"], fr(r["quantity"]), f"{fr(r['unit_price'])}{NBSP}€", f"{fr(r['amount'])}{NBSP}€")
        for r in rows
    ]
    assert any(len(r["unit_price"].split(".")[-1]) == 4 for r in rows)  # the sample's tariff has 4-decimal prices
    assert list(totals["montant"]) == [f"{fr(str(v))}{NBSP}€" for v in (invoice.net, invoice.vat, invoice.gross)]
    assert list(totals.index) == ["Total HT", "TVA (20\u202f%)", "Total TTC"]
