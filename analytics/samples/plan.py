"""The activity plan: which studies happen where and when, with which patient, series and instances, and when
each instance reaches the archive.

Volumes follow the shapes the dashboards must show: big sites make more studies than clinics, weekdays more than
weekends (and holidays), July and August about 30 % fewer, nothing before a site's go-live or after its end date.
Every draw comes from one `random.Random` in a fixed order, so the same arguments give the same plan.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from analytics.samples.clock import Period, is_holiday, paris_instant, round_ms
from analytics.samples.registry import Site, Station
from analytics.samples.vocabulary import FAMILY_NAMES, FEMALE_NAMES, MALE_NAMES, MODALITIES, VENDORS, fit_charset

UID_ROOT = "1.2.250.1.999"  # 1.2.250 is France's ISO arc; .1.999 marks these UIDs as sample data
RETURNING_PATIENT = 0.15  # share of studies for a patient the site has already imaged
AUDIT_ONLY_SHARE = 0.01  # studies whose receipt was audited but whose files never reached this corpus
NO_META_AE_SHARE = 0.02  # files written without SourceApplicationEntityTitle (re-sent by a script)
LATE_SENDING_SHARE = 0.04  # modality offline: images sent hours later
_PERIOD_MARGIN = timedelta(minutes=10)  # the last instance arrives at least this long before the period ends


@dataclass(frozen=True, slots=True)
class Patient:
    patient_id: str
    name: str  # DICOM PN as the site writes it (already fitted to its character set)
    birth_date: str  # YYYYMMDD
    sex: str  # M | F


@dataclass(frozen=True, slots=True)
class Series:
    uid: str
    number: int
    instances: int


@dataclass(frozen=True, slots=True)
class Study:
    uid: str
    site: Site
    station: Station
    patient: Patient
    modality: str
    sop_class_uid: str
    started: datetime  # UTC instant of StudyDate + StudyTime (Paris)
    study_date: str  # YYYYMMDD
    study_time: str  # as the vendor writes it
    accession: str
    description: str
    number: int  # per site, names the study folder
    series: tuple[Series, ...]
    received: tuple[datetime, ...]  # per instance, series order, UTC
    audit_only: bool = False
    meta_ae: bool = True  # the file meta carries SourceApplicationEntityTitle

    @property
    def instances(self) -> int:
        return len(self.received)

    @property
    def folder(self) -> str:
        return f"dicom/{self.site.folder}/{self.study_date}/ST{self.number:06d}"


def day_weight(day: date) -> float:
    """Relative activity of a day: weekday pattern, holidays, summer dip."""
    weekday = day.weekday()
    weight = 0.1 if weekday == 6 or is_holiday(day) else 0.25 if weekday == 5 else 1.0
    if day.month in (7, 8):
        weight *= 0.7
    return weight


def plan_studies(
    sites: list[Site], period: Period, rng: random.Random, *, seed: int, volume_scale: float
) -> list[Study]:
    """All studies of all sites, in site then time order."""
    planner = _Planner(period, rng, seed, volume_scale)
    studies: list[Study] = []
    for site in sites:
        site_studies = planner.site_studies(site)
        if not site_studies and site.establishment is None and site.live_from is not None:
            # The unregistered practice must show up even in a tiny corpus: one study mid-period.
            day = max(site.live_from, period.day_at(0.5))
            if day < period.end and (study := planner.study(site, day, weekend=False)) is not None:
                site_studies.append(study)
        studies.extend(site_studies)
    registered = [s for s in studies if s.site.establishment is not None]
    if len(registered) >= 10:
        chosen = rng.sample(range(len(registered)), max(1, round(len(registered) * AUDIT_ONLY_SHARE)))
        flagged = {registered[i].uid for i in chosen}
        studies = [replace(s, audit_only=True) if s.uid in flagged else s for s in studies]
    return studies


class _Planner:
    def __init__(self, period: Period, rng: random.Random, seed: int, volume_scale: float) -> None:
        self.period = period
        self.rng = rng
        self.uid_root = f"{UID_ROOT}.{abs(seed) % 10**8}.1"
        self.volume_scale = volume_scale
        self.patients: dict[int, list[Patient]] = {}
        self.patient_ids: set[tuple[int, str]] = set()
        self.numbers: dict[int, int] = {}

    def site_studies(self, site: Site) -> list[Study]:
        if site.live_from is None or not site.stations:
            return []
        first = max(site.live_from, self.period.start)
        last = min(site.live_until or self.period.end, self.period.end - timedelta(days=1))
        studies = []
        day = first
        while day <= last:
            weight = day_weight(day)
            for _ in range(_poisson(self.rng, site.daily_studies * weight)):
                study = self.study(site, day, weekend=weight < 0.5)
                if study is not None:
                    studies.append(study)
            day += timedelta(days=1)
        studies.sort(key=lambda s: (s.started, s.number))
        return studies

    def study(self, site: Site, day: date, *, weekend: bool) -> Study | None:
        rng = self.rng
        station = _pick_station(site, rng)
        modality = station.modality
        spec = MODALITIES[modality]
        vendor = VENDORS[station.vendor]
        if weekend or rng.random() < 0.15:  # on-call imaging: any hour
            seconds = rng.randrange(24 * 3600)
        else:
            seconds = rng.randrange(8 * 3600, 19 * 3600)
        clock = time(seconds // 3600, seconds // 60 % 60, seconds % 60, rng.randrange(1000) * 1000)
        started = paris_instant(day, clock)
        number = self.numbers[site.index] = self.numbers.get(site.index, 0) + 1
        study_uid = f"{self.uid_root}.{site.index + 1}.{number}"
        series = self._series(study_uid, modality)
        received = self._reception(site, modality, started, sum(s.instances for s in series))
        if received[-1] >= self.period.end_utc - _PERIOD_MARGIN:
            return None  # would arrive after the period: the study is simply not part of this corpus
        patient = self._patient(site, modality, day)
        return Study(
            uid=study_uid,
            site=site,
            station=station,
            patient=patient,
            modality=modality,
            sop_class_uid=spec.sop_class_uid,
            started=started,
            study_date=day.strftime("%Y%m%d"),
            study_time=_study_time(clock, vendor.study_time),
            accession=f"{site.code[:6]}{day:%y%m%d}{number % 10000:04d}",
            description=fit_charset(rng.choice(spec.descriptions), site.charset),
            number=number,
            series=series,
            received=received,
            meta_ae=station.ae_title is not None and rng.random() >= NO_META_AE_SHARE,
        )

    def _series(self, study_uid: str, modality: str) -> tuple[Series, ...]:
        spec = MODALITIES[modality]
        total = max(1, round(self.rng.randint(*spec.instances) * self.volume_scale))
        count = min(self.rng.randint(*spec.series), total)
        if modality in ("CR", "DX"):
            count = total  # one image per series, as radiography units do
        sizes = [1] * count
        for _ in range(total - count):
            sizes[self.rng.randrange(count)] += 1
        return tuple(Series(f"{study_uid}.{k + 1}", k + 1, n) for k, n in enumerate(sizes))

    def _reception(self, site: Site, modality: str, started: datetime, instances: int) -> tuple[datetime, ...]:
        """Exam duration, then a sending delay (forwarded in batches by VNA sites' own PACS, hours late if the
        modality was offline), then the instances one after the other."""
        rng = self.rng
        minutes = rng.uniform(*MODALITIES[modality].exam_minutes)
        if rng.random() < LATE_SENDING_SHARE:
            delay = rng.uniform(3600, 20 * 3600)
        elif site.offer == "VNA":
            delay = rng.uniform(600, 5400)
        else:
            delay = rng.uniform(30, 480)
        moment = started + timedelta(seconds=minutes * 60 + delay)
        received = []
        for _ in range(instances):
            moment += timedelta(milliseconds=rng.randint(50, 800))
            received.append(round_ms(moment))
        return tuple(received)

    def _patient(self, site: Site, modality: str, day: date) -> Patient:
        """A returning patient now and then (several studies at one site), else a new one."""
        rng = self.rng
        known = self.patients.setdefault(site.index, [])
        if known and rng.random() < RETURNING_PATIENT:
            patient = rng.choice(known)
            if modality != "MG" or patient.sex == "F":
                return patient
        sex = "F" if modality == "MG" or rng.random() < 0.52 else "M"
        given = rng.choice(FEMALE_NAMES if sex == "F" else MALE_NAMES)
        name = fit_charset(f"{rng.choice(FAMILY_NAMES)}^{given}", site.charset)
        age = rng.randint(40, 75) if modality == "MG" else rng.randint(0, 95)
        birth = date(max(day.year - age, 1900), rng.randint(1, 12), rng.randint(1, 28))
        digits = 8 if not site.patient_id_prefix else 7
        while True:
            patient_id = f"{site.patient_id_prefix}{rng.randrange(10 ** (digits - 1), 10**digits)}"
            if (site.index, patient_id) not in self.patient_ids:
                break
        self.patient_ids.add((site.index, patient_id))
        patient = Patient(patient_id, name, birth.strftime("%Y%m%d"), sex)
        known.append(patient)
        return patient


def _pick_station(site: Site, rng: random.Random) -> Station:
    weights = [MODALITIES[s.modality].weight for s in site.stations]
    return rng.choices(site.stations, weights=weights)[0]


def _study_time(clock: time, style: str) -> str:
    """DICOM TM as each vendor writes it (quirks: fractional seconds, shortened HHMM)."""
    if style == "minutes":
        return f"{clock:%H%M}"
    if style == "fraction":
        return f"{clock:%H%M%S}.{clock.microsecond:06d}"
    return f"{clock:%H%M%S}"


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small daily means used here."""
    if mean <= 0:
        return 0
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
