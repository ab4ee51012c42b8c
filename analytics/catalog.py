"""What the database a connection works on holds. Only that database: a publish attaches its copy beside it
(analytics.publish), and a table of the copy must never be taken for one of the warehouse."""

from __future__ import annotations

import duckdb


def tables(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """The `(schema, name)` of every table and view in the connection's current database."""
    return set(
        con.execute(
            """select table_schema, table_name from information_schema.tables
               where table_catalog = current_database()"""
        ).fetchall()
    )


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `schema.table` (a table or a view) exists in the connection's current database."""
    schema, name = table.split(".")
    found = con.execute(
        """select count(*) from information_schema.tables
           where table_catalog = current_database() and table_schema = ? and table_name = ?""",
        [schema, name],
    ).fetchall()
    return found[0][0] > 0
