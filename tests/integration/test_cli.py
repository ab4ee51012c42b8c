"""The `sansfilm` command line: output contracts and error behaviour."""

from __future__ import annotations

import json
import logging

from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()
HARVEST_KEYS = {"name", "kind", "files_seen", "files_parsed", "files_unchanged", "quarantined", "records_added"}


def test_harvest_json_contract_and_incremental_rerun(tiny):
    result = runner.invoke(app, ["--config", str(tiny.config_path), "harvest", "--format", "json"])
    assert result.exit_code == 0, result.output
    sources = json.loads(result.stdout)["sources"]
    assert [s["name"] for s in sources] == ["archive-files", "audit"]
    assert all(HARVEST_KEYS <= set(s) for s in sources)
    assert sources[0]["records_added"] == 4 and sources[1]["records_added"] == 5
    again = json.loads(runner.invoke(app, ["--config", str(tiny.config_path), "harvest", "--format", "json"]).stdout)
    assert [s["records_added"] for s in again["sources"]] == [0, 0]
    assert [s["files_unchanged"] for s in again["sources"]] == [4, 1]


def test_harvest_table_and_one_source(tiny, monkeypatch):
    monkeypatch.setenv("SANSFILM_CONFIG", str(tiny.config_path))
    result = runner.invoke(app, ["harvest", "--source", "audit"])
    assert result.exit_code == 0, result.output
    header, row, metered = result.output.splitlines()
    assert metered.startswith("metered: ")
    assert header.split() == [
        "name",
        "kind",
        "files_seen",
        "files_parsed",
        "files_unchanged",
        "quarantined",
        "records_added",
    ]
    assert row.split() == ["audit", "audit_syslog", "1", "1", "0", "0", "5"]


def test_configuration_errors_exit_2_with_the_key_named(tmp_path):
    bad = tmp_path / "sansfilm.toml"
    bad.write_text('[warehouse]\npath = "w.duckdb"\nflavour = "x"\n')
    result = runner.invoke(app, ["--config", str(bad), "harvest"])
    assert result.exit_code == 2
    assert "unknown key 'warehouse.flavour'" in result.output


def test_pynetdicom_log_follows_each_invocations_verbosity(tmp_path, monkeypatch):
    """One process may run several commands (a caller, these tests): a --verbose command after a quiet one shows
    pynetdicom's own log again, and a quiet one after it hides it."""
    pynetdicom = logging.getLogger("pynetdicom")
    monkeypatch.setattr(pynetdicom, "propagate", True)  # restored for the other tests of this process
    bad = tmp_path / "sansfilm.toml"
    bad.write_text('[warehouse]\nflavour = "x"\n')
    seen = []
    for options in ([], ["--verbose"], []):
        assert runner.invoke(app, [*options, "--config", str(bad), "harvest"]).exit_code == 2
        seen.append(pynetdicom.propagate)
    assert seen == [False, True, False]


def test_invalid_registry_fails_naming_file_line_and_field(tiny):
    registry = tiny.contracts.dir / "establishments.csv"
    registry.write_text(registry.read_text().replace("PACS_RIS", "PACS_PLUS"))
    result = runner.invoke(app, ["--config", str(tiny.config_path), "harvest"])
    assert result.exit_code == 2
    assert f"{registry}, line 2, field 'offer'" in result.output


def test_run_materialises_every_step(tiny):
    result = runner.invoke(app, ["--config", str(tiny.config_path), "run"])
    assert result.exit_code == 0, result.output
    steps = [line.split()[0] for line in result.output.splitlines()]
    assert (
        "raw__harvest_archive_files" in steps
        and "marts__fct_metered_months" in steps
        and "published__warehouse" in steps
    )
    assert result.output.splitlines()[-1].startswith("metered: ")


def test_samples_names_the_months_bill_will_refuse(tmp_path):
    def samples(name: str, start: str, months: int):
        args = ["samples", "--out", str(tmp_path / name), "--start", start, "--months", str(months)]
        result = runner.invoke(app, [*args, "--establishments", "2"])
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()

    early, late, inside = samples("a", "2010-02", 3), samples("b", "2015-02", 3), samples("c", "2012-02", 2)
    assert early[1].startswith(
        "note: 2 month(s) of the corpus (2010-02 to 2010-03) fall outside its framework agreement "
        "(valid 2010-04-01 to 2015-03-31, contracts/framework.yaml): run meters them, bill refuses"
    )
    assert len(early) == 2
    # 2015-04 is past the agreement; 2015-02 and 2015-03 need the index of 2014-01, which the sample does not list
    assert len(late) == 3 and late[1].startswith(
        "note: 1 month(s) of the corpus (2015-04) fall outside its framework agreement"
    )
    assert late[2].startswith(
        "note: 2 month(s) of the corpus (2015-02 to 2015-03) need price index values that contracts/price_index.csv "
        "does not list: bill previews them at provisional prices and refuses --issue"
    )
    assert len(inside) == 1 and inside[0].startswith("wrote ")
