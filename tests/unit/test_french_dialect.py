"""`--csv-dialect fr`: what a French spreadsheet reads as numbers, days and moments (analytics.reporting.exports)."""

from __future__ import annotations

from analytics.reporting.exports import BOM, french_dialect


def test_moments_are_written_in_paris_time_as_a_spreadsheet_reads_them():
    plain = (
        "recorded_at,at,sent,day,net,reference\n"
        "2011-01-20T11:00:00+00:00,2011-07-20 11:00:00,2012-04-03T10:00:00.250000Z outbox,2011-01-20,1.50,VIR 2011-01\n"
    )
    header, row = french_dialect(plain).removeprefix(BOM).splitlines()
    assert header == "recorded_at;at;sent;day;net;reference"  # headers unchanged
    # winter UTC+1, summer UTC+2; without an offset a moment is UTC (as the ledger stores it); text after it stays
    assert row.split(";") == [
        "20/01/2011 12:00:00",
        "20/07/2011 13:00:00",
        "03/04/2012 12:00:00 outbox",
        "20/01/2011",
        "1,50",
        "VIR 2011-01",  # text that is no moment, untouched
    ]
    # text opening with a moment, and a moment that is none, are left as they are
    (row,) = french_dialect("a,b\n2011-01-20 10:00 rappel client,2011-02-30 10:00\n").removeprefix(BOM).splitlines()[1:]
    assert row == "2011-01-20 10:00 rappel client;2011-02-30 10:00"
