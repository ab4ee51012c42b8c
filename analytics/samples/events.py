"""The audit-event plan: what the platform's nodes record about the planned studies, as typed events.

Every study is received (110104, Source = the sending AE or an institution-only gateway, Destination =
RSF_ARCHIVE) within seconds of its last instance; around that, the life of a shared archive: imports from CDs,
viewers reading (110103, often after a login 110114), queries and retrievals back to a site or a workstation,
shares with another establishment or the city-doctor portal (110106, 110104), mid-month deletions (110105),
restarts (110100), and a few RIS, network, security and audit-log events. Some fail (outcome 4, 8, 12), some name
two or three studies (priors), and a few studies exist only here (`Study.audit_only`). Nothing leaves the period.
How the events are written (XML style, time zone, BOM, files) is `audit.py`'s business.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from analytics.samples.clock import Period, in_paris, paris_instant, round_ms
from analytics.samples.plan import UID_ROOT, Study
from analytics.samples.registry import Site

ARCHIVE_AE = "RSF_ARCHIVE"
PORTAL = "PORTAIL_VILLE"
SOURCE, DESTINATION, APPLICATION, LAUNCHER, SOURCE_MEDIA = "110153", "110152", "110150", "110151", "110155"
VIEWER_HOST, RIS_HOST = "rsf-viewer-01", "rsf-ris-01"
HOST_ADDRESSES = {
    "rsf-archive-01": "10.1.0.11",
    "rsf-archive-02": "10.1.0.12",
    VIEWER_HOST: "10.1.0.21",
    RIS_HOST: "10.1.0.31",
}
AUDIT_SOURCE_IDS = {VIEWER_HOST: "RSF_VIEWER", RIS_HOST: "RSF_RIS"}  # archive nodes: RSF_ARCHIVE
RARE_EVENTS = ("110101", "110102", "110108", "110109", "110110", "110111", "110113")


@dataclass(frozen=True, slots=True)
class Participant:
    user_id: str
    alternative_user_id: str | None = None
    is_requestor: bool = False
    network_access_point: str | None = None  # an IP address (NetworkAccessPointTypeCode 2)
    role: str | None = None  # RoleIDCode


@dataclass(frozen=True, slots=True)
class StudyObject:
    uid: str
    sop_class_uid: str | None = None  # None: the event names the study without describing instances
    instances: int = 0
    accession: str | None = None


@dataclass(frozen=True, slots=True)
class PatientObject:
    patient_id: str
    name: str
    issuer: str  # OID of the site's patient-ID domain (for HL7 CX forms)


@dataclass(frozen=True, slots=True)
class OtherObject:
    """A participant object that is neither study nor patient: a query, an audit log."""

    object_id: str
    type_code: str
    role_code: str
    id_type: tuple[str, str, str]  # code, code system, text
    query: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime  # EventDateTime, UTC
    host: str
    event_id: str
    action: str
    outcome: int = 0
    type_code: str | None = None
    participants: tuple[Participant, ...] = ()
    studies: tuple[StudyObject, ...] = ()
    patients: tuple[PatientObject, ...] = ()
    others: tuple[OtherObject, ...] = ()

    @property
    def audit_source_id(self) -> str:
        return AUDIT_SOURCE_IDS.get(self.host, ARCHIVE_AE)


def plan_events(sites: list[Site], studies: list[Study], period: Period, rng: random.Random) -> list[AuditEvent]:
    """All events, sorted by host then time (creation order breaks ties)."""
    builder = _Builder(sites, studies, period, rng)
    builder.run()
    order = sorted(range(len(builder.events)), key=lambda i: (builder.events[i].host, builder.events[i].at, i))
    return [builder.events[i] for i in order]


class _Builder:
    def __init__(self, sites: list[Site], studies: list[Study], period: Period, rng: random.Random) -> None:
        self.sites, self.period, self.rng = sites, period, rng
        self.studies = sorted(studies, key=lambda s: (s.received[-1], s.uid))
        self.events: list[AuditEvent] = []
        self.receipt_at: dict[str, datetime] = {}
        self.deleted_at: dict[str, datetime] = {}
        self.by_patient: dict[tuple[int, str], list[Study]] = defaultdict(list)
        self.alerts = 0
        self.limit = period.end_utc - timedelta(seconds=2)  # room for the syslog record's own timestamp

    def run(self) -> None:
        rng = self.rng
        for study in self.studies:
            self.receipt_at[study.uid] = round_ms(study.received[-1] + timedelta(seconds=rng.uniform(0.2, 45)))
            self.by_patient[(study.site.index, study.patient.patient_id)].append(study)
        self.deletions()
        for study in self.studies:
            self.study_events(study)
        self.restarts()
        for event_id in RARE_EVENTS:
            for _ in range(max(1, round(self.period.months * 0.4))):
                self.rare(event_id)

    # --- helpers ------------------------------------------------------------------------------------------------

    def emit(self, event: AuditEvent) -> None:
        """Keep an event if it is inside the period and names no study already deleted."""
        if not self.period.start_utc <= event.at < self.limit:
            return
        if event.event_id != "110105" and any(self.deleted_at.get(s.uid, self.limit) < event.at for s in event.studies):
            return
        self.events.append(event)

    def later(self, moment: datetime, low_s: float, high_s: float) -> datetime:
        return round_ms(moment + timedelta(seconds=self.rng.uniform(low_s, high_s)))

    def ae(self, ae_title: str, hostname: str, address: str, role: str | None, requestor: bool) -> Participant:
        """An AE as UserID, or a host/process UserID with the AE in AlternativeUserID: senders differ."""
        if self.rng.random() < 0.5:
            return Participant(ae_title, None, requestor, address, role)
        return Participant(hostname, f"AE={ae_title}", requestor, address, role)

    def archive(self, host: str, role: str | None, requestor: bool = False) -> Participant:
        return self.ae(ARCHIVE_AE, f"rsf-archive@{host}", HOST_ADDRESSES[host], role, requestor)

    def sender(self, study: Study) -> Participant:
        site, station = study.site, study.station
        address = f"{site.subnet}.{10 + site.stations.index(station)}"
        if station.ae_title:
            hostname = f"{station.station_name.lower()}.{site.code.lower()}.local"
            return self.ae(station.ae_title, hostname, address, SOURCE, True)
        return Participant(site.gateway_user or site.code, None, True, address, SOURCE)  # institution-only gateway

    def site_node(self, site: Site, role: str, requestor: bool) -> Participant:
        """Where a site receives images back: its AE (or gateway), or now and then a workstation."""
        if site.other_aes and self.rng.random() < 0.3:
            workstation = self.rng.choice(site.other_aes)
            address = f"{site.subnet}.{100 + site.other_aes.index(workstation)}"
            return self.ae(workstation, f"{workstation.lower()}.{site.code.lower()}.local", address, role, requestor)
        titles = [s.ae_title for s in site.stations if s.ae_title]
        if not titles:
            return Participant(site.gateway_user or site.code, None, requestor, f"{site.subnet}.9", role)
        ae_title = self.rng.choice(titles)
        return self.ae(ae_title, f"{ae_title.lower()}.{site.code.lower()}.local", f"{site.subnet}.9", role, requestor)

    def user(self, site: Site) -> Participant:
        address = f"{site.subnet}.{self.rng.randint(100, 199)}"
        return Participant(self.rng.choice(site.users), None, True, address)

    def record(
        self,
        at: datetime,
        host: str,
        event_id: str,
        action: str,
        participants: tuple[Participant, ...],
        studies: Sequence[Study] = (),
        *,
        outcome: int = 0,
        type_code: str | None = None,
        others: tuple[OtherObject, ...] = (),
        described: bool = True,
        instances: int | None = None,
    ) -> None:
        """Emit one event naming these studies and their patients (`instances` overrides a single study's count)."""
        study_objects = tuple(
            StudyObject(
                s.uid,
                s.sop_class_uid if described else None,
                (instances if instances is not None else s.instances) if described else 0,
                s.accession,
            )
            for s in studies
        )
        patients = {(s.site.index, s.patient.patient_id): s for s in studies}
        patient_objects = tuple(
            PatientObject(s.patient.patient_id, s.patient.name, f"{UID_ROOT}.2.{s.site.index + 1}")
            for s in patients.values()
        )
        self.emit(
            AuditEvent(
                at, host, event_id, action, outcome, type_code, participants, study_objects, patient_objects, others
            )
        )

    def priors(self, study: Study, at: datetime) -> list[Study]:
        """Up to two earlier studies of the same patient at the same site, already received."""
        earlier = [
            s
            for s in self.by_patient[(study.site.index, study.patient.patient_id)]
            if s.uid != study.uid and self.receipt_at[s.uid] < at
        ]
        return earlier[-2:]

    def site_active(self, site: Site, at: datetime) -> bool:
        if site.live_from is None or at < paris_instant(site.live_from, time(0)):
            return False
        until = site.live_until or self.period.end
        return at < paris_instant(until + timedelta(days=1), time(0))

    # --- per study ----------------------------------------------------------------------------------------------

    def deletions(self) -> None:
        """A few studies deleted mid-month (day 10 to 20), sometimes two in one event."""
        registered = [s for s in self.studies if s.site.establishment is not None]
        if not registered:
            return
        rng = self.rng
        for study in rng.sample(registered, max(1, round(len(registered) * 0.01))):
            if study.uid in self.deleted_at:
                continue
            receipt = self.receipt_at[study.uid]
            local_day = in_paris(receipt).date()
            month_start = local_day.replace(day=1)
            if local_day.day >= 10:
                month_start = (month_start + timedelta(days=32)).replace(day=1)
            day = month_start.replace(day=rng.randint(10, 20))
            at = self.later(paris_instant(day, time(rng.randint(10, 16), rng.randint(0, 59))), 0, 59)
            if at <= receipt or at >= self.limit:
                continue
            group = [study]
            same_site = [
                s
                for s in registered
                if s.site is study.site
                and s.uid not in self.deleted_at
                and s.uid != study.uid
                and self.receipt_at[s.uid] < at
            ]
            if same_site and rng.random() < 0.3:
                group.append(rng.choice(same_site))
            if rng.random() < 0.5:
                requester = self.user(study.site)
            else:
                requester = Participant("svc-purge", None, True, "10.1.0.50")
            host = study.site.archive_host
            self.record(at, host, "110105", "D", (requester, self.archive(host, None)), group)
            for s in group:
                self.deleted_at[s.uid] = at

    def study_events(self, study: Study) -> None:
        rng = self.rng
        site, host = study.site, study.site.archive_host
        receipt = self.receipt_at[study.uid]
        if rng.random() < 0.02:  # a first attempt fails part-way, the modality sends again
            first = round_ms(study.received[0] - timedelta(seconds=rng.uniform(60, 900)))
            self.record(
                first,
                host,
                "110104",
                "C",
                (self.sender(study), self.archive(host, DESTINATION)),
                [study],
                outcome=8,
                instances=rng.randint(1, max(1, study.instances - 1)),
            )
        if site.users and site.offer != "VNA" and rng.random() < 0.03:  # a CD brought by the patient, imported
            at = round_ms(study.received[0] - timedelta(seconds=rng.uniform(20, 120)))
            media = Participant("CD-R import", None, False, None, SOURCE_MEDIA)
            self.record(at, host, "110107", "C", (self.user(site), media, self.archive(host, DESTINATION)), [study])
        if len(study.series) > 1 and rng.random() < 0.05:  # one association per series: one receipt each
            position = 0
            for series in study.series:
                position += series.instances
                at = self.later(study.received[position - 1], 0.2, 5)
                participants = (self.sender(study), self.archive(host, DESTINATION))
                self.record(at, host, "110104", "C", participants, [study], instances=series.instances)
        else:
            self.record(receipt, host, "110104", "C", (self.sender(study), self.archive(host, DESTINATION)), [study])
        if site.establishment is None:
            return
        if site.offer == "VNA":  # VNA sites read in their own PACS: the platform viewer is rarely opened
            views = int(rng.random() < 0.1)
        else:
            views = rng.choices((0, 1, 2, 3, 4), weights=(15, 35, 30, 15, 5))[0]
        for _ in range(views):
            self.view(study, receipt)
        if rng.random() < (0.35 if site.offer == "VNA" else 0.12):
            self.retrieval(study, receipt)
        if rng.random() < 0.08:
            self.share(study, receipt)

    def view(self, study: Study, receipt: datetime) -> None:
        rng = self.rng
        site = study.site
        at = self.later(receipt, 360, 8 * 3600) if rng.random() < 0.6 else self.later(receipt, 86400, 30 * 86400)
        if not self.site_active(site, at):
            return
        user = self.user(site)
        if rng.random() < 0.35:
            login = round_ms(at - timedelta(seconds=rng.uniform(5, 300)))
            viewer = Participant("rsf-viewer", None, False, HOST_ADDRESSES[VIEWER_HOST])
            if rng.random() < 0.05:  # mistyped password first
                failed = round_ms(login - timedelta(seconds=rng.uniform(5, 40)))
                self.record(failed, VIEWER_HOST, "110114", "E", (user, viewer), outcome=4, type_code="110122")
            self.record(login, VIEWER_HOST, "110114", "E", (user, viewer), type_code="110122")
            if rng.random() < 0.2:
                self.record(self.later(at, 300, 3600), VIEWER_HOST, "110114", "E", (user, viewer), type_code="110123")
        group = [study] + (self.priors(study, at) if rng.random() < 0.5 else [])
        self.record(at, VIEWER_HOST, "110103", "R", (user,), group)

    def retrieval(self, study: Study, receipt: datetime) -> None:
        rng = self.rng
        site, host = study.site, study.site.archive_host
        at = self.later(receipt, 3600, 60 * 86400)
        if not self.site_active(site, at):
            return
        destination = self.site_node(site, DESTINATION, True)
        if rng.random() < 0.6:  # C-FIND before the C-MOVE: no study named, only the query
            query = OtherObject(
                "1.2.840.10008.5.1.4.1.2.2.1",
                "2",
                "3",
                ("110181", "DCM", "SOP Class UID"),
                query="CAgQAAAAAAAIAGAAAAAA",
            )
            querier = Participant(
                destination.user_id, destination.alternative_user_id, True, destination.network_access_point, SOURCE
            )
            asked = round_ms(at - timedelta(seconds=rng.uniform(2, 60)))
            self.record(asked, host, "110112", "E", (querier, self.archive(host, DESTINATION)), others=(query,))
        group = [study] + (self.priors(study, at) if rng.random() < 0.3 else [])
        participants = (self.archive(host, SOURCE), destination)
        if rng.random() < 0.1:
            self.record(round_ms(at - timedelta(seconds=1)), host, "110102", "E", participants, group)
        if rng.random() < 0.05:  # the destination was unreachable, retried a few minutes later
            self.record(at, host, "110104", "R", participants, group, outcome=rng.choice((4, 8, 12)))
            at = self.later(at, 120, 600)
        self.record(at, host, "110104", "R", participants, group)

    def share(self, study: Study, receipt: datetime) -> None:
        """Image sharing: an Export to another establishment or the city-doctor portal, or a push to another AE."""
        rng = self.rng
        site, host = study.site, study.site.archive_host
        at = self.later(receipt, 1800, 20 * 86400)
        if not self.site_active(site, at):
            return
        others = [
            s
            for s in self.sites
            if s.establishment is not None
            and s is not site
            and self.site_active(s, at)
            and any(st.ae_title for st in s.stations)
        ]
        if not others or rng.random() < 0.4:
            portal = Participant(PORTAL, None, False, "10.1.0.41", DESTINATION)
            participants = (self.user(site), self.archive(host, SOURCE), portal)
            self.record(at, host, "110106", "R", participants, [study], outcome=4 if rng.random() < 0.05 else 0)
            return
        destination = self.site_node(rng.choice(others), DESTINATION, False)
        if rng.random() < 0.5:
            self.record(at, host, "110106", "R", (self.user(site), self.archive(host, SOURCE), destination), [study])
        else:
            self.record(at, host, "110104", "R", (self.archive(host, SOURCE, True), destination), [study])

    # --- platform events ----------------------------------------------------------------------------------------

    def restarts(self) -> None:
        """Each application is stopped and started again now and then (maintenance nights)."""
        rng = self.rng
        apps = {
            "rsf-archive-01": "rsf-archive",
            "rsf-archive-02": "rsf-archive",
            VIEWER_HOST: "rsf-viewer",
            RIS_HOST: "rsf-ris",
        }
        for host, app in apps.items():
            for _ in range(max(1, round(self.period.days / 75))):
                day = self.period.start + timedelta(days=rng.randrange(self.period.days))
                stop = paris_instant(day, time(rng.randint(1, 4), rng.randint(0, 59), rng.randint(0, 59)))
                start = self.later(stop, 60, 600)
                launcher = Participant("svc-exploitation", None, True, "10.1.0.50", LAUNCHER)
                application = Participant(app, None, False, HOST_ADDRESSES[host], APPLICATION)
                self.record(stop, host, "110100", "E", (application, launcher), type_code="110121")
                self.record(start, host, "110100", "E", (application, launcher), type_code="110120")

    def rare(self, event_id: str) -> None:
        rng = self.rng
        candidates = [s for s in self.studies if s.site.establishment is not None]
        day = self.period.start + timedelta(days=rng.randrange(self.period.days))
        at = self.later(paris_instant(day, time(rng.randint(8, 18))), 0, 3599)
        if event_id in ("110109", "110110", "110111"):  # RIS: orders, patient and procedure records
            ris = [s for s in candidates if s.site.offer == "PACS_RIS"]
            if not ris:
                return
            study = rng.choice(ris)
            participants = (self.user(study.site), Participant("rsf-ris", None, False, HOST_ADDRESSES[RIS_HOST]))
            if event_id == "110109":  # the order precedes the exam; the RIS assigns its StudyInstanceUID
                at = round_ms(study.started - timedelta(hours=rng.uniform(1, 48)))
                self.record(at, RIS_HOST, event_id, "C", participants, [study], described=False)
                return
            at = self.later(self.receipt_at[study.uid], 600, 5 * 86400)
            if event_id == "110111":
                self.record(at, RIS_HOST, event_id, "U", participants, [study], described=False)
            else:  # a patient record names the patient only
                patient = PatientObject(
                    study.patient.patient_id, study.patient.name, f"{UID_ROOT}.2.{study.site.index + 1}"
                )
                self.emit(AuditEvent(at, RIS_HOST, event_id, "U", 0, None, participants, (), (patient,)))
        elif event_id == "110102" and candidates:
            study = rng.choice(candidates)
            at = self.later(self.receipt_at[study.uid], 3600, 10 * 86400)
            host = study.site.archive_host
            participants = (self.archive(host, SOURCE), self.site_node(study.site, DESTINATION, True))
            self.record(at, host, event_id, "E", participants, [study])
        elif event_id == "110108":
            site = rng.choice([s for s in self.sites if s.establishment is not None])
            node = Participant(
                f"poste-{rng.randint(1, 40):02d}.{site.code.lower()}.local",
                None,
                False,
                f"{site.subnet}.{rng.randint(100, 199)}",
            )
            self.record(at, "rsf-archive-01", event_id, "E", (node,), type_code=rng.choice(("110124", "110125")))
        elif event_id == "110113":
            address = f"10.99.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            intruder = Participant(address, None, True, address)
            host = rng.choice(("rsf-archive-01", "rsf-archive-02"))
            outcome = (12, 8, 4)[self.alerts % 3]  # a major failure first, so that every outcome code shows up
            self.alerts += 1
            self.record(
                at, host, event_id, "E", (self.archive(host, None), intruder), outcome=outcome, type_code="110126"
            )
        elif event_id == "110101":
            auditor = Participant("auditeur@rsf", None, True, "10.1.0.51")
            log = OtherObject("file:///var/log/rsf/audit/archive.log", "2", "13", ("12", "RFC-3881", "URI"))
            self.record(at, "rsf-archive-01", event_id, "R", (auditor,), others=(log,))
