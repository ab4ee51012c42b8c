"""The worked example of docs/next-agreement.md, recomputed through the simulation with the committed tariff files."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import yaml

from analytics.billing.simulation import simulate, simulation_dict
from analytics.billing.tariff import load_tariff, load_tariff_file
from analytics.metrics import METRICS
from analytics.periods import Month
from analytics.registry import Registry
from tests.unit.test_billing_rules import site

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "next-agreement.md").read_text(encoding="utf-8")
OFFERS = ("PACS_RIS", "PACS", "VNA")


def example() -> dict:
    (block,) = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)
    return yaml.safe_load(block)


def test_worked_example_of_the_doc():
    data = example()
    month = Month.parse(data["month"])
    establishments = [
        replace(site(go_live="2010-05-01", offer=e["offer"]), establishment_id=e["establishment_id"])
        for e in data["establishments"]
    ]
    registry = Registry(REPO / "contracts" / "establishments.csv", tuple(establishments))
    usage = {
        month: {
            e["establishment_id"]: {m: D(str(e["usage"].get(m, 0))) for m in METRICS} for e in data["establishments"]
        }
    }
    current = load_tariff(REPO / "contracts", OFFERS)
    for name in ("a_storage_cut", "b_bundle"):
        proposal = load_tariff_file(REPO / "contracts" / "proposals" / f"{name}.yaml", OFFERS, REPO / "contracts")
        result = simulation_dict(simulate(registry, current, proposal, [month], usage, {}), name)
        rows = {r["establishment_id"]: r for r in result["establishments"]}
        for e in data["establishments"]:
            row = rows[e["establishment_id"]]
            assert (row["current_net"], row["simulated_net"]) == (e["current_net"], e[name]), (name, row)
            assert D(row["delta"]) == D(e[name]) - D(e["current_net"])
            assert f"**{e[name]}**" in DOC and f"**{e['current_net']}**" in DOC  # the tables show the same nets
        # the current tariff itself: nothing changes
        same = simulation_dict(simulate(registry, current, current, [month], usage, {}), "framework.yaml")
        assert {r["delta"] for r in same["establishments"]} == {"0.00"}
