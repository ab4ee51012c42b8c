"""Storage is billed in GB-months to nine decimals: a tiny or zero quantity is written with plain digits in every
output (the usage JSON, CSV and table, the bill's JSON and CSV), never as 2.96E-7 or 0E-9 (what `str` writes)."""

from __future__ import annotations

import json
from decimal import Decimal as D

from analytics.billing.export import invoice_dict, line_rows, to_csv
from analytics.billing.model import Invoice, InvoiceLine
from analytics.metering import UsageReport, storage_gb_month, zero_usage
from analytics.periods import Month
from analytics.reporting.exports import french_dialect
from pipelines.output import text_table

MARCH = Month(2011, 3)
TINY = storage_gb_month(13_237, MARCH.days)  # 13,237 byte-days in March: 0.000000427 GB-month once rounded


def test_usage_json_csv_and_table_write_plain_digits():
    assert (str(TINY), str(zero_usage()["storage_gb_month"])) == ("4.27E-7", "0E-9")  # the cases str writes wrong
    report = UsageReport(MARCH, unattributed=zero_usage() | {"storage_gb_month": TINY})
    report.establishments.append({"establishment_id": "750000015", **zero_usage()})
    data = json.loads(json.dumps(report.to_dict()))
    assert data["unattributed"]["storage_gb_month"] == "0.000000427"
    assert data["establishments"][0]["storage_gb_month"] == "0.000000000"
    rows = [{"establishment_id": "UNATTRIBUTED", "storage_gb_month": TINY}]
    assert to_csv(rows, ["establishment_id", "storage_gb_month"]).splitlines()[1] == "UNATTRIBUTED,0.000000427"
    assert french_dialect(to_csv(rows, ["storage_gb_month"])).splitlines()[1] == "0,000000427"
    assert text_table(rows, ["storage_gb_month"]).splitlines()[1] == "     0.000000427"


def test_a_bill_s_json_and_csv_write_plain_digits():
    line = InvoiceLine(
        "REGUL:storage_gb_month", "Régularisation", "storage_gb_month", D("2.96E-7"), D("0.15"), D("0.00")
    )
    invoice = Invoice("750000015", MARCH, "PACS", MARCH.days, MARCH.days, (line,), D("0.20"))
    assert invoice_dict(invoice)["lines"][0]["quantity"] == "0.000000296"
    assert line_rows(MARCH, [invoice])[0]["quantity"] == "0.000000296"


def test_governance_json_writes_plain_digits():
    from datetime import date

    from analytics.billing.governance import CeilingUse, Validity
    from analytics.reporting.governance import GovernanceReport, report_dict

    zero = sum([D("0.000000000")], D(0))  # what a ceiling on storage consumes before anything is stored
    use = CeilingUse("storage_gb_month", D("1000"), zero, D(0), zero, 1, TINY, 3, TINY, zero)
    validity = Validity("AC-1", date(2010, 4, 1), date(2015, 3, 31), date(2012, 4, 1), 36, 1095, 6, "valid")
    data = report_dict(GovernanceReport(date(2012, 4, 1), validity, [use], [], [], [], []))
    assert (str(zero), data["ceiling"][0]["consumed"], data["ceiling"][0]["monthly_rate"]) == (
        "0E-9",
        "0.000000000",
        "0.000000427",
    )
