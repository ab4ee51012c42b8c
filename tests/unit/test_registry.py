import csv
from pathlib import Path

import pytest

from analytics.errors import ContractError
from analytics.registry import COLUMNS, ae_title_key, institution_key, load_registry, luhn_ok

ROWS = [
    {
        "establishment_id": "940000011",
        "name": "CHI de Créteil",
        "siret": "",
        "departement": "94",
        "category": "CHI",
        "sector": "public",
        "offer": "PACS_RIS",
        "adhesion_date": "2010-05-01",
        "planned_go_live": "2011-01-01",
        "actual_go_live": "2011-02-15",
        "end_date": "",
        "ae_titles": "CRETEIL_CT;CRETEIL_MR",
        "institution_names": "CHI de Créteil;Hopital Creteil",
    },
    {
        "establishment_id": "750000023",
        "name": "Clinique Saint-Jean",
        "siret": "",
        "departement": "75",
        "category": "CLINIQUE",
        "sector": "private",
        "offer": "VNA",
        "adhesion_date": "2011-03-01",
        "planned_go_live": "2011-09-01",
        "actual_go_live": "",
        "end_date": "",
        "ae_titles": "",
        "institution_names": "Clinique St Jean",
    },
]


def siret(prefix: str) -> str:
    for check in range(10):
        candidate = f"{prefix}{check}"
        if luhn_ok(candidate):
            return candidate
    raise AssertionError


ROWS[0]["siret"] = siret("2694000110001")
ROWS[1]["siret"] = siret("7500000230001")


def write(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    with (tmp_path / "establishments.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def test_valid_registry_loads_with_maps(tmp_path):
    registry = load_registry(write(tmp_path, ROWS))
    assert [e.establishment_id for e in registry.establishments] == ["940000011", "750000023"]
    assert registry.ae_title_map() == {"CRETEIL_CT": "940000011", "CRETEIL_MR": "940000011"}
    assert registry.alias_map()["chi de creteil"] == "940000011"
    assert registry.by_id()["750000023"].actual_go_live is None


@pytest.mark.parametrize(
    ("row", "changes", "line", "field", "text"),
    [
        (0, {"establishment_id": "94000001"}, 2, "establishment_id", "FINESS"),
        (1, {"establishment_id": "940000011"}, 3, "establishment_id", "duplicate establishment_id, first on line 2"),
        (0, {"siret": "26940001100018"}, 2, "siret", "Luhn"),
        (1, {"offer": "CLOUD"}, 3, "offer", "'CLOUD' is not one of PACS_RIS, PACS, VNA"),
        (1, {"ae_titles": "CRETEIL_MR"}, 3, "ae_titles", "already claimed by 940000011 (line 2)"),
        (0, {"planned_go_live": "2010-01-01"}, 2, "planned_go_live", "before adhesion_date"),
        (0, {"end_date": "2011-01-01"}, 2, "end_date", "before the go-live"),
        (0, {"actual_go_live": "15/02/2011"}, 2, "actual_go_live", "not a date"),
        (1, {"institution_names": "Hôpital  CRETEIL"}, 3, "institution_names", "already an alias of 940000011"),
        (0, {"departement": "99"}, 2, "departement", "not a French departement"),
        (0, {"ae_titles": "A\\B"}, 2, "ae_titles", "not a DICOM AE title"),
        (1, {"name": " "}, 3, "name", "is empty"),
    ],
)
def test_invalid_registry_names_file_line_and_field(tmp_path, row, changes, line, field, text):
    rows = [dict(r) for r in ROWS]
    rows[row].update(changes)
    with pytest.raises(ContractError) as err:
        load_registry(write(tmp_path, rows))
    assert (err.value.line, err.value.field) == (line, field)
    assert text in str(err.value)
    assert str(tmp_path / "establishments.csv") in str(err.value)


def test_missing_column_is_named(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "offer"} for r in ROWS]
    with pytest.raises(ContractError, match="missing column"):
        load_registry(write(tmp_path, rows))


def test_missing_registry(tmp_path):
    with pytest.raises(ContractError, match="registry is missing"):
        load_registry(tmp_path)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("CHI  de   Créteil ", "chi de creteil"),
        ("HÔPITAL\tSAINT-LOUIS", "hopital saint-louis"),
        ("\x00", None),
        (None, None),
    ],
)
def test_institution_key_ignores_case_accents_and_whitespace(raw, key):
    assert institution_key(raw) == key


def test_ae_title_key():
    assert ae_title_key(" ct_scanner1 ") == "CT_SCANNER1"
    assert ae_title_key("  ") is None
