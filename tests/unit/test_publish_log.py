"""Which of the copy's rows a publish reads to delete a key written since its last update (build.replacements)."""

from __future__ import annotations

from datetime import date

import duckdb

from analytics import dbt_build, publish
from analytics.publish import Replacements

D1, D2, D3 = date(2012, 3, 1), date(2012, 3, 2), date(2012, 3, 3)


def test_the_builds_whose_rows_were_replaced_since_the_copy_s_update():
    log = Replacements(
        3,
        {
            "int_studies": [(3, 1, D1), (4, 1, D2), (5, 2, D1), (5, 4, D3)],
            "int_transfers_between_establishments": [(4, 3, None)],
            "stg_audit_studies": [(4, None, D1)],
        },
    )
    # the builds that had written the rows replaced since the copy's update, and those rows' storage days, on which
    # the copy holds them
    assert log.of("int_studies", 3) == ([1, 2, 4], [D1, D2, D3])  # builds 4 and 5 replaced rows of builds 1, 2, 4
    # build 4 replaced build 1's row of March 2nd before the copy's update: the copy holds build 4's row, which build
    # 5 replaced (March 3rd)
    assert log.of("int_studies", 4) == ([2, 4], [D1, D3])
    assert log.of("int_studies", 2) == ([1, 2, 4], [D1, D2, D3])  # build 3 is logged: the log reaches back
    assert log.of("int_studies", 5) == ([], [])  # nothing written since: nothing replaced
    assert log.of("int_study_owners", 3) == ([], [])  # a model that replaced no row
    assert log.of("int_studies", 1) == (None, None)  # build 2 wrote before the log began: any build, any day
    assert log.of("stg_audit_studies", 3) == (None, None)  # a row replaced had no stamp: anywhere, on any day
    assert log.of("int_transfers_between_establishments", 3) == ([3], None)  # a row replaced had no day: any day
    assert Replacements(None, {}).of("int_studies", 9) == (None, None)  # a warehouse built before the log was kept


def test_too_many_days_are_not_named(monkeypatch):
    log = Replacements(1, {"int_studies": [(2, 1, D1), (2, 1, D2), (3, 2, D3)]})
    monkeypatch.setattr(publish, "FEW_DAYS", 3)
    assert log.of("int_studies", 1) == ([1, 2], [D1, D2, D3])
    monkeypatch.setattr(publish, "FEW_DAYS", 2)
    assert log.of("int_studies", 1) == ([1, 2], None)  # each is read as any day, among the builds named
    assert log.of("int_studies", 2) == ([2], [D3])


def test_the_log_is_read_once_from_the_warehouse():
    con = duckdb.connect()
    assert Replacements.read(con, 1) == Replacements(None, {})  # no log kept
    con.execute("create schema build")
    con.execute("create table build.replacements (build_seq bigint, model varchar, replaced_seq bigint, day date)")
    con.execute(
        """insert into build.replacements values (2, null, null, null), (3, 'int_studies', 2, '2012-03-02'),
           (3, 'int_studies', 1, '2012-03-01'), (4, 'int_studies', 3, null), (3, 'x', 2, '2012-03-01')"""
    )
    assert Replacements.read(con, 1) == Replacements(
        2, {"int_studies": [(3, 1, D1), (3, 2, D2), (4, 3, None)], "x": [(3, 2, D1)]}
    )
    assert Replacements.read(con, 3) == Replacements(2, {"int_studies": [(4, 3, None)]})  # only the builds after
    assert Replacements.read(con, None) == Replacements(2, {})  # the copy holds no keyed table: no pair is asked for


def test_a_log_kept_before_the_days_reads_as_any_day_until_a_build_adds_them():
    """A warehouse of the version before: build.replacements without its `day` column. A publish before the next
    build reads its replacements as on any day; the next build adds the column, the older rows' days left null."""
    con = duckdb.connect()
    con.execute("create schema build")
    con.execute("create table build.replacements (build_seq bigint, model varchar, replaced_seq bigint)")
    con.execute("insert into build.replacements values (2, null, null), (3, 'int_studies', 2)")
    assert Replacements.read(con, 2) == Replacements(2, {"int_studies": [(3, 2, None)]})
    assert Replacements.read(con, 2).of("int_studies", 2) == ([2], None)

    dbt_build.create_bookkeeping(con)  # as the next build does first
    con.execute("insert into build.replacements values (4, 'int_studies', 3, '2012-03-03')")
    log = Replacements.read(con, 2)
    assert log == Replacements(2, {"int_studies": [(3, 2, None), (4, 3, D3)]})
    assert log.of("int_studies", 2) == ([2, 3], None) and log.of("int_studies", 3) == ([3], [D3])
