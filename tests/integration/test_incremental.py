"""The warehouse build is incremental: it takes in what new harvests added, and the result equals a full rebuild."""

from __future__ import annotations

import polars as pl

from analytics import dbt_build, warehouse
from analytics.registry import load_registry
from tests.warehouse_factory import B, RawWarehouse

PLATFORM = "RSF_ARCHIVE"


def harvest(con, wh: RawWarehouse, harvest_id: str) -> None:
    """Append the collected rows as one finished harvest (what analytics.harvest leaves behind), then forget them."""
    for table, rows in (("dicom_instances", wh.instances), ("audit_events", wh.events)):
        if rows:
            con.register("rows", pl.DataFrame(rows).with_columns(harvest_id=pl.lit(harvest_id)))
            con.execute(f"insert into raw.{table} by name select * from rows")
            con.unregister("rows")
    con.execute("insert into raw.harvest_runs (harvest_id, source, kind, started_at, finished_at) "
                "values (?, 'files', 'dicom_files', now(), now())", [harvest_id])  # fmt: skip
    wh.instances.clear()
    wh.events.clear()


def contents(con) -> dict[str, list[tuple]]:
    return {f"{s}.{m}": sorted(con.execute(f"select * from {s}.{m}").fetchall(), key=repr) for s, m in dbt_build.models()}


def test_late_data_for_an_old_month_built_incrementally_equals_a_full_rebuild(tmp_path):
    wh = RawWarehouse(tmp_path)
    con = warehouse.connect(wh.path)
    warehouse.ensure_schema(con)
    warehouse.load_reference(con, load_registry(tmp_path / "contracts"), [PLATFORM])
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100)
    wh.instance("1.2", "S1", "2012-01-10T10:05:00+01:00", 200)
    wh.instance("2.1", "S2", "2012-03-02T09:00:00+01:00", 300, ae="B_CT")
    wh.event("110104", "2012-03-05T12:00:00+01:00", PLATFORM, "B_CT", ["S2"])
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    assert con.execute("select count(*) from build.state").fetchall() == [(1,)]

    # a night later, late data for January: another instance of S1 (and a copy of one already known, received
    # earlier: the earliest copy wins), a study known only from a receipt event, S1 deleted in March
    wh.instance("1.3", "S1", "2012-01-11T08:00:00+01:00", 50)
    wh.instance("1.2", "S1", "2012-01-09T08:00:00+01:00", 210)
    wh.event("110104", "2012-01-20T12:00:00+01:00", "B_CT", PLATFORM, ["S3"])
    wh.event("110105", "2012-03-15T12:00:00+01:00", "A_CT", PLATFORM, ["S1"])
    harvest(con, wh, "h2")
    counts = warehouse.build_models(con)  # incremental: only h2 is taken in
    incremental = contents(con)
    assert counts["staged.stg_dicom_instances"] == 4 and counts["staged.int_study_owners"] == 3

    warehouse.build_models(con, full_refresh=True)
    assert incremental == contents(con)
    s1 = con.execute("select instances, bytes, first_received_at::varchar from staged.int_studies where study_instance_uid = 'S1'")
    assert s1.fetchall()[0] == (3, 360, "2012-01-09 08:00:00+01")
    owners = dict(con.execute("select study_instance_uid, establishment_id from staged.int_study_owners").fetchall())
    assert owners["S3"] == B
    con.close()


def test_a_change_of_registry_rebuilds_everything(tmp_path):
    wh = RawWarehouse(tmp_path)
    con = warehouse.connect(wh.path)
    warehouse.ensure_schema(con)
    registry = load_registry(tmp_path / "contracts")
    warehouse.load_reference(con, registry, [PLATFORM])
    wh.instance("1.1", "S1", "2012-01-10T10:00:00+01:00", 100, ae="C_CT")  # nobody claims C_CT yet
    harvest(con, wh, "h1")
    warehouse.build_models(con)
    assert con.execute("select establishment_id from staged.stg_dicom_instances").fetchall() == [("UNATTRIBUTED",)]
    csv = tmp_path / "contracts" / "establishments.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("B_CT,", "B_CT;C_CT,"), encoding="utf-8")
    warehouse.load_reference(con, load_registry(tmp_path / "contracts"), [PLATFORM])
    warehouse.build_models(con)  # no new harvest, but the registry changed: every attribution is redone
    assert con.execute("select establishment_id from staged.stg_dicom_instances").fetchall() == [(B,)]
    con.close()
