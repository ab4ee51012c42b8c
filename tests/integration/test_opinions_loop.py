"""The user's loop on a corpus nobody tuned to: `sansfilm samples` with another seed and start, `sansfilm run`,
then `sansfilm opinions` and `sansfilm usage` through the CLI, from a fresh state: the issue's JSON shape, the rules'
invariants, the statement files, a re-run that changes nothing, and the community portal's metrics equal to those
recomputed from the generator's plan of the same corpus (not from the warehouse)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from analytics.opinions.pairs import load_pairs
from analytics.samples import plan_corpus
from analytics.samples.events import PORTAL
from pipelines.cli import app

runner = CliRunner()
PAIR_KEYS = {
    "requester",
    "responder",
    "requests",
    "answered",
    "unanswered",
    "on_call",
    "turnaround_p50_minutes",
    "turnaround_p90_minutes",
}


def sansfilm(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


CORPUS = {"seed": 7, "start": "2013-09", "months": 4, "establishments": 6}


def planned_portal_usage() -> dict[tuple[str, str], tuple[int, int]]:
    """(Paris month, owner) -> (portal views, distinct RPPS numbers), from the generator's plan: successful portal
    openings and exports to the portal, one per study, the RPPS number read back from any of its written forms."""
    plan = plan_corpus(**CORPUS)
    owner = {s.uid: s.site.establishment.establishment_id for s in plan.studies if s.site.establishment}
    exports = [e for e in plan.events if e.event_id == "110106" and PORTAL in {p.user_id for p in e.participants}]
    views, doctors = defaultdict(int), defaultdict(set)
    for event in [*plan.portal, *exports]:
        if event.outcome:
            continue
        month = event.at.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m")
        rpps = re.fullmatch(r"(?:RPPS:|8)?(\d{11})", event.participants[0].user_id)
        for study in event.studies:
            views[month, owner[study.uid]] += 1
            if rpps:
                doctors[month, owner[study.uid]].add(rpps.group(1))
    return {k: (v, len(doctors[k])) for k, v in views.items()}


def test_opinions_on_a_fresh_corpus_through_the_cli(tmp_path, monkeypatch):
    corpus = tmp_path / "mine"
    monkeypatch.setenv("SANSFILM_NOW", "2014-03-01T10:00:00+01:00")
    sansfilm("samples", "--out", str(corpus), *(f"--{k}={v}" for k, v in CORPUS.items()))
    config = str(corpus / "sansfilm.toml")
    sansfilm("--config", config, "run")
    pairs = {(p.requester, p.responder) for p in load_pairs(corpus / "contracts")}
    assert len(pairs) == 2 and {tuple(reversed(p)) for p in pairs} == pairs  # the pilot asks both ways
    months = {}
    for month in ("2013-11", "2013-12"):
        data = json.loads(sansfilm("--config", config, "opinions", "--month", month, "--format", "json", "--statement"))
        assert set(data) == {"month", "pairs", "settlement"} and data["month"] == month
        assert {(p["requester"], p["responder"]) for p in data["pairs"]} == pairs
        assert all(set(p) == PAIR_KEYS for p in data["pairs"])
        for p in data["pairs"]:
            assert p["requests"] == p["answered"] + p["unanswered"]  # the month is over: nothing pending
            # the script: A->B has one answered too late and a weekday night, B->A one never answered and a Sunday
            assert p["unanswered"] >= 1 and p["on_call"] >= 1 and p["answered"] >= 1
            assert p["turnaround_p50_minutes"] <= p["turnaround_p90_minutes"] < 24 * 60
        (line,) = data["settlement"]
        assert isinstance(line["amount"], str) and Decimal(line["amount"]) > 0
        assert (line["debtor"], line["creditor"]) in pairs
        statement = corpus / "invoices" / "settlements" / f"opinions-{month}.csv"
        assert statement.read_text().splitlines()[1] == f"{month},{line['debtor']},{line['creditor']},{line['amount']}"
        assert (corpus / "invoices" / "settlements" / f"opinions-{month}.pdf").read_bytes().startswith(b"%PDF")
        again = json.loads(sansfilm("--config", config, "opinions", "--month", month, "--format", "json"))
        assert again == data
        months[month] = data
    usage = json.loads(sansfilm("--config", config, "usage", "--month", "2013-11", "--format", "json"))
    billed = {e["establishment_id"]: e["opinions"] for e in usage["establishments"]}
    assert {p["requester"]: p["answered"] for p in months["2013-11"]["pairs"]} == {r: billed[r] for _, r in pairs}
    planned = planned_portal_usage()
    metered = {}
    for month in ("2013-09", "2013-10", "2013-11", "2013-12"):
        report = json.loads(sansfilm("--config", config, "usage", "--month", month, "--format", "json"))
        for e in report["establishments"]:
            if e["portal_views"]:
                metered[month, e["establishment_id"]] = (e["portal_views"], e["portal_practitioners"])
        assert report["unattributed"]["portal_views"] == 0
    assert metered == planned and sum(v for v, _ in planned.values()) > 100
