"""A contract file saved in Windows-1252 (a spreadsheet's default "CSV", an old editor's YAML) fails at load naming the
file and the line of the first byte that is not UTF-8, and says how to save it: never an unexpected
UnicodeDecodeError."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.billing.governance import load_commitments
from analytics.billing.price_index import load_price_index
from analytics.errors import ContractError
from analytics.opinions.pairs import load_pairs
from analytics.registry import load_registry


@pytest.mark.parametrize(
    ("name", "load"),
    [("establishments.csv", load_registry), ("price_index.csv", load_price_index), ("opinion_pairs.csv", load_pairs)],
)
def test_a_contract_csv_that_is_not_utf8_names_its_file_and_line(tmp_path, name, load):
    text = "a,b,c\n1,2,3\n4,Hôpital Béclère,6\n"
    (tmp_path / name).write_bytes(text.encode("cp1252"))
    with pytest.raises(ContractError) as raised:
        load(tmp_path)
    assert (raised.value.path, raised.value.line) == (tmp_path / name, 3)
    assert str(raised.value).endswith(
        'is not UTF-8 text (byte 0xf4): save it as CSV UTF-8 (in a spreadsheet: "CSV UTF-8")'
    )


def test_the_same_file_in_utf8_with_a_byte_order_mark_is_read_past_its_text(tmp_path):
    (tmp_path / "opinion_pairs.csv").write_bytes("a,b,c\n4,Hôpital Béclère,6\n".encode("utf-8-sig"))
    with pytest.raises(ContractError, match="line 1: the header must be"):  # decoded: the header is checked next
        load_pairs(tmp_path)


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["unix", "windows", "classic-mac"])
def test_the_line_is_counted_whatever_the_line_ends(tmp_path, end):
    (tmp_path / "price_index.csv").write_bytes(end.join(["a,b", "1,2", "3,2", "é,4"]).encode("cp1252"))
    with pytest.raises(ContractError, match=r"price_index.csv, line 4: is not UTF-8 text \(byte 0xe9\)"):
        load_price_index(tmp_path)


def test_a_yaml_contract_that_is_not_utf8_names_its_line_too(tmp_path):
    from analytics.billing.tariff import load_tariff

    (tmp_path / "framework.yaml").write_bytes("contract_id: AC-1\nbuyer: Hôpital\n".encode("cp1252"))
    with pytest.raises(
        ContractError, match=r"framework.yaml, line 2: is not UTF-8 text \(byte 0xf4\): save it as UTF-8$"
    ):
        load_tariff(tmp_path)


@pytest.mark.parametrize(
    "name", ["establishments.csv", "price_index.csv", "opinion_pairs.csv", "commitments.csv"]
)  # a spreadsheet's French CSV: ';' between cells
def test_a_contract_csv_separated_by_semicolons_says_so_at_load(tmp_path, name):
    sample = Path(__file__).resolve().parents[2] / "data" / "samples" / "contracts"
    for csv_file in sample.glob("*.csv"):
        (tmp_path / csv_file.name).write_bytes(csv_file.read_bytes())
    (tmp_path / name).write_text((sample / name).read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    registry = None if name == "establishments.csv" else load_registry(tmp_path)
    loads = {
        "establishments.csv": lambda: load_registry(tmp_path),
        "price_index.csv": lambda: load_price_index(tmp_path),
        "opinion_pairs.csv": lambda: load_pairs(tmp_path, registry),
        "commitments.csv": lambda: load_commitments(tmp_path, registry),
    }
    with pytest.raises(ContractError) as raised:
        loads[name]()
    assert (raised.value.path, raised.value.line) == (tmp_path / name, 1)
    assert "separates its cells with ';': contract CSVs use ','" in str(raised.value)
    (tmp_path / name).write_bytes((sample / name).read_bytes())
    assert loads[name]()  # the same file with ',' loads
