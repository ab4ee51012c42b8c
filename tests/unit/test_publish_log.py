"""Which of the copy's rows a publish reads to delete a key written since its last update (build.replacements)."""

from __future__ import annotations

import duckdb

from analytics.publish import Replacements


def test_the_builds_whose_rows_were_replaced_since_the_copy_s_update():
    log = Replacements(3, {"int_studies": [(3, 1), (4, 1), (5, 2), (5, 4)], "stg_audit_studies": [(4, None)]})
    assert log.among("int_studies", 3) == [1, 2, 4]  # builds 4 and 5 replaced rows of builds 1, 2 and 4
    assert log.among("int_studies", 4) == [2, 4]
    assert log.among("int_studies", 2) == [1, 2, 4]  # build 3 is logged: the log reaches back to the update
    assert log.among("int_studies", 5) == []  # nothing written since: nothing replaced
    assert log.among("int_study_owners", 3) == []  # a model that replaced no row
    assert log.among("int_studies", 1) is None  # build 2 wrote before the log began: anywhere
    assert log.among("stg_audit_studies", 3) is None  # a row replaced had no stamp: anywhere
    assert Replacements(None, {}).among("int_studies", 9) is None  # a warehouse built before the log was kept


def test_the_log_is_read_once_from_the_warehouse():
    con = duckdb.connect()
    assert Replacements.read(con, 1) == Replacements(None, {})  # no log kept
    con.execute("create schema build")
    con.execute("create table build.replacements (build_seq bigint, model varchar, replaced_seq bigint)")
    con.execute(
        """insert into build.replacements values
           (2, null, null), (3, 'int_studies', 2), (3, 'int_studies', 1), (4, 'int_studies', 3), (3, 'x', 2)"""
    )
    assert Replacements.read(con, 1) == Replacements(2, {"int_studies": [(3, 1), (3, 2), (4, 3)], "x": [(3, 2)]})
    assert Replacements.read(con, 3) == Replacements(2, {"int_studies": [(4, 3)]})  # only the builds after the copy's
    assert Replacements.read(con, None) == Replacements(2, {})  # the copy holds no keyed table: no pair is asked for
