"""The community portal of the sample: doctors in town who open the archive's studies through `PORTAIL_VILLE`.

Over the last six months of the period (the whole period when shorter), each département has a pool of practitioners
(RPPS numbers drawn here: 11 digits starting 10, never real ones) and a growing share of them opens, each month, one
or two studies received at a live establishment of their département. Each opening is a 110103 (Read) on the
platform viewer whose requesting user is the practitioner and whose other participant is the portal; the RPPS number
is written in each of the three forms senders use (bare, `RPPS:` prefix, IdNat_PS `8` + RPPS). Now and then an
opening fails (outcome 4: not metered), a practitioner of another département looks at a study (distinct
practitioners are counted per establishment owning the study), and a portal service account with no RPPS number opens
a study (a portal view with no practitioner). Drawn from their own random stream: the rest of the corpus is
unchanged.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, time, timedelta

from analytics.samples.clock import Period, add_months, paris_instant, round_ms
from analytics.samples.events import PORTAL, VIEWER_HOST, AuditEvent, Participant, PatientObject, StudyObject
from analytics.samples.plan import UID_ROOT, Study
from analytics.samples.registry import Site

PORTAL_ADDRESS = "10.1.0.41"
PORTAL_MONTHS = 6
POOL_PER_DEPARTEMENT = 12
SERVICE_ACCOUNT = "svc-portail-ville"  # the portal's own account: no RPPS number, no practitioner


def plan_portal(sites: list[Site], studies: list[Study], events: list[AuditEvent], period: Period, rng: random.Random):
    """The portal's audit events, sorted by host then time (all on the viewer host)."""
    first = add_months(period.start, max(period.months - PORTAL_MONTHS, 0))
    deleted = {s.uid: e.at for e in events if e.event_id == "110105" for s in e.studies}
    by_departement: dict[str, list[Study]] = defaultdict(list)
    for study in sorted(studies, key=lambda s: (s.received[-1], s.uid)):
        if study.site.establishment is not None and not study.audit_only:
            by_departement[study.site.establishment.departement].append(study)
    pools = {d: [f"10{rng.randrange(10**9):09d}" for _ in range(POOL_PER_DEPARTEMENT)] for d in sorted(by_departement)}
    planned: list[AuditEvent] = []
    months = [m for m in period.month_starts() if m >= first]
    for k, month in enumerate(months):
        end = add_months(month, 1)
        share = 0.2 + 0.65 * (k + 1) / len(months)  # adoption grows month after month
        for departement, pool in pools.items():
            for rpps in pool:
                if rng.random() >= share:
                    continue
                for _ in range(rng.randint(1, 2)):
                    elsewhere = rng.random() < 0.05  # a doctor near a border opens a neighbour's study
                    departement_studies = by_departement[rng.choice(sorted(pools)) if elsewhere else departement]
                    event = _opening(rng, month, end, departement_studies, deleted, _user_id(rpps, rng))
                    if event is not None:
                        planned.append(event)
        service = _opening(rng, month, end, [s for d in sorted(by_departement) for s in by_departement[d]], deleted)
        if service is not None:
            planned.append(service)
    return sorted(planned, key=lambda e: (e.host, e.at))


def _user_id(rpps: str, rng: random.Random) -> str:
    return rng.choice((rpps, f"RPPS:{rpps}", f"8{rpps}"))


def _opening(
    rng: random.Random,
    month: date,
    end: date,
    studies: list[Study],
    deleted: dict[str, object],
    user_id: str = SERVICE_ACCOUNT,
) -> AuditEvent | None:
    day = month + timedelta(days=rng.randrange((end - month).days))
    at = round_ms(paris_instant(day, time(rng.randint(7, 21), rng.randint(0, 59), rng.randint(0, 59))))
    received = [
        s
        for s in studies
        if s.received[-1] + timedelta(hours=1) < at
        and s.uid not in deleted
        and s.site.live_from is not None
        and s.site.live_from <= day
        and (s.site.live_until is None or day <= s.site.live_until)
    ]
    if not received:
        return None
    study = received[-1 - rng.randrange(min(40, len(received)))]  # a recent study
    participants = (
        Participant(user_id, None, True, f"192.168.{rng.randint(0, 255)}.{rng.randint(2, 254)}"),
        Participant(PORTAL, None, False, PORTAL_ADDRESS),
    )
    patient = PatientObject(study.patient.patient_id, study.patient.name, f"{UID_ROOT}.2.{study.site.index + 1}")
    study_object = StudyObject(study.uid, study.sop_class_uid, study.instances, study.accession)
    outcome = 4 if rng.random() < 0.03 else 0
    return AuditEvent(at, VIEWER_HOST, "110103", "R", outcome, None, participants, (study_object,), (patient,))
