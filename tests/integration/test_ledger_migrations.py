"""The ledger's Alembic revisions, on SQLite and a real PostgreSQL: a fresh ledger is exactly the schema the code
declares (compare_metadata finds nothing) with v0.1.0's triggers, like a v0.1.0 ledger upgraded; a revision can compute
new columns from the rows (guards lifted, SQLite batch mode, triggers back); one that fails half-way changes nothing."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from analytics.alerts import store as alert_store
from analytics.billing import ledger, schema
from analytics.billing.ledger import Ledger
from analytics.errors import SchemaVersionError
from analytics.quality import history
from analytics.upgrade import UpgradeFailed, upgrade_ledger
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)
from tests.v010 import ledger_rows, load_postgres, unpack

Factory = Callable[[bool], str]  # v0.1.0 ledger (True) or an empty database (False) -> its URL


@pytest.fixture(params=["sqlite", "postgresql"])
def ledgers(request, tmp_path) -> Factory:
    made = iter(range(100))

    def make(v010: bool) -> str:
        if request.param == "postgresql":
            url = request.getfixturevalue("postgres_database")()
            if v010:
                load_postgres(url)
            return url
        path = tmp_path / f"ledger-{next(made)}.sqlite"
        if v010:
            unpack("ledger.sqlite", path)
        return f"sqlite:///{path}"

    return make


def _connect(url: str):
    return ledger.engine(url)


def _differences(url: str) -> list:
    db = _connect(url)
    try:
        with db.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, [ledger.metadata, history.metadata, alert_store.metadata])
    finally:
        db.dispose()


def _triggers(url: str) -> dict[str, str]:
    db = _connect(url)
    try:
        with db.connect() as conn:
            if db.dialect.name == "sqlite":
                return dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all())
            found = dict(
                conn.exec_driver_sql(
                    "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
                ).all()
            )
            found["(function)"] = conn.exec_driver_sql(
                "SELECT prosrc FROM pg_proc WHERE proname = 'sansfilm_ledger_immutable'"
            ).scalar_one()
            return found
    finally:
        db.dispose()


def _columns(url: str, table: str) -> set[str]:
    db = _connect(url)
    try:
        with db.connect() as conn:
            return {c["name"] for c in sa.inspect(conn).get_columns(table)}
    finally:
        db.dispose()


def _refused_update(url: str) -> str:
    db = _connect(url)
    try:
        with pytest.raises(sa.exc.DBAPIError) as refused, db.begin() as conn:
            conn.exec_driver_sql("UPDATE invoice SET offer = offer")
        return str(refused.value)
    finally:
        db.dispose()


def test_fresh_ledger_is_the_declared_schema_and_v010_upgraded(ledgers: Factory):
    fresh, old = ledgers(False), ledgers(True)
    Ledger(fresh).dispose()  # a new ledger is made by running the revisions
    assert upgrade_ledger(old).after == schema.head()
    assert _differences(fresh) == []  # nobody changed a table without its revision
    assert _differences(old) == []
    assert _triggers(fresh) == _triggers(old)
    guarded = {f"{t}_no_{op}" for t in ledger.metadata.tables if t != "invoice_sequence" for op in ("update", "delete")}
    assert guarded | {"invoice_sequence_no_delete"} <= set(_triggers(fresh))  # every ledger table is immutable
    assert len([t for t in _triggers(fresh) if t.startswith("invoice_sequence_")]) >= 2  # the counter guarded too
    assert "immutable" in _refused_update(old)


def test_other_versions_are_refused_in_one_line(ledgers: Factory):
    old = ledgers(True)
    with pytest.raises(SchemaVersionError, match=r"before versioning.*run `sansfilm upgrade`"):
        Ledger(old)
    upgrade_ledger(old)
    db = _connect(old)
    with db.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9000'")
    db.dispose()
    for opening in (lambda: Ledger(old), lambda: Ledger(old, read_only=True), lambda: history.latest(old)):
        with pytest.raises(SchemaVersionError) as refused:
            opening()
        message = str(refused.value)
        assert "\n" not in message and f"9000, newer than this sansfilm, which needs {schema.head()}" in message
    with pytest.raises(SchemaVersionError, match="newer"):
        upgrade_ledger(old)


def _revisions_with(tmp_path: Path, monkeypatch, body: str) -> None:
    """Point the ledger's migrations at a copy holding one more revision (id 9999) with this upgrade() body."""
    copy = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "versions" / "9999_injected.py").write_text(
        f'"""Injected by the test."""\nfrom decimal import Decimal\n\nimport sqlalchemy as sa\nfrom alembic import op\n'
        f"from analytics.billing.migrations import guards\n"
        f'revision = "9999"\ndown_revision = {schema.head()!r}\nbranch_labels = depends_on = None\n\n\n'
        f"def upgrade():\n    bind = op.get_bind()\n{body}\n\n\ndef downgrade():\n    raise NotImplementedError\n"
    )
    monkeypatch.setattr(schema, "MIGRATIONS", copy)


COMPUTED = """
    op.add_column("invoice", sa.Column("net_cents", sa.Integer))
    rows = bind.execute(sa.text("SELECT number, net FROM invoice ORDER BY seq")).all()
    with guards.lifted(bind, ["invoice"]):
        for number, net in rows:
            bind.execute(sa.text("UPDATE invoice SET net_cents = :c WHERE number = :n"),
                         {"c": int(Decimal(str(net)) * 100), "n": number})
    with op.batch_alter_table("invoice") as batch:  # SQLite: the table is rebuilt, its triggers go with it
        batch.alter_column("net_cents", existing_type=sa.Integer, nullable=False)
    guards.install(bind, guards.table_guards("invoice"))
"""


def test_a_revision_computes_new_columns_from_the_rows(ledgers: Factory, tmp_path, monkeypatch):
    old = ledgers(True)
    before = ledger_rows(old)
    _revisions_with(tmp_path, monkeypatch, COMPUTED)
    assert upgrade_ledger(old).after == "9999"
    db = _connect(old)
    with db.connect() as conn:
        cents = dict(conn.exec_driver_sql("SELECT number, net_cents FROM invoice").all())
        nullable = {c["name"]: c["nullable"] for c in sa.inspect(conn).get_columns("invoice")}["net_cents"]
    db.dispose()
    assert cents == {r["number"]: int(Decimal(r["net"]) * 100) for r in before["invoice"]} and not nullable
    assert "immutable" in _refused_update(old)  # the guards are back after the lift and the table rebuild
    assert {t: r for t, r in ledger_rows(old).items() if t in before} == before


FAILING = """
    op.add_column("invoice", sa.Column("probe", sa.String(8)))
    with guards.lifted(bind, ["invoice"]):
        bind.execute(sa.text("UPDATE invoice SET probe = 'x'"))
    raise RuntimeError("injected failure half-way")
"""


def test_a_failed_revision_leaves_the_ledger_as_it_was(ledgers: Factory, tmp_path, monkeypatch):
    old = ledgers(True)
    file = Path(sa.make_url(old).database) if old.startswith("sqlite") else None
    before, triggers = ledger_rows(old), _triggers(old)
    digest = hashlib.sha256(file.read_bytes()).hexdigest() if file else None
    _revisions_with(tmp_path, monkeypatch, FAILING)
    with pytest.raises(UpgradeFailed) as failed:
        upgrade_ledger(old)
    message = str(failed.value)
    assert "injected failure half-way" in message and "rolled back" in message and "\n" not in message
    assert ledger_rows(old) == before and _triggers(old) == triggers
    assert "probe" not in _columns(old, "invoice") and "alembic_version" not in _tables(old)
    if file is not None:
        assert hashlib.sha256(file.read_bytes()).hexdigest() == digest  # not a byte changed
        assert [p.name.startswith("ledger-") for p in file.parent.glob("*.bak")] == [True]  # the copy made first
    monkeypatch.undo()
    assert upgrade_ledger(old).after == schema.head()  # the real revisions still apply


def _tables(url: str) -> set[str]:
    db = _connect(url)
    try:
        with db.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        db.dispose()
