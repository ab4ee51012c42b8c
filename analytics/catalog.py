"""What the database a connection works on holds. Only that database: a publish attaches its copy beside it
(analytics.publish), and a table of the copy must never be taken for one of the warehouse."""

from __future__ import annotations

import duckdb


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `schema.table` (a table or a view) exists in the connection's current database."""
    schema, name = table.split(".")
    return (
        con.execute(
            """select count(*) from information_schema.tables
               where table_catalog = current_database() and table_schema = ? and table_name = ?""",
            [schema, name],
        ).fetchall()[0][0]
        > 0
    )
