"""Proposed tariffs for the next framework agreement, `contracts/proposals/*.yaml`: written by the sample generator
and committed as is (strings, like framework.yaml, so that the header comments a GCS reader starts with stay).

Each is a complete tariff in framework.yaml's schema (`sansfilm simulate --tariff FILE` validates it with the same
loader), made from framework.yaml's text (analytics/samples/tariff.py) without its comments: the next five years, the
same revision clause and seller, and only the blocks a proposal changes written here.
"""

from __future__ import annotations

from pathlib import Path

from analytics.billing.simulation import PROPOSALS_DIR
from analytics.samples.tariff import FRAMEWORK_YAML

_PAD = " " * 40  # the column the head's comments start at


def _tiers(*tiers: tuple[int | None, str]) -> str:
    rows = "".join(
        f'  - {{up_to: {"null" if up_to is None else up_to}, unit_price: "{price}"}}\n' for up_to, price in tiers
    )
    return "tiers:\n" + rows


def _proposal(comment: str, contract_id: str, ceiling: str, changes: dict[str, str | None]) -> str:
    """framework.yaml without its comments, for the five years after it, with `changes` made to its offers."""
    head = {
        "contract_id": f"contract_id: {contract_id}",
        "valid_from": "valid_from: 2015-04-01",
        "valid_to": "valid_to: 2020-03-31",
        "revision.base_period": "base_period: 2014-10",
        "ceiling": f'ceiling:{_PAD[8:]}# maximum over the five years, excluding VAT\n  amount: "{ceiling}"',
        # invoices' due dates and the pilot's settlement between establishments are no prices to simulate
        "payment_terms": None,
        "settlement": None,
    }
    text = replace_blocks(_uncommented(FRAMEWORK_YAML), head | changes)
    revision = f"revision:{_PAD[9:]}# the same clause as the agreement in force, prices set in October 2014"
    return comment + text.replace("\nrevision:\n", f"\n{revision}\n", 1)


def _uncommented(text: str) -> str:
    """The YAML without its comment lines and end-of-line comments (no value in it holds a '#')."""
    lines = (line.split(" #")[0].rstrip() if " #" in line else line for line in text.splitlines())
    return "".join(f"{line}\n" for line in lines if not line.lstrip().startswith("#"))


def replace_blocks(text: str, changes: dict[str, str | None]) -> str:
    """`text` (block-style YAML) with the block at each dotted path replaced by its new text (indented like it), or
    removed (None). A path names mapping keys, and a charge by its metric (`offers.VNA.charges.shares.tiers`)."""
    lines = text.splitlines()
    out: list[str] = []
    stack: list[tuple[int, str]] = []
    seen: set[str] = set()
    skip_deeper_than: int | None = None
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if skip_deeper_than is not None:
            if line.strip() and indent > skip_deeper_than:
                continue
            skip_deeper_than = None
        if not line.strip():
            if not (out and not out[-1].strip()):  # a removed block leaves one blank line, not two
                out.append(line)
            continue
        key = _key(line.strip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        path = ".".join(k for _, k in stack)
        seen.add(path)
        if path not in changes:
            out.append(line)
            continue
        skip_deeper_than = indent
        new = changes[path]
        if new is not None:
            out.extend(" " * indent + new_line for new_line in new.splitlines())
    unused = set(changes) - seen
    if unused:
        raise ValueError(f"no block at {sorted(unused)}")
    return "".join(f"{line}\n" for line in out)


def _key(stripped: str) -> str:
    if stripped.startswith("- metric: "):
        return stripped.removeprefix("- metric: ")
    return stripped.split(":")[0].lstrip("- ")


STORAGE_CUT_COMMENT = """\
# Proposal A for the next framework agreement (2015-2020): storage cheaper, archiving dearer.
# Why: storage is most of the bill of long-standing sites, whose archives only grow, while the operator's cost of
# storage per GB keeps falling; the cost that does not fall is ingesting and indexing each new study.
# What changes against framework.yaml (RSF-AC-2010): storage_gb_month 0.06 -> 0.035 (PACS_RIS, PACS) and the VNA's
# storage tiers 0.08/0.06/0.04 -> 0.05/0.04/0.03; every studies_archived price about +15 % (2.40 -> 2.75...).
# Fees, minimums, retrievals and shares are unchanged. Simulate: `sansfilm simulate --tariff
# contracts/proposals/a_storage_cut.yaml` (docs/billing.md#simulating-a-proposed-tariff).
"""
STORAGE_CUT_CHANGES = {
    "offers.PACS_RIS.charges.studies_archived.tiers": _tiers((1000, "2.75"), (5000, "2.20"), (None, "1.75")),
    "offers.PACS_RIS.charges.storage_gb_month.unit_price": 'unit_price: "0.035"',
    "offers.PACS.charges.studies_archived.tiers": _tiers((1000, "2.40"), (5000, "1.90"), (None, "1.50")),
    "offers.PACS.charges.storage_gb_month.unit_price": 'unit_price: "0.035"',
    "offers.VNA.charges.storage_gb_month.tiers": _tiers((2000, "0.05"), (10000, "0.04"), (None, "0.03")),
    "offers.VNA.charges.studies_archived.unit_price": 'unit_price: "0.18"',
}

BUNDLE_COMMENT = """\
# Proposal B for the next framework agreement (2015-2020): one bundle per offer, no minimum of consumption.
# Why: small and newly live sites pay the minimum top-up for usage they do not have, which they read as a penalty;
# a higher monthly fee that includes a first allowance is simpler to budget and removes the top-up line.
# What changes against framework.yaml (RSF-AC-2010): no minimum_monthly; monthly fees 1800 -> 2600 (PACS_RIS),
# 1200 -> 1900 (PACS), 450 -> 700 (VNA); the fee includes the first 500 studies archived and the first 1 000 GB-month
# stored (2 000 for the VNA), zero-priced first tiers; beyond them prices a little under today's.
# Retrievals and shares are unchanged. Simulate: `sansfilm simulate --tariff contracts/proposals/b_bundle.yaml`.
"""
_BUNDLED_STORAGE = "model: graduated\n" + _tiers((1000, "0.00"), (None, "0.055"))
BUNDLE_CHANGES = {
    "offers.PACS_RIS.monthly_fee": 'monthly_fee: "2600.00"',
    "offers.PACS_RIS.minimum_monthly": None,
    "offers.PACS_RIS.charges.studies_archived.tiers": _tiers((500, "0.00"), (5000, "2.10"), (None, "1.50")),
    "offers.PACS_RIS.charges.storage_gb_month.model": _BUNDLED_STORAGE,
    "offers.PACS_RIS.charges.storage_gb_month.unit_price": None,
    "offers.PACS.monthly_fee": 'monthly_fee: "1900.00"',
    "offers.PACS.minimum_monthly": None,
    "offers.PACS.charges.studies_archived.tiers": _tiers((500, "0.00"), (5000, "1.85"), (None, "1.30")),
    "offers.PACS.charges.storage_gb_month.model": _BUNDLED_STORAGE,
    "offers.PACS.charges.storage_gb_month.unit_price": None,
    "offers.VNA.monthly_fee": 'monthly_fee: "700.00"',
    "offers.VNA.minimum_monthly": None,
    "offers.VNA.charges.storage_gb_month.tiers": _tiers((2000, "0.00"), (10000, "0.06"), (None, "0.04")),
}

STORAGE_CUT = _proposal(STORAGE_CUT_COMMENT, "RSF-AC-2015-A", "1800000.00", STORAGE_CUT_CHANGES)
BUNDLE = _proposal(BUNDLE_COMMENT, "RSF-AC-2015-B", "1600000.00", BUNDLE_CHANGES)

PROPOSALS = {"a_storage_cut.yaml": STORAGE_CUT, "b_bundle.yaml": BUNDLE}


def write_proposals(contracts_dir: Path) -> list[Path]:
    """Write the proposals into `contracts_dir/proposals/`; return their paths."""
    folder = Path(contracts_dir) / PROPOSALS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in PROPOSALS.items():
        (folder / name).write_text(text, encoding="utf-8", newline="\n")
        written.append(folder / name)
    return written
