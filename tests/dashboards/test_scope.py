"""Authorisation in the query layer: an establishment viewer gets only its own rows from every query function,
whatever filters it sends; `ars` gets no money and no cell under 10; roles without a right get Forbidden."""

from __future__ import annotations

import polars as pl
import pytest

from analytics.billing.contracts import load_contracts
from analytics.reporting import finance, opinions, portal, programme
from analytics.reporting.forecast import linear_forecast
from analytics.reporting.scope import Filters, Forbidden, Viewer
from tests.conftest import REPO
from tests.dashboards.conftest import ALL, CRETEIL, ELOI

ELOI_VIEWER = Viewer("eloi", f"establishment:{ELOI}")
ARS = Viewer("ars", "ars")
GCS = Viewer("gcs", "gcs")
# filters an establishment viewer could send to try to reach another establishment's rows
PROBES = [ALL, Filters(establishment=CRETEIL), Filters("2012-01", "2012-12", departement="94"), Filters(offer="VNA")]


def _establishment_calls(con, settings, filters):
    """Every query function, called as the Saint-Éloi viewer: name -> frame."""
    calls = {
        name: getattr(programme, name)(con, ELOI_VIEWER, filters)
        for name in (
            "rollout_sites",
            "adoption",
            "silent_sites",
            "sharing",
            "ingestion_delay",
            "failure_rates",
            "busiest_hours",
            "usage_monthly",
            "unbilled",
            "storage",
            "service_levels",
            "live_sites",
            "failures_by_site",
        )
    }
    for dimension in programme.DIMENSIONS:
        calls[f"volumes_{dimension}"] = programme.volumes(con, ELOI_VIEWER, filters, dimension)
    calls["usage_daily_other"] = programme.usage_daily(con, ELOI_VIEWER, "2012-06", CRETEIL)
    calls["sharing_departements"] = programme.sharing_departements(con, ELOI_VIEWER, filters)
    calls["portal"] = portal.adoption(con, ELOI_VIEWER, filters)
    calls["portal_departements"] = portal.adoption(con, ELOI_VIEWER, filters, per_departement=True)
    calls["issued"] = finance.issued_invoices(settings.ledger.url, ELOI_VIEWER, filters)
    calls["opinion_requests"] = opinions.requests(con, ELOI_VIEWER, filters)
    calls["drafts"] = finance.draft_table(
        finance.draft_invoices(con, load_contracts(settings), ELOI_VIEWER, filters, settings.ledger.url)
    )
    return calls


@pytest.mark.parametrize("filters", PROBES, ids=["all", "other-establishment", "other-departement", "other-offer"])
def test_an_establishment_viewer_only_ever_gets_its_own_rows(published, con, filters):
    calls = _establishment_calls(con, published, filters)
    for name, frame in calls.items():
        if name == "sharing":  # its own shares, sent or received (a received share names its sender)
            assert all(
                ELOI in (s, d)
                for s, d in zip(frame["establishment_id"], frame["destination_establishment_id"], strict=True)
            )
        elif name == "opinion_requests":  # the pairs it asks or answers in
            assert all(ELOI in pair for pair in zip(frame["requester_id"], frame["responder_id"], strict=True))
        elif "establishment_id" in frame.columns:
            assert set(frame["establishment_id"]) <= {ELOI}, name
    assert calls["usage_daily_other"].is_empty()
    sent = calls["sharing"].filter(pl.col("establishment_id") == ELOI)["shares"].sum()
    assert calls["sharing_departements"]["shares"].sum() == sent  # its own shares only, by destination
    assert set(calls["sharing_departements"]["sender"]) <= {"75"}
    own_portal_views = sum(int(v) for v in calls["usage_monthly"]["portal_views"])  # its own, whatever the filters
    assert calls["portal"]["views"].sum() == calls["portal_departements"]["views"].sum() <= own_portal_views
    assert set(calls["portal_departements"]["departement"]) <= {"75"}
    if filters is ALL:  # and it does get its own data
        assert calls["portal"]["views"].sum() == own_portal_views > 0
        assert calls["usage_monthly"].height == 12 and calls["drafts"].height == 12 and calls["issued"].height == 1
        assert calls["volumes_region"]["studies"].sum() == calls["adoption"]["studies"].sum() > 0
        assert calls["service_levels"].height == 11 * 3  # 2011-12 to 2012-11 assessed (drafts of 2012-01 to -12)


def test_an_establishment_viewer_cannot_read_another_invoice(published):
    gcs_issued = finance.issued_invoices(published.ledger.url, GCS, ALL)
    other = gcs_issued.filter(pl.col("establishment_id") == CRETEIL)["number"][0]
    assert not finance.issued_lines(published.ledger.url, GCS, other).is_empty()
    assert finance.issued_lines(published.ledger.url, ELOI_VIEWER, other).is_empty()
    assert finance.invoice_documents(published.billing.out_dir, ELOI_VIEWER, published.ledger.url, other) == {}
    assert set(finance.invoice_documents(published.billing.out_dir, GCS, published.ledger.url, other)) == {
        "pdf",
        "xml",
        "csv",
    }


def test_platform_wide_facts_are_refused_to_an_establishment(con):
    for fn in (programme.source_freshness, programme.quarantine):
        with pytest.raises(Forbidden):
            fn(con, ELOI_VIEWER, ALL)


@pytest.mark.parametrize("viewer", [ARS, Viewer("op", "operator")], ids=["ars", "operator"])
def test_no_money_for_ars_or_the_operator(published, con, viewer):
    with pytest.raises(Forbidden):
        finance.draft_invoices(con, load_contracts(published), viewer, ALL, published.ledger.url)
    with pytest.raises(Forbidden):
        finance.issued_invoices(published.ledger.url, viewer, ALL)
    with pytest.raises(Forbidden):
        finance.issued_lines(published.ledger.url, viewer, "RSF-000001")


def test_ars_gets_no_establishment_level_usage_or_operations(con):
    for fn in (
        programme.usage_monthly,
        programme.unbilled,
        programme.storage,
        programme.failure_rates,
        programme.service_levels,
    ):
        with pytest.raises(Forbidden):
            fn(con, ARS, ALL)


MONEY = {"net", "vat", "gross", "amount", "unit_price"}


def test_what_ars_can_read_has_no_money_and_no_small_cells(con):
    frames = {d: programme.volumes(con, ARS, ALL, d) for d in programme.DIMENSIONS}
    frames |= {
        "adoption": programme.adoption(con, ARS, ALL),
        "sharing": programme.sharing(con, ARS, ALL),
        "sharing_departements": programme.sharing_departements(con, ARS, ALL),
        "sites": programme.rollout_sites(con, ARS, ALL),
        "portal": portal.adoption(con, ARS, ALL),
        "portal_departements": portal.adoption(con, ARS, ALL, per_departement=True),
    }
    for name, frame in frames.items():
        assert not MONEY & set(frame.columns), name
        for column in ("studies", "instances", "bytes", "shares", "practitioners", "views"):
            if column in frame.columns:
                visible = frame.filter(pl.col(column).is_not_null())
                if not name.startswith("portal"):  # a portal row is flagged when either of its measures is hidden
                    assert (visible["suppressed"].not_()).all(), name
                if column in ("studies", "shares", "practitioners", "views"):
                    assert ((visible[column] >= 10) | (visible[column] == 0)).all(), name  # zero is not sensitive
    by_site = frames["establishment"]
    assert by_site["suppressed"].any() and by_site["studies"].null_count() == by_site["suppressed"].sum()
    # the sample's flows are all small but one: the tele-opinion pilot's (its requests are transfers, so shares)
    visible = frames["sharing"].filter(pl.col("shares").is_not_null())
    pilot = {tuple(line.split(",")[:2]) for line in (REPO / "contracts" / "opinion_pairs.csv").read_text().split()[1:]}
    assert visible.height == 1 and (visible["establishment_id"][0], visible["destination_establishment_id"][0]) in pilot
    region = frames["region"]
    assert region["studies"].sum() == programme.volumes(con, GCS, ALL, "region")["studies"].sum() == 479
    assert not region["suppressed"].any()  # the region's months are large enough to protect the cells inside


def test_regional_roles_see_unsuppressed_figures(con):
    by_site = programme.volumes(con, GCS, ALL, "establishment")
    assert not by_site["suppressed"].any() and by_site["studies"].null_count() == 0


def test_unknown_roles_are_refused():
    with pytest.raises(Forbidden):
        Viewer("x", "admin")
    with pytest.raises(Forbidden):
        Viewer("x", "establishment:123")


def test_forecast_line_and_band():
    months = [programme_month(i) for i in range(12)]
    values = [10.0 + 2 * i + (0.5 if i % 2 else -0.5) for i in range(12)]
    frame = linear_forecast(months, values, 12)
    future = frame.filter(pl.col("kind") == "forecast")
    assert future.height == 12 and future["month"][0].isoformat() == "2013-01-01"
    assert future["stored_gb"][0] == pytest.approx(10 + 2 * 12, abs=0.6)
    widths = (future["high"] - future["low"]).to_list()
    assert all(b > a > 0 for a, b in zip(widths, widths[1:], strict=False))  # the band widens with the horizon
    assert linear_forecast(months[:1], values[:1])["kind"].to_list() == ["history"]


def programme_month(i: int):
    from datetime import date

    return date(2012, i + 1, 1)


def test_period_totals_are_suppressed_on_the_total_not_summed_from_months(con):
    """A département with 13 studies over the year, each month under 10, shows 13 to ARS, not 0 (or is hidden by the
    secondary suppression, never shown partial)."""
    monthly = programme.volumes(con, ARS, Filters(), "departement")
    period = programme.volumes(con, ARS, Filters(), "departement", per_month=False)
    exact = programme.volumes(con, GCS, Filters(), "departement", per_month=False)
    assert period["month"].n_unique() == 1
    truth = dict(zip(exact["dimension"], exact["studies"], strict=True))
    for dimension, studies, suppressed in zip(
        period["dimension"], period["studies"], period["suppressed"], strict=True
    ):
        assert (studies is None) == suppressed and (suppressed or truth[dimension] >= 10)
        assert studies in (None, truth[dimension])
    summed_months = monthly.group_by("dimension").agg(pl.col("studies").sum())
    assert period["studies"].sum() > summed_months["studies"].sum()  # the undercount this avoids


def test_governance_tables_are_scoped(published, con):
    from analytics.reporting import governance

    report = governance.build_report(
        con, load_contracts(published), published.ledger.url, governance.horizon_as_of(con)
    )
    mine = governance.scoped_tables(report, ELOI_VIEWER)
    assert mine["ceiling"] is None and mine["commitments"]["establishment_id"].to_list() == [ELOI]
    ars = governance.scoped_tables(report, ARS)
    assert ars["commitments"] is None and "amount" not in ars["ceiling"]["measure"].to_list()
    everything = governance.scoped_tables(report, GCS)
    assert everything["ceiling"]["measure"].to_list() == ["amount", "studies_archived"]
    assert everything["commitments"].height == 12


def test_an_establishments_drafts_are_its_slice_of_the_regions(published, con):
    """Drafted for one establishment only (its page, or the Establishment filter) or for a département's, a month's
    invoices are exactly theirs among the whole region's drafts: lines, service-level credits and totals."""
    contracts = load_contracts(published)
    everyone = finance.draft_invoices(con, contracts, GCS, ALL, published.ledger.url)
    credited = {i.establishment_id for i in everyone for line in i.lines if line.code.startswith("SLA:")}
    assert ELOI in credited  # the sample's one breach: a credit line on its August invoice
    for establishment_id in sorted({i.establishment_id for i in everyone}):
        alone = finance.draft_invoices(
            con, contracts, Viewer("e", f"establishment:{establishment_id}"), ALL, published.ledger.url
        )
        filtered = finance.draft_invoices(
            con, contracts, GCS, Filters("2012-01", "2012-12", establishment=establishment_id), published.ledger.url
        )
        theirs = [i for i in everyone if i.establishment_id == establishment_id]
        assert alone == theirs and filtered == theirs, establishment_id
    sites = programme.rollout_sites(con, GCS, ALL)
    for departement in ("94", "75"):
        members = set(sites.filter(pl.col("departement") == departement)["establishment_id"])
        drafted = finance.draft_invoices(
            con, contracts, GCS, Filters("2012-01", "2012-12", departement=departement), published.ledger.url
        )
        assert members and drafted == [i for i in everyone if i.establishment_id in members], departement


def test_a_periods_drafts_are_the_drafts_of_its_months(published, con):
    """The dashboards draft every month once and cut the period out (dashboards/data.py): a period's drafts must be
    its months' drafts, the month after the issued January (with its regularisations) included."""
    contracts = load_contracts(published)
    whole = finance.draft_invoices(con, contracts, GCS, ALL, published.ledger.url)
    by_month = [
        d
        for m in range(1, 13)
        for d in finance.draft_invoices(
            con, contracts, GCS, Filters(f"2012-{m:02d}", f"2012-{m:02d}"), published.ledger.url
        )
    ]
    assert len(whole) > 90 and by_month == whole
