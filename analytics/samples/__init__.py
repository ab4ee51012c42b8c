"""A deterministic sample corpus: what a year of the regional archive looks like, small enough to keep in git.

`generate_corpus` writes a ready-to-run configuration (`sansfilm.toml`), the establishment registry
(`contracts/establishments.csv`), DICOM Part-10 files (`dicom/`) whose mtimes are their reception times, the list of
those times (`reception_times.csv`, since git does not keep mtimes) and the platform's audit logs (`audit/`), with
the tele-opinion pilot (its pairs file, requests and SR answers) and the community portal's traffic. The same
arguments give byte-identical files and identical mtimes: every draw comes from `random.Random` streams seeded from
`seed`, nothing reads the clock. `restore_reception_times` puts the mtimes back after a checkout.

Modules: `registry` (establishments and their equipment), `plan` (studies), `dicom` (files), `events` (audit
events), `opinions` (the tele-opinion pilot), `portal` (community doctors), `audit` (syslog files), `clock` and
`vocabulary` (shared facts).
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from analytics.billing.revision import waits_for_index
from analytics.billing.tariff import Tariff, load_tariff
from analytics.periods import Month
from analytics.samples.audit import write_audit
from analytics.samples.clock import Period, parse_start
from analytics.samples.dicom import WrittenFile, write_study
from analytics.samples.events import plan_events
from analytics.samples.opinions import plan_pilot, write_pairs
from analytics.samples.plan import plan_studies
from analytics.samples.portal import plan_portal
from analytics.samples.proposals import write_proposals
from analytics.samples.registry import build_sites, write_registry
from analytics.samples.service_levels import write_service_levels
from analytics.samples.tariff import write_commitments, write_contract_terms

__all__ = ["CorpusPlan", "CorpusSummary", "generate_corpus", "plan_corpus", "restore_reception_times"]

RECEPTION_TIMES = "reception_times.csv"
REGISTRY_PATH = "contracts/establishments.csv"
CONFIG_NAME = "sansfilm.toml"


@dataclass(frozen=True, slots=True)
class CorpusSummary:
    out: Path
    establishments: int
    studies: int  # studies with files under dicom/ (audit-only studies are not counted)
    dicom_files: int
    audit_files: int
    audit_events: int  # syslog records
    bytes: int  # every file written, all included
    months: tuple[Month, ...]  # the corpus's calendar months (Paris)
    tariff: Tariff  # its framework agreement's terms, as written (contracts/framework.yaml, price_index.csv)

    @property
    def agreement(self) -> tuple[date, date]:
        """The agreement's valid_from and valid_to."""
        return self.tariff.valid_from, self.tariff.valid_to

    @property
    def unbilled_months(self) -> tuple[Month, ...]:
        """The corpus's months the agreement does not cover: metered, never billed."""
        return tuple(m for m in self.months if not self.tariff.covers(m))

    @property
    def index_pending_months(self) -> tuple[Month, ...]:
        """The months it covers whose price revision needs an index value contracts/price_index.csv does not list:
        bill previews them at provisional prices and refuses to issue them until the value is added."""
        return tuple(m for m in self.months if self.tariff.covers(m) and waits_for_index(self.tariff, m))


@dataclass(frozen=True, slots=True)
class CorpusPlan:
    """What a corpus holds before it is written: the same arguments give the same plan (tests recompute figures from
    it, independently of the warehouse)."""

    period: Period
    sites: list
    studies: list
    events: list  # audit events, sorted by host then time
    pilot: object  # analytics.samples.opinions.Pilot, or None
    portal: list  # the community portal's audit events, sorted by host then time


def plan_corpus(
    *, establishments: int = 12, months: int = 12, start: str = "2012-01", seed: int = 2010, volume_scale: float = 1.0
) -> CorpusPlan:
    period = Period(parse_start(start), months)
    sites = build_sites(establishments, period, random.Random(f"{seed}:registry"))
    studies = plan_studies(sites, period, random.Random(f"{seed}:plan"), seed=seed, volume_scale=volume_scale)
    events = plan_events(sites, studies, period, random.Random(f"{seed}:events"))
    pilot = plan_pilot(sites, studies, events, period, random.Random(f"{seed}:opinions"))
    portal = plan_portal(sites, studies, events, period, random.Random(f"{seed}:portal"))
    return CorpusPlan(period, sites, studies, events, pilot, portal)


def generate_corpus(
    out: Path,
    *,
    establishments: int = 12,
    months: int = 12,
    start: str = "2012-01",
    seed: int = 2010,
    volume_scale: float = 1.0,
    image_side: int = 8,
) -> CorpusSummary:
    """Write a corpus into `out`. Refuses (ValueError) to add to a corpus already there, so two never mix."""
    out = Path(out)
    _check_arguments(establishments, months, volume_scale, image_side)
    for folder in ("dicom", "audit"):
        if _has_files(out / folder):
            raise ValueError(f"{out / folder} already contains files: generate the sample corpus into an empty folder")
    out.mkdir(parents=True, exist_ok=True)

    plan = plan_corpus(establishments=establishments, months=months, start=start, seed=seed, volume_scale=volume_scale)
    period, sites, studies, events, pilot = plan.period, plan.sites, plan.studies, plan.events, plan.pilot

    total = 0
    config = out / CONFIG_NAME
    config.write_text(_config_text(seed, establishments, months, start), encoding="utf-8")
    total += config.stat().st_size
    registry = out / REGISTRY_PATH
    write_registry(registry, sites)
    total += registry.stat().st_size
    total += sum(path.stat().st_size for path in write_contract_terms(registry.parent))
    total += write_service_levels(registry.parent).stat().st_size
    total += sum(path.stat().st_size for path in write_proposals(registry.parent))
    committed = [(s.establishment.establishment_id, s.offer, s.daily_studies) for s in sites if s.establishment]
    total += write_commitments(registry.parent, committed).stat().st_size
    total += write_pairs(registry.parent, pilot).stat().st_size

    pixels = random.Random(f"{seed}:pixels")
    files: list[WrittenFile] = []
    written_studies = 0
    for study in [*studies, *(pilot.reports if pilot else ())]:
        if study.audit_only:
            continue
        files.extend(write_study(out, study, pixels, image_side))
        written_studies += 1
    total += sum(f.size for f in files)
    total += _write_reception_times(out / RECEPTION_TIMES, files)

    extras = [(plan.portal, random.Random(f"{seed}:portal-audit"))]
    if pilot is not None:
        extras.append((sorted(pilot.events, key=lambda e: (e.host, e.at)), random.Random(f"{seed}:opinions-audit")))
    audit_files = write_audit(out, events, period, random.Random(f"{seed}:audit"), extras)
    total += sum(f.size for f in audit_files)
    return CorpusSummary(
        out=out,
        establishments=establishments,
        studies=written_studies,
        dicom_files=len(files),
        audit_files=len(audit_files),
        audit_events=sum(f.records for f in audit_files),
        bytes=total,
        months=tuple(period.calendar_months()),
        tariff=load_tariff(registry.parent),
    )


def restore_reception_times(corpus_dir: Path) -> int:
    """Set each listed file's mtime back to its reception time (after a git checkout); returns how many were set.

    Files listed but missing are skipped: a test may have removed some.
    """
    corpus_dir = Path(corpus_dir)
    touched = 0
    with (corpus_dir / RECEPTION_TIMES).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            path = corpus_dir / row["path"]
            mtime_ns = int(row["mtime_ns"])
            try:
                os.utime(path, ns=(mtime_ns, mtime_ns))
            except FileNotFoundError:
                continue
            touched += 1
    return touched


def _write_reception_times(path: Path, files: list[WrittenFile]) -> int:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("path", "mtime_ns"))
        for item in sorted(files, key=lambda f: f.path):
            writer.writerow((item.path, item.mtime_ns))
    return path.stat().st_size


def _config_text(seed: int, establishments: int, months: int, start: str) -> str:
    made = f"seed {seed}, {establishments} establishments, {months} months from {start}"
    return f"""\
# Sample corpus written by `sansfilm samples` ({made}).
[warehouse]
path = "warehouse/sansfilm.duckdb"
[lake]
root = "lake"
[ledger]
url = "sqlite:///ledger.sqlite"
[contracts]
dir = "contracts"
[archive]
ae_titles = ["RSF_ARCHIVE"]
[portal]
ae_titles = ["PORTAIL_VILLE"]
[privacy]
allow_development_key = true
[[sources]]
name = "archive-files"
kind = "dicom_files"
path = "dicom"
[[sources]]
name = "audit"
kind = "audit_syslog"
path = "audit"
"""


def _check_arguments(establishments: int, months: int, volume_scale: float, image_side: int) -> None:
    if establishments < 1:
        raise ValueError("establishments must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")
    if not volume_scale > 0:
        raise ValueError("volume_scale must be positive")
    if not 1 <= image_side <= 4096:
        raise ValueError("image_side must be between 1 and 4096 pixels")


def _has_files(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    return any(os.path.isfile(os.path.join(top, name)) for top, _, names in os.walk(folder) for name in names)
