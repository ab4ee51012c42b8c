"""The CLI's CSVs (`sansfilm usage|bill|opinions --format csv`): the default output is the contract finance scripts read
(unchanged); `sansfilm --csv-dialect fr` gives the dashboards' download conventions (a BOM, `;`, decimal comma, bare
numbers, dd/mm/yyyy), the same rows and values. Run through the real command on the published sample."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.reporting.exports import BOM

SANSFILM = str(Path(sys.executable).with_name("sansfilm"))


def sansfilm(*args: str) -> str:
    done = subprocess.run([SANSFILM, *args], capture_output=True, timeout=300)  # bytes: line ends as written
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    return done.stdout.decode("utf-8")


@pytest.mark.parametrize(
    ("command", "month"), [("usage", "2012-06"), ("bill", "2012-06"), ("opinions", "2012-11")]
)  # the sample's tele-opinion pilot runs over its last two months
def test_the_french_dialect_has_the_same_rows_as_the_default_csv(published, command, month):
    config = str(published.config_path)
    plain = sansfilm("--config", config, command, "--month", month, "--format", "csv")
    french = sansfilm("--config", config, "--csv-dialect", "fr", command, "--month", month, "--format", "csv")
    assert not plain.startswith(BOM) and plain.splitlines()[0].count(",") > 2 and ";" not in plain.splitlines()[0]
    assert french.startswith(BOM) and "\r\n" in french
    assert "\r\n" not in plain  # the contract's line ends
    rows = list(csv.reader(io.StringIO(plain)))
    french_rows = list(csv.reader(io.StringIO(french.removeprefix(BOM)), delimiter=";"))
    assert len(rows) == len(french_rows) > 2 and rows[0] == french_rows[0]  # headers unchanged
    decimals = 0
    for row, french_row in zip(rows[1:], french_rows[1:], strict=True):
        for value, french_value in zip(row, french_row, strict=True):
            if "." in value and value.replace(".", "", 1).lstrip("-").isdigit():  # a decimal number
                decimals += 1
                assert Decimal(french_value.replace(",", ".")) == Decimal(value) and "." not in french_value
                assert "€" not in french_value and " " not in french_value  # bare: a spreadsheet reads a number
            elif len(value) == 10 and value[4] == "-" and value[7] == "-":  # an ISO day
                assert french_value == f"{value[8:]}/{value[5:7]}/{value[:4]}"
            else:
                assert french_value == value
    assert decimals or command == "opinions"  # the comparison above saw numbers to convert (opinions: whole ones)


def test_an_unknown_dialect_is_one_clear_line(published):
    done = subprocess.run(
        [SANSFILM, "--csv-dialect", "excel", "usage", "--month", "2012-06", "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "'excel' is not one of standard, fr" in done.stderr
    assert "Traceback" not in done.stderr
