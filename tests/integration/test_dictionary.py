"""Every column of every marts table of the built sample (usage marts included) is in the data dictionary."""

from __future__ import annotations

from analytics import dictionary, warehouse


def test_every_marts_column_of_the_sample_has_a_description_and_a_unit(metered):
    con = warehouse.connect(config=metered.config_path)
    try:
        actual = dictionary.warehouse_columns(con)
    finally:
        con.close()
    assert {"dim_establishments", "mart_archive_daily", "fct_usage_daily", "fct_share_flows"} <= set(actual)
    found = dictionary.problems(actual, dictionary.load_dictionary())
    assert not found, (
        "the data dictionary (analytics/sql/marts/<table>.yml) disagrees with the warehouse:\n" + "\n".join(found)
    )


def test_the_generator_checks_the_published_warehouse_of_the_configuration(metered, monkeypatch, capsys):
    monkeypatch.setenv("SANSFILM_CONFIG", str(metered.config_path))
    assert dictionary.main(["--warehouse", "--check"]) == 0, capsys.readouterr().err
    monkeypatch.setattr(dictionary, "MARTS_DIR", metered.root / "no-such-folder")  # nothing described
    assert dictionary.main(["--warehouse", "--check"]) == 1
    assert "marts.fct_usage_daily: no dictionary file" in capsys.readouterr().err
