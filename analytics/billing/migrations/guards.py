"""The ledger's immutability triggers, as DDL a revision runs: `install`, `drop`, and `lifted` for data migrations.

The database refuses UPDATE and DELETE (PostgreSQL: TRUNCATE too) of recorded rows and any step back of the
invoice counter (see analytics.billing.ledger). A revision states the guards it wants with `Guard` values and installs
them; the statements are exactly those sansfilm v0.1.0 created, so a ledger made before versioning and one made by
the revisions carry the same triggers (tests/integration/test_ledger_migrations.py compares them).

- A new immutable table: `install(op.get_bind(), table_guards("new_table"))` in the revision that creates it.
- SQLite batch operations (`op.batch_alter_table`) recreate the table and so drop its triggers: call
  `install(bind, table_guards("that_table"))` again right after the batch block.
- A data migration that must write into recorded rows (e.g. fill a new column computed from each row) does it inside
  `with lifted(bind, ["invoice"]):`, which drops the guards of those tables and puts them back before the revision
  ends, in the same transaction: no other writer ever sees the ledger unguarded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from sqlalchemy import Connection, text


class Guard(NamedTuple):
    name: str
    table: str
    op: str  # UPDATE | DELETE
    unless: str | None = None  # a WHEN condition: the operation is refused only when it holds


REFUSED = "sansfilm ledger: {op} on {table} refused: issued invoices are immutable"
PG_FUNCTION = """CREATE OR REPLACE FUNCTION sansfilm_ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'sansfilm ledger: % on % refused: issued invoices are immutable', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END $$"""
STEP_BACK = "NEW.last_value < OLD.last_value OR NEW.name <> OLD.name"


def table_guards(table: str) -> list[Guard]:
    """No UPDATE, no DELETE: the guards of a table whose rows, once recorded, never change."""
    return [Guard(f"{table}_no_{op.lower()}", table, op) for op in ("UPDATE", "DELETE")]


def counter_guards() -> list[Guard]:
    """The invoice counter moves forward only and is never deleted."""
    return [
        Guard("invoice_sequence_no_step_back", "invoice_sequence", "UPDATE", STEP_BACK),
        Guard("invoice_sequence_no_delete", "invoice_sequence", "DELETE"),
    ]


def statements(postgres: bool, guards: Sequence[Guard], present: set[str]) -> list[str]:
    """The DDL of the guards not `present` yet (PostgreSQL also refuses TRUNCATE of each guarded table)."""
    if not postgres:
        return [
            f"CREATE TRIGGER IF NOT EXISTS {g.name} BEFORE {g.op} ON {g.table} "
            f"{f'WHEN {g.unless} ' if g.unless else ''}"
            f"BEGIN SELECT RAISE(ABORT, '{REFUSED.format(op=g.op, table=g.table)}'); END"
            for g in guards
        ]
    run = "EXECUTE FUNCTION sansfilm_ledger_immutable()"
    wanted = {
        g.name: f"BEFORE {g.op} ON {g.table} FOR EACH ROW {f'WHEN ({g.unless}) ' if g.unless else ''}{run}"
        for g in guards
    }
    for table in {g.table: None for g in guards}:
        wanted[f"{table}_no_truncate"] = f"BEFORE TRUNCATE ON {table} FOR EACH STATEMENT {run}"
    missing = [f"CREATE TRIGGER {name} {body}" for name, body in wanted.items() if name not in present]
    return [PG_FUNCTION, *missing] if missing else []


def present(bind: Connection) -> set[str]:
    """Names of the user triggers in the database."""
    if bind.dialect.name == "postgresql":
        return set(bind.exec_driver_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").scalars())
    return set(bind.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())


def install(bind: Connection, guards: Sequence[Guard]) -> None:
    """Create the guards that are missing (an existing trigger of the same name is kept)."""
    for statement in statements(bind.dialect.name == "postgresql", guards, present(bind)):
        bind.execute(text(statement))  # text(): '%' reaches plpgsql as is


def drop(bind: Connection, tables: Sequence[str]) -> list[str]:
    """Drop every guard of these tables; returns the names dropped."""
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        found = bind.execute(
            text(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relname = ANY(:tables)"
            ),
            {"tables": list(tables)},
        ).all()
    else:
        found = bind.execute(
            text(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                f"({', '.join(f':t{i}' for i in range(len(tables)))})"
            ),
            {f"t{i}": t for i, t in enumerate(tables)},
        ).all()
    for name, table in found:
        bind.exec_driver_sql(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
    return [name for name, _ in found]


@contextmanager
def lifted(bind: Connection, tables: Sequence[str], guards: Sequence[Guard] | None = None) -> Iterator[None]:
    """Let the revision write into recorded rows of `tables`, then guard them again (by default with the standard
    guards of each table, plus the counter's when it is among them)."""
    drop(bind, tables)
    yield
    wanted = (
        list(guards)
        if guards is not None
        else [g for t in tables for g in (counter_guards() if t == "invoice_sequence" else table_guards(t))]
    )
    install(bind, wanted)
