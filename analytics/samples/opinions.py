"""The tele-opinion pilot of the sample: two establishments that ask each other for opinions, and the answers.

The first two registered establishments with AE titles live over the whole last two months of the period form the
pilot pair (both directions, `contracts/opinion_pairs.csv`). In each month where both are live, scripted requests
(110104 from the archive to the responder's AE) cover every rule: a weekday request answered within hours, a
weekday-night one (on call), a Sunday one, one on a weekday public holiday when the month has one, one answered
after 24 h (unanswered) and one never answered; the answer is a Structured Report (Modality SR) file sent by the
responder's AE into the study. Drawn from their own random stream: the rest of the corpus is unchanged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import holidays

from analytics.samples.clock import Period, add_months, paris_instant, round_ms
from analytics.samples.events import DESTINATION, SOURCE, AuditEvent, Participant, StudyObject
from analytics.samples.plan import Series, Study
from analytics.samples.registry import Site

PAIRS_PATH = "opinion_pairs.csv"
SR_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.88.22"  # Enhanced SR
HOST_ADDRESS = {"rsf-archive-01": "10.1.0.11", "rsf-archive-02": "10.1.0.12"}


@dataclass(frozen=True, slots=True)
class Pilot:
    sites: tuple[Site, Site]
    first_day: date
    reports: tuple[Study, ...]  # the SR answers, written like any study's files
    events: tuple[AuditEvent, ...]  # the requests


def _ae_titles(site: Site) -> list[str]:
    return [s.ae_title for s in site.stations if s.ae_title]


def _live_all_along(site: Site, first: date, period: Period) -> bool:
    return site.live_from is not None and site.live_from <= first and (site.live_until or period.end) >= period.end


def plan_pilot(sites: list[Site], studies: list[Study], events: list[AuditEvent], period: Period, rng: random.Random):
    """The pilot, or None when the corpus has no two establishments to pair."""
    first = add_months(period.start, max(period.months - 2, 0))
    pair = [s for s in sites if s.establishment is not None and _ae_titles(s) and _live_all_along(s, first, period)]
    if len(pair) < 2:
        return None
    a, b = pair[0], pair[1]
    deleted = {s.uid for e in events if e.event_id == "110105" for s in e.studies}
    reports: list[Study] = []
    requests: list[AuditEvent] = []
    month = first
    while month < period.end:
        for requester, responder, day, clock, delay in _script(month, add_months(month, 1), rng, a, b):
            asked = paris_instant(day, clock)
            owned = [
                s
                for s in studies
                if s.site is requester and not s.audit_only and s.uid not in deleted and s.received[-1] < asked
            ]
            if not owned:
                continue
            study = owned[-1 - rng.randrange(min(5, len(owned)))]
            host = requester.archive_host
            ae = rng.choice(_ae_titles(responder))
            participants = (
                Participant("RSF_ARCHIVE", None, True, HOST_ADDRESS.get(host), SOURCE),
                Participant(ae, None, False, f"{responder.subnet}.9", DESTINATION),
            )
            study_object = StudyObject(study.uid, study.sop_class_uid, study.instances, study.accession)
            requests.append(AuditEvent(round_ms(asked), host, "110104", "R", 0, None, participants, (study_object,)))
            if delay is not None and asked + delay < period.end_utc - timedelta(minutes=10):
                reports.append(_report(study, responder, ae, asked + delay, len(reports)))
        month = add_months(month, 1)
    return Pilot((a, b), first, tuple(reports), tuple(requests))


def _script(start: date, end: date, rng: random.Random, a: Site, b: Site):
    """(requester, responder, Paris day, Paris time, delay of the answer or None) for one month."""
    days = [start + timedelta(days=k) for k in range((end - start).days)]
    french = holidays.France(years={d.year for d in days})
    working = [d for d in days if d.weekday() < 5 and d not in french]
    sundays = [d for d in days if d.weekday() == 6]
    feast = [d for d in days if d.weekday() < 5 and d in french]
    minutes = timedelta(minutes=1)
    script = [
        (a, b, working[2], time(10, rng.randint(0, 59)), rng.randint(20, 180) * minutes),
        (a, b, working[5], time(14, rng.randint(0, 59)), rng.randint(30, 300) * minutes),
        (b, a, working[7], time(11, rng.randint(0, 59)), rng.randint(20, 240) * minutes),
        (a, b, working[9], time(22, rng.randint(0, 59)), rng.randint(60, 480) * minutes),  # a weekday night
        (b, a, sundays[1], time(15, rng.randint(0, 59)), rng.randint(60, 360) * minutes),  # a Sunday
        (a, b, working[11], time(9, rng.randint(0, 59)), timedelta(hours=26)),  # answered too late
        (b, a, working[13], time(16, rng.randint(0, 59)), None),  # never answered
    ]
    if feast:
        script.append((a, b, feast[0], time(10, rng.randint(0, 59)), rng.randint(60, 240) * minutes))
    return script


def _report(study: Study, responder: Site, ae_title: str, at: datetime, k: int) -> Study:
    station = next(s for s in responder.stations if s.ae_title == ae_title)
    return replace(
        study,
        station=replace(station, modality="SR"),
        modality="SR",
        sop_class_uid=SR_SOP_CLASS,
        series=(Series(f"{study.uid}.99{k}", 99, 1),),
        received=(round_ms(at),),
        number=900000 + k,
        description="Avis radiologique (télé-avis)",
        meta_ae=True,
    )


def write_pairs(contracts_dir: Path, pilot: Pilot | None) -> Path:
    path = Path(contracts_dir) / PAIRS_PATH
    rows = ["requester,responder,from,to"]
    if pilot is not None:
        a, b = (s.establishment.establishment_id for s in pilot.sites)
        rows += [f"{a},{b},{pilot.first_day},", f"{b},{a},{pilot.first_day},"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8", newline="\n")
    return path
