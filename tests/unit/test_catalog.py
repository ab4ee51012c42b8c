"""What a connection's own database holds: a table of a database attached beside it (a publish's copy) is not one."""

from __future__ import annotations

import duckdb

from analytics.catalog import table_exists, tables


def test_only_the_current_database_s_tables_exist():
    con = duckdb.connect()
    con.execute("create schema staged; create table staged.int_studies (study_hash uhugeint)")
    con.execute("create view staged.studies as select * from staged.int_studies")
    con.execute("attach ':memory:' as publish_target")
    con.execute("create schema publish_target.staged; create table publish_target.staged.stg_audit_events (a int)")
    assert table_exists(con, "staged.int_studies") and table_exists(con, "staged.studies")
    assert not table_exists(con, "staged.stg_audit_events")  # the attached copy's only
    assert not table_exists(con, "marts.int_studies") and not table_exists(con, "staged.int_studie")
    assert tables(con) == {("staged", "int_studies"), ("staged", "studies")}
