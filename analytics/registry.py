"""The establishment registry (`contracts/establishments.csv`): who is in the programme, with which offer, since when,
and how to recognise their images (sending AE titles, InstitutionName aliases).

Validated at load; any problem raises ContractError naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from analytics.contract_text import open_csv_text
from analytics.errors import ContractError

REGISTRY_FILE = "establishments.csv"
COLUMNS = (
    "establishment_id",
    "name",
    "siret",
    "departement",
    "category",
    "sector",
    "offer",
    "adhesion_date",
    "planned_go_live",
    "actual_go_live",
    "end_date",
    "ae_titles",
    "institution_names",
)
OPTIONAL_COLUMNS = ("billing_email",)  # where `sansfilm send --transport email` sends the invoices
OFFERS = ("PACS_RIS", "PACS", "VNA")
SECTORS = ("public", "private")
CATEGORIES = ("CHU", "CH", "CHI", "CLCC", "ESPIC", "CLINIQUE", "CDS", "IMAGERIE", "HIA", "EHPAD", "SSR", "PSY")
ILE_DE_FRANCE = ("75", "77", "78", "91", "92", "93", "94", "95")
_DEPARTEMENT = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$")  # metropolitan and overseas codes
UNATTRIBUTED = "UNATTRIBUTED"
_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # DICOM AE: 16 chars, no backslash, no control chars
_WHITESPACE = re.compile(r"\s+")


def institution_key(name: str | None) -> str | None:
    """The form InstitutionName aliases are matched on: no accents, case folded, runs of whitespace made one space."""
    if name is None:
        return None
    decomposed = unicodedata.normalize("NFKD", name.replace("\x00", ""))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    key = _WHITESPACE.sub(" ", stripped.casefold()).strip()
    return key or None


def ae_title_key(ae_title: str | None) -> str | None:
    """AE titles are compared trimmed and upper-cased (senders are inconsistent about case)."""
    if ae_title is None:
        return None
    key = ae_title.replace("\x00", "").strip().upper()
    return key or None


@dataclass(frozen=True, slots=True)
class Establishment:
    establishment_id: str
    name: str
    siret: str
    departement: str
    category: str
    sector: str
    offer: str
    adhesion_date: date
    planned_go_live: date
    actual_go_live: date | None
    end_date: date | None
    ae_titles: tuple[str, ...]
    institution_names: tuple[str, ...]
    billing_email: str | None = None


@dataclass(frozen=True, slots=True)
class Registry:
    path: Path
    establishments: tuple[Establishment, ...]

    def by_id(self) -> dict[str, Establishment]:
        return {e.establishment_id: e for e in self.establishments}

    def ae_title_map(self) -> dict[str, str]:
        return {ae_title_key(t): e.establishment_id for e in self.establishments for t in e.ae_titles}

    def alias_map(self) -> dict[str, str]:
        return {institution_key(n): e.establishment_id for e in self.establishments for n in e.institution_names}


def luhn_check_digit(body: str) -> str:
    """The digit that makes body + digit pass the Luhn test (FINESS key, SIREN and SIRET)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str((10 - total % 10) % 10)


def luhn_ok(digits: str) -> bool:
    return len(digits) > 1 and digits.isdigit() and luhn_check_digit(digits[:-1]) == digits[-1]


def load_registry(contracts_dir: Path) -> Registry:
    path = Path(contracts_dir) / REGISTRY_FILE
    with open_csv_text(path, "the establishment registry is missing") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ContractError(path, f"missing column(s) {', '.join(missing)}", line=1, field=missing[0])
        unknown = [c for c in header if c not in COLUMNS + OPTIONAL_COLUMNS]
        if unknown:
            raise ContractError(path, f"unknown column '{unknown[0]}'", line=1, field=unknown[0])
        establishments: list[Establishment] = []
        seen_ids: dict[str, int] = {}
        seen_ae: dict[str, tuple[str, int]] = {}
        seen_alias: dict[str, tuple[str, int]] = {}
        for row in reader:
            line = reader.line_num
            est = _parse_row(path, line, row)
            if est.establishment_id in seen_ids:
                raise ContractError(
                    path,
                    f"duplicate establishment_id, first on line {seen_ids[est.establishment_id]}",
                    line=line,
                    field="establishment_id",
                )
            seen_ids[est.establishment_id] = line
            for title in est.ae_titles:
                key = ae_title_key(title)
                if key in seen_ae:
                    other, other_line = seen_ae[key]
                    raise ContractError(
                        path,
                        f"AE title {title} is already claimed by {other} (line {other_line})",
                        line=line,
                        field="ae_titles",
                    )
                seen_ae[key] = (est.establishment_id, line)
            for alias in est.institution_names:
                key = institution_key(alias)
                if key in seen_alias and seen_alias[key][0] != est.establishment_id:
                    other, other_line = seen_alias[key]
                    raise ContractError(
                        path,
                        f"institution name '{alias}' is already an alias of {other} (line {other_line})",
                        line=line,
                        field="institution_names",
                    )
                seen_alias[key] = (est.establishment_id, line)
            establishments.append(est)
    return Registry(path=path, establishments=tuple(establishments))


def _parse_row(path: Path, line: int, row: dict[str, str | None]) -> Establishment:
    if None in row:  # more cells than columns
        raise ContractError(path, "more cells than columns", line=line)

    def cell(field: str) -> str:
        value = row.get(field)
        if value is None:
            raise ContractError(path, "fewer cells than columns", line=line, field=field)
        return value.strip()

    def fail(field: str, message: str) -> ContractError:
        return ContractError(path, message, line=line, field=field)

    def required(field: str) -> str:
        value = cell(field)
        if not value:
            raise fail(field, "is empty")
        return value

    def a_date(field: str, optional: bool = False) -> date | None:
        value = cell(field)
        if not value and optional:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise fail(field, f"'{value}' is not a date (YYYY-MM-DD)") from None

    def choice(field: str, allowed: tuple[str, ...]) -> str:
        value = required(field)
        if value not in allowed:
            raise fail(field, f"'{value}' is not one of {', '.join(allowed)}")
        return value

    establishment_id = required("establishment_id")
    if not re.fullmatch(r"\d{9}", establishment_id):
        raise fail("establishment_id", f"'{establishment_id}' is not a FINESS number (9 digits)")
    siret = required("siret")
    if not re.fullmatch(r"\d{14}", siret) or not luhn_ok(siret):
        raise fail("siret", f"'{siret}' is not a valid SIRET (14 digits with a Luhn check digit)")
    departement = required("departement")
    if not _DEPARTEMENT.match(departement):
        raise fail("departement", f"'{departement}' is not a French departement code")
    adhesion = a_date("adhesion_date")
    planned = a_date("planned_go_live")
    actual = a_date("actual_go_live", optional=True)
    end = a_date("end_date", optional=True)
    if planned < adhesion:
        raise fail("planned_go_live", "is before adhesion_date")
    if actual is not None and actual < adhesion:
        raise fail("actual_go_live", "is before adhesion_date")
    if end is not None and end < (actual or adhesion):
        raise fail("end_date", "is before the go-live (or adhesion) date")
    ae_titles = tuple(t.strip() for t in cell("ae_titles").split(";") if t.strip())
    for title in ae_titles:
        if not _AE_TITLE.match(title):
            raise fail("ae_titles", f"'{title}' is not a DICOM AE title (1-16 printable characters, no backslash)")
    if len({ae_title_key(t) for t in ae_titles}) != len(ae_titles):
        raise fail("ae_titles", "lists the same AE title twice")
    return Establishment(
        establishment_id=establishment_id,
        name=required("name"),
        siret=siret,
        departement=departement,
        category=choice("category", CATEGORIES),
        sector=choice("sector", SECTORS),
        offer=choice("offer", OFFERS),
        adhesion_date=adhesion,
        planned_go_live=planned,
        actual_go_live=actual,
        end_date=end,
        ae_titles=ae_titles,
        institution_names=tuple(n.strip() for n in cell("institution_names").split(";") if n.strip()),
        billing_email=_email(row.get("billing_email"), fail),
    )


def _email(value: str | None, fail) -> str | None:  # noqa: ANN001 - the row's error maker
    """An optional e-mail address: one @, no space, a dotted domain."""
    value = (value or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+", value):
        raise fail("billing_email", f"'{value}' is not an e-mail address")
    return value
