"""The tele-opinions worked example of docs/billing.md, recomputed from its yaml block with the real rules."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path

import yaml

from analytics.billing.tariff import Settlement
from analytics.opinions.facts import summarise
from analytics.opinions.rules import is_on_call, outcome
from analytics.opinions.settings import OpinionsConfig
from analytics.opinions.settlement import net
from analytics.periods import Month
from pipelines.opinions_cli import opinions_dict

DOC = (Path(__file__).resolve().parents[2] / "docs" / "billing.md").read_text(encoding="utf-8")


def block(language: str, first_key: str) -> str:
    (found,) = [b for b in re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S) if b.startswith(first_key)]
    return found


def test_the_documented_configuration_is_the_default():
    config = OpinionsConfig(**tomllib.loads(block("toml", "[opinions]"))["opinions"])
    assert config == OpinionsConfig()


def test_worked_example_of_the_doc():
    example = yaml.safe_load(block("yaml", "opinions_example:"))["opinions_example"]
    config, now = OpinionsConfig(), datetime.fromisoformat("2012-07-01T00:00:00+02:00")
    grouped: dict[tuple[str, str], list] = {}
    for requester, responder, asked, answered in example["requests"]:
        asked = datetime.fromisoformat(asked)
        result = outcome(asked, datetime.fromisoformat(answered) if answered else None, now, config)
        grouped.setdefault((str(requester), str(responder)), []).append((result, is_on_call(asked, config)))
    pairs = [
        summarise(requester, responder, [(r.status, on_call, r.turnaround_seconds) for r, on_call in requests])
        for (requester, responder), requests in grouped.items()
    ]
    terms = Settlement(D(example["fee"]), D(example["on_call_fee"]))
    printed = opinions_dict(Month.parse(example["month"]), pairs, net(pairs, terms))
    assert printed == {"month": example["month"], "pairs": example["pairs"], "settlement": example["settlement"]}
