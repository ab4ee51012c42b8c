"""The sample establishments: the registry rows finance and the roll-out dashboards read, and, for each site, the
equipment and habits the generator needs (stations, character set, patient-ID format, viewer users).

The first twelve sites are written by hand so that the default corpus covers every case the pipeline must get
right: all eight départements and three offers, pilot sites live before the period, sites going live during it
(some late against plan), one not live by the end, one leaving mid-period, one recognisable by InstitutionName only,
one sending ASCII only, two sending UTF-8. More sites are generated from the same building blocks. A station of
an unregistered radiology practice sends images too: it has no registry row and must end up UNATTRIBUTED.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from analytics.registry import COLUMNS, ILE_DE_FRANCE, Establishment, luhn_check_digit
from analytics.samples.clock import Period, add_months
from analytics.samples.vocabulary import (
    COMMUNES,
    DAILY_STUDIES,
    FAMILY_NAMES,
    SAINTS,
    SECTOR,
    STAFF_INITIALS,
    VENDORS,
    ascii_fold,
    vendors_for,
)

UNROUTED_FOLDER = "unrouted"  # where the archive files objects from AE titles it has no route for


def registry_row(establishment: Establishment) -> list[str]:
    """One CSV row of contracts/establishments.csv, in the registry's column order."""
    return [_cell(getattr(establishment, column)) for column in COLUMNS]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return ";".join(value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Station:
    """A modality (or gateway) that sends images: what it writes in headers and the AE title it calls with."""

    modality: str
    vendor: str
    station_name: str
    ae_title: str | None  # None: the site is recognisable by InstitutionName only
    institution_name: str  # as sent, possibly a variant of a registry alias


@dataclass(frozen=True, slots=True)
class Site:
    index: int
    establishment: Establishment | None  # None for the unregistered practice
    code: str  # short, ASCII: folder-free identifier for users, hosts and accession numbers
    folder: str  # first level under dicom/
    charset: str | None  # SpecificCharacterSet; None = sends ASCII only, no tag
    daily_studies: float
    stations: tuple[Station, ...]
    patient_id_prefix: str
    file_naming: str  # "plain" IM000001 | "dcm" IM000001.dcm | "uid" <SOPInstanceUID>.dcm
    gateway_user: str | None  # audit UserID of the modality gateway when the site has no AE title
    users: tuple[str, ...]  # viewer accounts on the platform
    subnet: str  # first three octets of the site's addresses
    archive_host: str
    live_from: date | None  # first day with images
    live_until: date | None  # last day with images (inclusive)
    offer: str
    other_aes: tuple[str, ...]  # workstation AEs that retrieve (not in the registry)


@dataclass(frozen=True, slots=True)
class _Seed:
    departement: str
    category: str
    offer: str
    role: str  # pilot | during | late | not_live | leaver
    fraction: float  # of the period, for planned go-live
    name: str
    aliases: tuple[str, ...]
    code: str
    vendors: tuple[tuple[str, str], ...]  # (modality, vendor)
    ae_prefix: str | None = None  # None and no gateway: institution-only site
    gateway_ae: str | None = None  # one AE for everything (sites that keep their own PACS)
    charset: str | None = "ISO_IR 100"
    variant: tuple[str, str] | None = None  # (modality, InstitutionName as that station sends it)
    naming: str = "plain"
    pid_prefix: str = "IPP"


# Ordered so that the first four already mix a pilot CHU, an InstitutionName variant, an institution-only site
# and a VNA site going live late: small test corpora stay interesting.
# a table: one establishment per entry, as written
# fmt: off
_SEEDS = (
    _Seed("75", "CHU", "PACS_RIS", "pilot", -0.8, "Groupe Hospitalier Universitaire Paris Saint-Éloi",
          ("GHU Paris Saint-Éloi", "HOPITAL ST ELOI"), "SELOI",
          (("CT", "Siemens"), ("CT", "GE"), ("MR", "Siemens"), ("DX", "Canon"), ("CR", "Agfa"), ("US", "Philips"),
           ("MG", "Hologic"), ("PT", "GE"), ("NM", "Siemens")), ae_prefix="SELOI"),
    # Quirk "InstitutionName variant": the DX sends "CHI  DE CRETEIL " for the alias "CHI de Créteil".
    _Seed("94", "CH", "PACS", "pilot", -0.5, "Centre Hospitalier Intercommunal de Créteil",
          ("CHI de Créteil", "Centre Hospitalier Intercommunal de Créteil"), "CHIC",
          (("CT", "Toshiba"), ("DX", "Fujifilm"), ("MR", "Philips"), ("US", "Toshiba")), ae_prefix="CHIC",
          variant=("DX", "CHI  DE CRETEIL "), pid_prefix=""),
    # Institution-only site: no AE title in the registry; one station drops the accent of the alias.
    _Seed("77", "CH", "PACS_RIS", "during", 0.15, "Grand Hôpital de l'Est Francilien – site de Meaux",
          ("GHEF Meaux", "Grand Hôpital de l'Est Francilien"), "GHEF",
          (("CT", "GE"), ("CR", "Carestream"), ("US", "GE")), variant=("CR", "Grand Hopital de l'Est Francilien")),
    _Seed("93", "CH", "VNA", "late", 0.1, "Centre Hospitalier Robert-Ballanger",
          ("CH Robert Ballanger", "CHRB Aulnay"), "CHRB",
          (("CT", "Philips"), ("DX", "Siemens"), ("MR", "GE"), ("US", "Philips")), gateway_ae="BALLANGER_PACS",
          charset="ISO_IR 192", naming="uid", pid_prefix="RB"),
    _Seed("92", "CLINIQUE", "PACS_RIS", "pilot", -0.3, "Hôpital Privé d'Antony",
          ("HP Antony", "Hôpital Privé d'Antony"), "HPA",
          (("DX", "Fujifilm"), ("CT", "GE"), ("US", "GE"), ("MG", "Fujifilm")), ae_prefix="HPA"),
    _Seed("94", "CLCC", "PACS", "pilot", -1.2, "Institut de Cancérologie Gustave-Roussy",
          ("Gustave Roussy", "IGR Villejuif"), "IGR",
          (("CT", "GE"), ("MR", "GE"), ("PT", "Siemens"), ("NM", "GE"), ("MG", "Hologic"), ("US", "Toshiba")),
          ae_prefix="IGR", naming="dcm", pid_prefix="IGR"),
    _Seed("78", "ESPIC", "PACS_RIS", "during", 0.35, "Fondation Hôpital Saint-Côme de Versailles",
          ("Hôpital Saint-Côme", "FONDATION ST COME"), "SCOME",
          (("DX", "Agfa"), ("CT", "Siemens"), ("MR", "Siemens"), ("US", "Siemens")), ae_prefix="SCOME"),
    # A second variant, extra inner whitespace: "Centre Hospitalier  Sud Francilien".
    _Seed("91", "CH", "PACS", "late", 0.2, "Centre Hospitalier Sud-Francilien",
          ("CHSF Corbeil-Essonnes", "Centre Hospitalier Sud Francilien"), "CHSF",
          (("CT", "Toshiba"), ("DX", "Philips"), ("MR", "Philips"), ("US", "Philips")), ae_prefix="CHSF",
          variant=("MR", "Centre Hospitalier  Sud Francilien")),
    _Seed("75", "CLINIQUE", "PACS", "leaver", -0.6, "Clinique Saint-Jean-de-Dieu",
          ("Clinique St Jean de Dieu", "CLINIQUE SAINT-JEAN-DE-DIEU"), "SJDD",
          (("DX", "Canon"), ("US", "GE")), ae_prefix="SJDD"),
    _Seed("95", "CH", "PACS_RIS", "during", 0.55, "Centre Hospitalier René-Dubos de Pontoise",
          ("CH René Dubos", "CHRD Pontoise"), "CHRD",
          (("CT", "Siemens"), ("CR", "Fujifilm"), ("MR", "Siemens"), ("MG", "Siemens")), ae_prefix="CHRD",
          charset="ISO_IR 192"),
    # ASCII-only sender: no SpecificCharacterSet, accents dropped from names.
    _Seed("95", "CLINIQUE", "PACS", "during", 0.7, "Clinique Sainte-Thérèse d'Ermont",
          ("Clinique Sainte-Thérèse", "CLINIQUE STE THERESE"), "CSTE",
          (("DX", "Carestream"), ("US", "GE")), ae_prefix="CSTE", charset=None, variant=("DX", "CLINIQUE STE THERESE"),
          pid_prefix="P"),
    _Seed("94", "IMAGERIE", "PACS", "not_live", 0.75, "Centre d'Imagerie Médicale de Vincennes",
          ("CIM Vincennes", "Centre d'Imagerie Médicale de Vincennes"), "CIMV",
          (("DX", "Fujifilm"), ("CT", "GE")), ae_prefix="CIMV"),
    _Seed("93", "CDS", "PACS", "not_live", 1.2, "Centre Municipal de Santé de Saint-Denis",
          ("CMS Saint-Denis",), "CMSSD", (("DX", "Fujifilm"),)),
    _Seed("77", "CLINIQUE", "VNA", "during", 0.25, "Polyclinique de Marne-la-Vallée",
          ("Polyclinique Marne-la-Vallée", "POLYCLINIQUE MLV"), "PMLV",
          (("CT", "GE"), ("DX", "Agfa"), ("MR", "GE")), gateway_ae="PMLV_PACS", naming="dcm"),
)
# fmt: on
_UNREGISTERED = _Seed(
    "93",
    "IMAGERIE",
    "PACS",
    "during",
    0.25,
    "Cabinet de Radiologie des Lilas",
    ("CABINET RADIOLOGIE DES LILAS",),
    "LILAS",
    (("DX", "Carestream"),),
    ae_prefix="RADLILAS",
)
_ROLES = ("during", "pilot", "during", "late", "during", "pilot", "during", "not_live")
_HOSTS = ("rsf-archive-01", "rsf-archive-02")


def build_sites(count: int, period: Period, rng: random.Random) -> list[Site]:
    """`count` registered sites (hand-written first, then generated), then the unregistered practice."""
    seeds = list(_SEEDS[:count])
    names = {seed.name for seed in seeds}
    for index in range(len(seeds), count):
        seed = _generated_seed(index, rng, names)
        names.add(seed.name)
        seeds.append(seed)
    sites: list[Site] = []
    taken_ids: set[str] = set()
    taken_sirets: set[str] = set()
    for index, seed in enumerate(seeds):
        sites.append(_site(index, seed, period, rng, taken_ids, taken_sirets))
    sites.append(_site(count, _UNREGISTERED, period, rng, taken_ids, taken_sirets, registered=False))
    return sites


def write_registry(path: Path, sites: list[Site]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for site in sites:
            if site.establishment is not None:
                writer.writerow(registry_row(site.establishment))


def _generated_seed(index: int, rng: random.Random, taken_names: set[str]) -> _Seed:
    departement = ILE_DE_FRANCE[index % 8]
    for _ in range(20):  # draw again on a name already used; number it only when the lists run out
        category = rng.choice(("CH", "CH", "CLINIQUE", "CLINIQUE", "IMAGERIE", "ESPIC", "CDS", "CLCC"))
        commune = rng.choice(COMMUNES[departement])
        name = {
            "CH": f"Centre Hospitalier de {commune}",
            "CLINIQUE": f"Clinique {rng.choice(SAINTS)} de {commune}",
            "IMAGERIE": f"Centre d'Imagerie Médicale de {commune}",
            "ESPIC": f"Hôpital Privé {rng.choice(SAINTS)} de {commune}",
            "CDS": f"Centre de Santé Municipal de {commune}",
            "CLCC": f"Institut de Cancérologie de {commune}",
        }[category]
        if name not in taken_names:
            break
    else:
        name = f"{name} – site {index + 1}"
    letters = "".join(ch for ch in ascii_fold(commune).upper() if ch.isalpha())[:4]
    code = f"{category[:2]}{letters}{index + 1}"
    modalities = {
        "CH": ("CT", "DX", "US", "MR"),
        "CLINIQUE": ("DX", "US"),
        "IMAGERIE": ("DX", "CT", "US", "MG"),
        "ESPIC": ("CT", "DX", "MR"),
        "CDS": ("DX",),
        "CLCC": ("CT", "MR", "PT", "MG"),
    }[category]
    vendors = tuple((m, rng.choice(vendors_for(m))) for m in modalities)
    offer = rng.choice(("PACS_RIS", "PACS", "PACS", "VNA"))
    role = _ROLES[index % len(_ROLES)]
    return _Seed(
        departement,
        category,
        offer,
        role,
        rng.uniform(0.05, 0.85),
        name,
        (f"{name}", f"{code} {commune}"),
        code,
        vendors,
        ae_prefix=None if offer == "VNA" else code,
        gateway_ae=f"{code}_PACS" if offer == "VNA" else None,
        charset=rng.choice(("ISO_IR 100", "ISO_IR 100", "ISO_IR 192")),
    )


def _site(
    index: int,
    seed: _Seed,
    period: Period,
    rng: random.Random,
    taken_ids: set[str],
    taken_sirets: set[str],
    *,
    registered: bool = True,
) -> Site:
    adhesion, planned, actual, end = _dates(seed, period, rng)
    stations = _stations(seed)
    ae_titles = tuple(dict.fromkeys(s.ae_title for s in stations if s.ae_title))
    establishment = None
    if registered:
        establishment = Establishment(
            establishment_id=_unique(lambda: _finess(seed.departement, rng), taken_ids),
            name=seed.name,
            siret=_unique(lambda: _siret(SECTOR[seed.category], rng), taken_sirets),
            departement=seed.departement,
            category=seed.category,
            sector=SECTOR[seed.category],
            offer=seed.offer,
            adhesion_date=adhesion,
            planned_go_live=planned,
            actual_go_live=actual,
            end_date=end,
            ae_titles=ae_titles,
            institution_names=seed.aliases,
        )
    users = tuple(
        f"{rng.choice(STAFF_INITIALS)}.{ascii_fold(rng.choice(FAMILY_NAMES)).lower().replace(' ', '')}"
        f"@{seed.code.lower()}".replace("'", "")
        for _ in range(rng.randint(2, 5))
    )
    return Site(
        index=index,
        establishment=establishment,
        code=seed.code,
        folder=establishment.establishment_id if establishment else UNROUTED_FOLDER,
        charset=seed.charset,
        daily_studies=DAILY_STUDIES[seed.category] if registered else 0.08,
        stations=stations,
        patient_id_prefix=seed.pid_prefix,
        file_naming=seed.naming,
        gateway_user=None if ae_titles else f"passerelle-{seed.code.lower()}.sante-idf.local",
        users=tuple(dict.fromkeys(users)),
        subnet=f"10.{20 + index // 250}.{index % 250}",
        archive_host=_HOSTS[index % 2],
        live_from=actual,
        live_until=end,
        offer=seed.offer,
        other_aes=tuple(f"{seed.code[:10]}_WS{k}" for k in (1, 2)) if ae_titles else (),
    )


def _dates(seed: _Seed, period: Period, rng: random.Random) -> tuple[date, date, date | None, date | None]:
    """adhesion, planned go-live, actual go-live, end date for the seed's role."""
    last_day = period.end - timedelta(days=1)
    end: date | None = None
    if seed.role in ("pilot", "leaver"):
        planned = add_months(period.start, -rng.randint(6, 18)) + timedelta(days=rng.randint(0, 27))
        actual: date | None = planned + timedelta(days=rng.randint(0, 20))
        actual = min(actual, period.start - timedelta(days=1))
        if seed.role == "leaver":
            end = period.day_at(0.6)
    else:
        planned = max(period.day_at(seed.fraction), period.start)
        if seed.role == "during":
            actual = min(max(planned + timedelta(days=rng.randint(-5, 10)), period.start), last_day)
        elif seed.role == "late":
            delay = max(14, round(0.3 * period.days)) + rng.randint(0, 7)
            actual = min(planned + timedelta(days=delay), max(last_day - timedelta(days=3), planned))
        else:
            actual = None
    adhesion = planned - timedelta(days=rng.randint(60, 270))
    return adhesion, planned, actual, end


def _stations(seed: _Seed) -> tuple[Station, ...]:
    stations = []
    counts: dict[str, int] = {}
    for position, (modality, vendor) in enumerate(seed.vendors):
        assert modality in VENDORS[vendor].models, (vendor, modality)
        counts[modality] = number = counts.get(modality, 0) + 1
        if seed.gateway_ae:
            ae_title = seed.gateway_ae
        elif seed.ae_prefix:
            ae_title = f"{seed.ae_prefix}_{modality}{number}"
        else:
            ae_title = None
        institution = seed.aliases[position % len(seed.aliases)]
        if seed.variant is not None and seed.variant[0] == modality:
            institution = seed.variant[1]
        station_name = f"{seed.code[:9]}{modality}{number:02d}"
        stations.append(Station(modality, vendor, station_name, ae_title, institution))
    return tuple(stations)


def _finess(departement: str, rng: random.Random) -> str:
    body = f"{departement}0{rng.randint(0, 99999):05d}"
    return body + luhn_check_digit(body)


def _siret(sector: str, rng: random.Random) -> str:
    """SIREN (public health establishments start with 26) with its key, then a NIC keyed over all 14 digits."""
    lead = "26" if sector == "public" else rng.choice(("31", "38", "42", "77", "78"))
    siren = f"{lead}{rng.randint(0, 999999):06d}"
    siren += luhn_check_digit(siren)
    body = f"{siren}{rng.randint(1, 999):04d}"
    return body + luhn_check_digit(body)


def _unique(make: Callable[[], str], taken: set[str]) -> str:
    while (value := make()) in taken:
        pass
    taken.add(value)
    return value
