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
    return _found(con, "tables", table)


def column_exists(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether `schema.table` of the connection's current database has a column named `column`."""
    return _found(con, "columns", table, column)


def _found(con: duckdb.DuckDBPyConnection, view: str, table: str, column: str | None = None) -> bool:
    schema, name = table.split(".")
    query = f"""select count(*) from information_schema.{view}
                where table_catalog = current_database() and table_schema = ? and table_name = ?"""
    if column is not None:
        query += " and column_name = ?"
    found = con.execute(query, [schema, name] + ([column] if column is not None else [])).fetchall()
    return found[0][0] > 0
