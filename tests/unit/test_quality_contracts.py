"""The data-contract files: the committed ones load; a broken one fails naming the file, the line and the field."""

from __future__ import annotations

import pytest

from analytics.errors import ContractError
from analytics.quality.contracts import DEFAULT_RULES_DIR, KINDS, load_rules, rules_dir

GOOD = """\
tables:
  staged.stg_dicom_instances:
    - name: sizes_positive
      severity: error
      check: positive
      column: size_bytes
    - name: modality_known
      severity: warn
      expectation: expect_column_values_to_be_in_set
      kwargs: {column: modality, value_set: [CT, MR]}
"""


def write(tmp_path, text: str, name: str = "rules.yaml"):
    folder = tmp_path / "contracts" / "data_quality"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return tmp_path / "contracts"


def test_committed_contracts_load_and_use_every_kind():
    rules = load_rules(DEFAULT_RULES_DIR.parent)
    assert {r.kind for r in rules} >= set(KINDS)
    assert {r.severity for r in rules} == {"error", "warn"}


def test_a_contracts_folder_without_rules_uses_the_platform_defaults(tmp_path):
    assert rules_dir(tmp_path) == DEFAULT_RULES_DIR
    rules = load_rules(write(tmp_path, GOOD))
    assert [(r.name, r.kind, r.line) for r in rules] == [
        ("sizes_positive", "positive", 3),
        ("modality_known", "expectation", 7),
    ]
    assert rules[1].params["kwargs"] == {"column": "modality", "value_set": ["CT", "MR"]}


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("severity: error", "severity: fatal", 4, "tables.staged.stg_dicom_instances[1].severity", "unknown severity"),
        ("check: positive", "check: positivity", 5, "tables.staged.stg_dicom_instances[1].check", "unknown rule kind"),
        (
            "expect_column_values_to_be_in_set",
            "expect_column_values_to_be_pretty",
            9,
            "tables.staged.stg_dicom_instances[2].expectation",
            "unknown or unsupported expectation",
        ),
        (
            "staged.stg_dicom_instances:",
            "staged.stg_dicom_instance:",
            2,
            "tables.staged.stg_dicom_instance",
            "unknown table",
        ),
        ("column: size_bytes", "columns: size_bytes", 6, "tables.staged.stg_dicom_instances[1].columns", "unknown key"),
        ("      column: size_bytes\n", "", 3, "tables.staged.stg_dicom_instances[1].column", "missing required key"),
        ("{column: modality, ", "{", 10, "tables.staged.stg_dicom_instances[2].kwargs.column", "needs 'column'"),
        ("name: modality_known", "name: Modality Known", 7, "tables.staged.stg_dicom_instances[2].name", "rule name"),
        ("name: modality_known", "name: sizes_positive", 7, "name", "already used"),
        (
            "    - name: modality_known\n",
            "    - name: modality_known\n      check: unique\n",
            7,
            "tables.staged.stg_dicom_instances[2]",
            "exactly one of",
        ),
    ],
)
def test_errors_name_the_file_the_line_and_the_field(tmp_path, old, new, line, field, message):
    assert old in GOOD
    contracts = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ContractError) as caught:
        load_rules(contracts)
    error = caught.value
    assert (error.path.name, error.line, error.field) == ("rules.yaml", line, field), str(error)
    assert message in str(error)


def test_bad_values_and_yaml(tmp_path):
    share = (
        GOOD
        + "    - name: ae\n      severity: warn\n      check: unknown_ae_share\n      column: x\n      max_share: 5\n"
    )
    with pytest.raises(ContractError, match="not a share between 0 and 1") as caught:
        load_rules(write(tmp_path, share))
    assert (caught.value.line, caught.value.field) == (15, "tables.staged.stg_dicom_instances[3].max_share")
    fixed = share.replace("max_share: 5", "max_share: 0.05").replace("column: x", "column: source_ae_title")
    wrong_table = (
        fixed + "  staged.int_studies:\n    - name: fresh\n      severity: warn\n      check: harvest_age\n"
        "      max_hours: 2\n"
    )
    with pytest.raises(ContractError, match="about marts.mart_source_freshness") as caught:
        load_rules(write(tmp_path, wrong_table))
    assert caught.value.line == 19
    with pytest.raises(ContractError, match="not valid YAML") as caught:
        load_rules(write(tmp_path, GOOD + "  - [\n"))
    assert caught.value.line is not None
    with pytest.raises(ContractError, match="unknown value set"):
        load_rules(
            write(
                tmp_path,
                GOOD.replace(
                    "check: positive\n      column: size_bytes",
                    "check: in_set\n      column: modality\n      values: modalities",
                ),
            )
        )
