"""Correctness of what every page shows: months in chronological order and named the French way, one clock (Paris),
codes turned into French labels."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl

from analytics.reporting import labels
from analytics.reporting.finance import monthly_totals
from dashboards import charts


def test_issued_months_appended_after_drafts_still_read_in_order():
    # the Factures page concatenates issued invoices then drafts: January 2013 (draft) came before December 2012
    invoices = pl.DataFrame(
        {
            "month": ["2012-12", "2013-01", "2012-11", "2013-02"],
            "status": ["émise", "brouillon", "émise", "brouillon"],
            "net": [Decimal("10.00"), Decimal("20.00"), Decimal("5.00"), Decimal("40.00")],
        }
    )
    totals = monthly_totals(invoices)
    assert totals["month"].to_list() == ["2012-11", "2012-12", "2013-01", "2013-02"]
    fig = charts.bar(totals, "month", "net", "status")
    assert list(fig.layout.xaxis.categoryarray) == ["nov. 2012", "déc. 2012", "janv. 2013", "févr. 2013"]
    assert fig.layout.xaxis.categoryorder == "array"
    assert {x for trace in fig.data for x in trace.x} == {"nov. 2012", "déc. 2012", "janv. 2013", "févr. 2013"}
    table = charts.french_table(totals)
    assert table["month"].to_list() == ["nov. 2012", "déc. 2012", "janv. 2013", "févr. 2013"]
    assert table["mom"].to_list() == ["–", "100,0\u202f%", "–", "100,0\u202f%"]  # a ratio is a percentage


def test_month_axes_of_dates_are_french_too():
    frame = pl.DataFrame({"month": [date(2013, 1, 1), date(2012, 12, 1)], "studies": [3, 4]})
    fig = charts.line(frame, "month", "studies")
    assert list(fig.data[0].x) == ["déc. 2012", "janv. 2013"]
    days = [date(2012, 3, 14), date(2012, 11, 2)]
    ticks = charts.french_month_ticks(charts.go.Figure(), days).layout.xaxis.ticktext
    assert ticks[0] == "avr. 2012" and all(t.split()[0] in charts.MONTHS_FR for t in ticks)


def test_one_clock_every_moment_is_paris_time():
    checked = datetime(2012, 12, 4, 7, 11, tzinfo=UTC)  # stored in UTC by the ledger
    assert charts.fr_date(checked) == "04/12/2012 08:11"
    summer = datetime(2012, 7, 4, 7, 11, tzinfo=UTC)
    assert charts.fr_date(summer) == "04/07/2012 09:11"
    table = charts.french_table(
        pl.DataFrame({"checked_at": [checked]}, schema={"checked_at": pl.Datetime("us", "UTC")})
    )
    assert table["checked_at"].to_list() == ["04/12/2012 08:11"]
    assert (
        labels.check_details({"max_value": "2012-12-04T07:11:00+00:00", "rows": 3})
        == "maximum : 04/12/2012 08:11 ; lignes : 3"
    )


def test_codes_become_french_labels():
    assert labels.departement("93") == "93 · Seine-Saint-Denis"
    assert labels.establishment("920769742", "Hôpital Privé d'Antony") == "Hôpital Privé d'Antony (920769742)"
    assert labels.role("establishment:750238172", {"750238172": "GHU"}) == "établissement GHU (750238172)"
    assert labels.role("ars") == "agence régionale de santé (ARS)"
    assert labels.label(labels.MODALITIES, "PT") == "TEP (PT)"
    assert charts.fr_exact("2.4571") == "2,4571" and charts.fr_exact("1842.84") == "1\u202f842,84"


def test_counts_are_integers_even_when_summed_as_decimals():
    frame = pl.DataFrame({"records_added": [Decimal(3973)]}, schema={"records_added": pl.Decimal(38, 0)})
    assert charts.french_table(frame)["records_added"].to_list() == ["3\u202f973"]
