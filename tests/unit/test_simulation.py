"""The simulation of a proposed tariff: the invoices' own rules, zero deltas under the current tariff, issued months
compared on their recorded usage, proposals laid over the current agreement, loader errors, the projection's maths."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest

from analytics.billing.model import InvoiceLine
from analytics.billing.rules import draft_invoice
from analytics.billing.simulation import ISSUED, laid_over, simulate, simulation_dict
from analytics.billing.tariff import load_tariff, load_tariff_file
from analytics.errors import ContractError
from analytics.metrics import METRICS
from analytics.periods import Month
from analytics.registry import Registry
from analytics.reporting import projection
from analytics.reporting.proposals import bill_changes, changes_by, load_proposal, winners_and_losers
from analytics.samples.proposals import PROPOSALS, replace_blocks
from analytics.samples.tariff import FRAMEWORK_YAML
from tests.unit.test_billing_rules import site

REPO = Path(__file__).resolve().parents[2]
OFFERS = ("PACS_RIS", "PACS", "VNA")
CURRENT = load_tariff(REPO / "contracts", OFFERS)
PROPOSAL_A = load_tariff_file(REPO / "contracts" / "proposals" / "a_storage_cut.yaml", OFFERS, REPO / "contracts")
PROPOSAL_B = load_tariff_file(REPO / "contracts" / "proposals" / "b_bundle.yaml", OFFERS, REPO / "contracts")
BIG = replace(site(go_live="2010-05-01"), establishment_id="750000001", category="CHU")
SMALL = replace(site(go_live="2011-03-10", offer="PACS"), establishment_id="930000002", category="CLINIQUE")
ARCHIVE = replace(site(go_live="2010-06-15", offer="VNA"), establishment_id="940000003", category="CH")
REGISTRY = Registry(REPO / "contracts" / "establishments.csv", (BIG, SMALL, ARCHIVE))
MONTHS = [Month(2010, 6), Month(2011, 3), Month(2011, 4), Month(2012, 6)]  # go-lives, first and later anniversaries


def usage(studies: int, storage: str, retrievals: int = 0, shares: int = 0) -> dict[str, D]:
    return {m: D(0) for m in METRICS} | {
        "studies_archived": D(studies),
        "storage_gb_month": D(storage),
        "retrievals": D(retrievals),
        "shares": D(shares),
    }


USAGE = {
    month: {
        BIG.establishment_id: usage(900 + 300 * i, f"{2500 + 700 * i}.123456789", 400 + i, 150 + 90 * i),
        SMALL.establishment_id: usage(40 * i, f"{90 * i}.5", 7, 3),
        ARCHIVE.establishment_id: usage(2000, f"{1800 + 4000 * i}", 600, 12),
    }
    for i, month in enumerate(MONTHS)
}


def test_the_current_tariff_itself_gives_every_establishment_a_delta_of_zero():
    result = simulate(REGISTRY, CURRENT, CURRENT, MONTHS, USAGE, {})
    assert not result.laid_over
    assert {b.establishment_id for b in result.bills} == {
        BIG.establishment_id,
        SMALL.establishment_id,
        ARCHIVE.establishment_id,
    }
    assert all(b.delta == D("0.00") and b.current_gross == b.simulated_gross for b in result.bills)
    # SMALL is not live in June 2010: no bill; its March 2011 is prorated (22 days) and topped up to the minimum
    assert (Month(2010, 6), SMALL.establishment_id) not in {(b.month, b.establishment_id) for b in result.bills}
    march = draft_invoice(SMALL, Month(2011, 3), USAGE[Month(2011, 3)][SMALL.establishment_id], CURRENT)
    assert march.active_days == 22 and any(line.code == "MINIMUM" for line in march.lines)
    data = simulation_dict(result, "framework.yaml")
    assert list(data)[:5] == ["from", "to", "current_net", "simulated_net", "establishments"]
    assert [list(e)[:5] for e in data["establishments"]] == [
        ["establishment_id", "offer", "current_net", "simulated_net", "delta"]
    ] * 3
    assert {e["delta"] for e in data["establishments"]} == {"0.00"}
    assert data["current_net"] == data["simulated_net"] == str(sum((b.current_net for b in result.bills), D("0.00")))


def test_a_proposal_is_billed_with_the_invoice_rules_of_each_month():
    result = simulate(REGISTRY, CURRENT, PROPOSAL_A, MONTHS, USAGE, {})
    assert result.laid_over  # dated 2015-2020: priced as if it had replaced the current agreement
    priced, _ = laid_over(PROPOSAL_A, CURRENT, MONTHS)
    for bill in result.bills:
        establishment = REGISTRY.by_id()[bill.establishment_id]
        used = USAGE[bill.month][bill.establishment_id]
        assert bill.current_net == draft_invoice(establishment, bill.month, used, CURRENT).net
        expected = draft_invoice(establishment, bill.month, used, priced)
        assert (bill.simulated_net, bill.simulated_gross) == (expected.net, expected.gross)
    # the revision of April 2011 applies to the proposal's prices as to the current ones
    april = draft_invoice(BIG, Month(2011, 4), USAGE[Month(2011, 4)][BIG.establishment_id], priced)
    assert april.revision is not None and april.revision.coefficient == D("1.0238")


def test_laid_over_keeps_a_proposal_that_covers_the_months():
    covering = replace(PROPOSAL_B, valid_from=date(2010, 4, 1), valid_to=date(2015, 3, 31))
    assert laid_over(covering, CURRENT, MONTHS) == (covering, False)
    moved, was_moved = laid_over(PROPOSAL_B, CURRENT, MONTHS)
    assert was_moved and (moved.valid_from, moved.valid_to, moved.revision) == (
        CURRENT.valid_from,
        CURRENT.valid_to,
        CURRENT.revision,
    )
    assert moved.offers == PROPOSAL_B.offers and moved.ceiling == PROPOSAL_B.ceiling


def test_an_issued_month_is_compared_on_the_usage_it_was_billed_on():
    june = Month(2012, 6)
    billed = draft_invoice(BIG, june, USAGE[june][BIG.establishment_id], CURRENT)
    regul = InvoiceLine("REGUL:SUBSCRIPTION", "Régularisation", None, D(1), D("55.00"), D("55.00"), reference="X-1")
    credit = InvoiceLine("SLA:availability:2012-05", "Crédit", None, D(-1), D("93.77"), D("-93.77"))
    issued = replace(billed, number="RSF-000042", lines=billed.lines + (regul, credit))
    late = {**USAGE, june: {**USAGE[june], BIG.establishment_id: usage(99999, "99999")}}  # data changed since
    result = simulate(REGISTRY, CURRENT, CURRENT, [june], late, {june: [issued]})
    (bill,) = result.bills  # an issued month: the ledger's invoices only
    assert bill.status == ISSUED and bill.current_net == billed.net == bill.simulated_net  # no REGUL, no credit
    proposed = simulate(REGISTRY, CURRENT, PROPOSAL_B, [june], late, {june: [issued]})
    priced, _ = laid_over(PROPOSAL_B, CURRENT, [june])
    assert proposed.bills[0].simulated_net == draft_invoice(BIG, june, billed.usage, priced).net


def test_a_proposal_is_validated_by_the_tariff_loader(tmp_path):
    bad = tmp_path / "proposal.yaml"
    bad.write_text(PROPOSALS["a_storage_cut.yaml"].replace('unit_price: "0.035"', "unit_price: 0,035", 1))
    contracts = type("C", (), {"registry": REGISTRY, "tariff": CURRENT})()
    with pytest.raises(ContractError) as info:
        load_proposal(contracts, bad)
    message = str(info.value)
    assert str(bad) in message and "offers.PACS_RIS.charges[2].unit_price" in message
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "0,035" in text)
    assert f"line {line}" in message
    no_vna = tmp_path / "no_vna.yaml"
    no_vna.write_text(PROPOSALS["b_bundle.yaml"].split("  VNA:")[0])
    with pytest.raises(ContractError, match="VNA"):
        load_proposal(contracts, no_vna)
    with pytest.raises(ContractError, match="does not exist"):
        load_proposal(contracts, tmp_path / "missing.yaml")


def test_committed_proposals_are_what_the_generator_writes():
    for name, text in PROPOSALS.items():
        for folder in (REPO / "contracts", REPO / "data" / "samples" / "contracts"):
            assert (folder / "proposals" / name).read_text(encoding="utf-8") == text, folder / name


def test_changes_by_group_and_winners_and_losers():
    result = simulate(REGISTRY, CURRENT, PROPOSAL_B, MONTHS, USAGE, {})
    contracts = type("C", (), {"registry": REGISTRY, "tariff": CURRENT})()
    changes = bill_changes(result, contracts)
    assert changes["delta"].to_list() == [changes["simulated_net"][i] - changes["current_net"][i] for i in range(3)]
    assert sum(changes["delta"].to_list()) == result.simulated_net - result.current_net
    by_offer = changes_by(changes, "offer")
    assert by_offer["establishments"].sum() == 3 and set(by_offer["offer"]) == set(OFFERS)
    winners, losers = winners_and_losers(changes)
    assert all(d < 0 for d in winners["delta"]) and all(d > 0 for d in losers["delta"])
    assert winners.height + losers.height == changes.filter(pl.col("delta") != 0).height
    assert winners["delta"].to_list() == sorted(winners["delta"].to_list())


# ---- the projection -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "ahead", "rate"),
    [
        (100.0, 112.0, D("0.1200")),
        (100.0, 20.0, D("-0.5")),
        (0.0, 5.0, D(0)),
        (100.0, None, D(0)),
    ],
)
def test_annual_rate(last, ahead, rate):
    assert projection.annual_rate(last, ahead) == rate


def test_projected_usage_grows_linearly_and_rounds_counts():
    growth = projection.Growth("central", D("0.10"), D("0.20"))
    base = usage(1000, "500.000000001", 7)
    assert projection.projected_usage(base, growth, 0) == base
    in_18_months = projection.projected_usage(base, growth, 18)
    assert in_18_months["studies_archived"] == D(1150)  # 1000 x (1 + 0.10 x 1.5)
    assert in_18_months["retrievals"] == D(8)  # 7 x 1.15 = 8.05, half-up to a whole unit
    assert in_18_months["storage_gb_month"] == D("650.000000001")  # 500.000000001 x 1.3


def test_projection_bills_sixty_months_and_finds_when_the_ceiling_is_passed():
    assert len(PROPOSAL_B.months()) == 60
    contracts = type("C", (), {"registry": REGISTRY, "tariff": CURRENT})()
    scenarios = [projection.Growth("bas", D(0), D(0)), projection.Growth("haut", D("0.5"), D("0.5"))]
    history = {Month(2014, m): USAGE[MONTHS[-1]] for m in range(1, 13)}
    frame = projection.project(contracts, PROPOSAL_B, history, scenarios)
    flat = frame.filter(pl.col("scenario") == "bas")
    # no growth: every month bills the same usage at the proposal's own prices (no revision)
    first = Month(2015, 4)
    expected = sum(
        draft_invoice(e, first, USAGE[MONTHS[-1]].get(e.establishment_id, {}), replace(PROPOSAL_B, revision=None)).net
        for e in REGISTRY.establishments
    )
    assert flat["net"][0] == expected and flat["cumulative"][-1] == sum(flat["net"].to_list())
    summary = projection.summary(frame.with_columns(ceiling=pl.lit(flat["cumulative"][30])))
    rows = {r["scenario"]: r for r in summary.iter_rows(named=True)}
    assert rows["bas"]["exceeded_in"] == flat["month"][31]  # the first month whose cumulative is above the ceiling
    assert rows["haut"]["total"] > rows["bas"]["total"]


def test_a_proposal_changing_a_block_the_tariff_lacks_is_refused():
    with pytest.raises(ValueError, match="offers.PACS.charges.views"):
        replace_blocks(FRAMEWORK_YAML, {"offers.PACS.charges.views.unit_price": 'unit_price: "0.01"'})
    removed = replace_blocks(FRAMEWORK_YAML, {"offers.VNA": None, "payment_terms": None})
    assert "VNA:" not in removed and "payment_terms" not in removed and "\n\n\n" not in removed
