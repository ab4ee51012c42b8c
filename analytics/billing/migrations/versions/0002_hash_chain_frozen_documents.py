"""Hash chain, frozen parties and document hashes; the counter moves only by issuing (issue 12).

- Every recorded row gets `chain_seq`, `prev_hash`, `row_hash` (analytics.billing.chain); the counter gets the
  chain's length and head. New tables: `invoice_party` (seller and buyer as the documents show them) and
  `invoice_document` (each document's file name and SHA-256), both chained and immutable.
- The counter's guard becomes "moves only by issuing": to the last invoice's sequence value, chain never shorter
  (SQLite: a WHEN with a subquery; PostgreSQL, which allows none in WHEN: a function).
- Data for the invoices issued before this revision, computed from what the rows hold and, where the rows cannot
  tell, from the documents issued then (under `[billing] out_dir/<month>/`):
  * the chain: months in the order they were recorded (`recorded_at`, then month), each followed by its invoices in
    number order, each invoice by its lines, usage, revision, parties and documents (the order a new issue uses);
  * the parties: from the invoice's own CII XML as issued (seller and buyer: name, SIRET, FINESS, VAT id, address),
    since that is what the invoice showed; without the XML, from the contract files as they are at the upgrade
    (framework.yaml's seller, the registry's establishment), which is what v0.1.0 would have printed on a rewrite;
    neither: no party row (its documents then cannot be rendered from the ledger, `check` says so);
  * the documents: the SHA-256 of each file found, as it is: issued documents stay byte-identical and any later
    change is detected. A file missing at the upgrade gets no row (`check` reports it). v0.1.0 PDFs carried the time
    they were written, so they cannot be re-rendered byte for byte: `--rewrite-documents` refuses to replace one
    (restore it from a backup); XML and CSV re-render identically.
  The canonical form of a row is analytics.billing.chain's (imported: the chain's format is a contract of its own;
  changing it would need a revision that re-chains).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from lxml import etree

from analytics.billing.chain import GENESIS, ChainWriter
from analytics.billing.migrations import guards

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

EXACT = sa.String(64).with_variant(sa.Numeric(asdecimal=True), "postgresql")
OLD_TABLES = ("issued_month", "invoice", "invoice_line", "invoice_usage", "invoice_revision")
NEW_TABLES = ("invoice_party", "invoice_document")
EXACT_COLUMNS = {
    "vat_rate",
    "net",
    "vat",
    "gross",
    "quantity",
    "unit_price",
    "amount",
    "a",
    "b",
    "coefficient",
    "current_value",
    "base_value",
}
KEYS = {
    "issued_month": ("month",),
    "invoice": ("number",),
    "invoice_line": ("invoice_number", "position"),
    "invoice_usage": ("invoice_number", "metric"),
    "invoice_revision": ("invoice_number",),
}
ORDER = {"invoice_line": "position", "invoice_usage": "position", "invoice_revision": "invoice_number"}

MOVED = (
    "NEW.name <> OLD.name OR NEW.chain_length < OLD.chain_length "
    "OR NEW.last_value <> (SELECT COALESCE(MAX(seq), 0) FROM invoice)"
)
SEQUENCE_REFUSED = (
    "sansfilm ledger: UPDATE on invoice_sequence refused: issued invoices are immutable and the "
    "sequence moves only by issuing"
)
PG_SEQUENCE_FUNCTION = f"""CREATE OR REPLACE FUNCTION sansfilm_ledger_sequence_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {MOVED} THEN
    RAISE EXCEPTION '{SEQUENCE_REFUSED}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$"""


def _chain_columns(table: str) -> list[Any]:
    return [
        sa.Column("chain_seq", sa.Integer),
        sa.Column("prev_hash", sa.String(64)),
        sa.Column("row_hash", sa.String(64)),
        sa.Index(f"ix_{table}_chain_seq", "chain_seq", unique=True),
    ]


meta = sa.MetaData()
sa.Table("invoice", meta, sa.Column("number", sa.String(32), primary_key=True))  # created by 0001: referenced only
invoice_party = sa.Table(
    "invoice_party",
    meta,
    sa.Column("invoice_number", sa.String(32), sa.ForeignKey("invoice.number"), primary_key=True),
    sa.Column("role", sa.String(8), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("siret", sa.String(14), nullable=False),
    sa.Column("finess", sa.String(9)),
    sa.Column("vat_id", sa.String(32)),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("postcode", sa.String(16), nullable=False),
    sa.Column("city", sa.Text, nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    *_chain_columns("invoice_party"),
)
invoice_document = sa.Table(
    "invoice_document",
    meta,
    sa.Column("invoice_number", sa.String(32), sa.ForeignKey("invoice.number"), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("file_name", sa.String(64), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    *_chain_columns("invoice_document"),
)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for table in OLD_TABLES:
        for column in _chain_columns(table)[:3]:
            op.add_column(table, column)
        op.create_index(f"ix_{table}_chain_seq", table, ["chain_seq"], unique=True)
    op.add_column("invoice_sequence", sa.Column("chain_length", sa.Integer, nullable=False, server_default="0"))
    op.add_column("invoice_sequence", sa.Column("chain_head", sa.String(64), nullable=False, server_default=GENESIS))
    meta.create_all(bind, tables=[invoice_party, invoice_document])
    guards.drop(bind, [*OLD_TABLES, "invoice_sequence"])
    _chain_existing_rows(bind)
    guards.install(
        bind,
        [g for t in (*OLD_TABLES, *NEW_TABLES) for g in guards.table_guards(t)]
        + [guards.Guard("invoice_sequence_no_delete", "invoice_sequence", "DELETE")],
    )
    if postgres:
        bind.execute(sa.text(PG_SEQUENCE_FUNCTION))
        bind.execute(
            sa.text(
                "CREATE TRIGGER invoice_sequence_moves_by_issuing BEFORE UPDATE ON invoice_sequence "
                "FOR EACH ROW EXECUTE FUNCTION sansfilm_ledger_sequence_guard()"
            )
        )
    else:
        bind.execute(
            sa.text(
                f"CREATE TRIGGER invoice_sequence_moves_by_issuing BEFORE UPDATE ON invoice_sequence "
                f"WHEN {MOVED} BEGIN SELECT RAISE(ABORT, '{SEQUENCE_REFUSED}'); END"
            )
        )


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded: restore the copy `sansfilm upgrade` made")


# --- data: the chain, the parties and the document hashes of what was issued before ---------------------------------


def _rows(bind: sa.Connection, table: str, where: str = "", **params: Any) -> list[dict[str, Any]]:
    """Rows as the ledger reads them: Decimals for the exact columns (text on SQLite), dates as dates."""
    reflected = sa.Table(table, sa.MetaData(), autoload_with=bind)
    query = sa.select(reflected)
    if where:
        query = query.where(sa.text(where).bindparams(**params))
    if table in ORDER:
        query = query.order_by(reflected.c[ORDER[table]])
    rows = []
    for row in bind.execute(query).mappings():
        content = {k: (Decimal(str(v)) if k in EXACT_COLUMNS and v is not None else v) for k, v in row.items()}
        rows.append({k: v for k, v in content.items() if k not in ("chain_seq", "prev_hash", "row_hash")})
    return rows


def _chain_existing_rows(bind: sa.Connection) -> None:
    attributes = context.config.attributes
    documents_dir = Path(attributes["documents_dir"]) if attributes.get("documents_dir") else None
    fallback = _contract_parties(attributes.get("contracts_dir"))
    chain = ChainWriter(0, GENESIS)
    months = sorted(_rows(bind, "issued_month"), key=lambda m: (m["recorded_at"], m["month"]))
    for month in months:
        _link(bind, chain, "issued_month", month)
        invoices = sorted(_rows(bind, "invoice", "month = :m", m=month["month"]), key=lambda i: i["seq"])
        for head in invoices:
            number = head["number"]
            _link(bind, chain, "invoice", head)
            for table in ("invoice_line", "invoice_usage", "invoice_revision"):
                for row in _rows(bind, table, "invoice_number = :n", n=number):
                    _link(bind, chain, table, row)
            folder = documents_dir / month["month"] if documents_dir else None
            stem = re.sub(r"[^A-Za-z0-9._-]", "_", number)
            xml = folder / f"{stem}.xml" if folder else None
            parties = _xml_parties(xml) if xml is not None and xml.is_file() else fallback(head["establishment_id"])
            for role in ("seller", "buyer"):
                if role in parties:
                    _insert(bind, chain, invoice_party, {"invoice_number": number, "role": role, **parties[role]})
            for kind in ("csv", "pdf", "xml"):
                path = folder / f"{stem}.{kind}" if folder else None
                if path is not None and path.is_file():
                    data = path.read_bytes()
                    _insert(
                        bind,
                        chain,
                        invoice_document,
                        {
                            "invoice_number": number,
                            "kind": kind,
                            "file_name": path.name,
                            "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(),
                        },
                    )
    bind.execute(
        sa.text("UPDATE invoice_sequence SET chain_length = :n, chain_head = :h WHERE name = 'invoice'"),
        {"n": chain.length, "h": chain.head},
    )


def _link(bind: sa.Connection, chain: ChainWriter, table: str, row: dict[str, Any]) -> None:
    linked = chain.link(table, row)
    keys = KEYS[table]
    bind.execute(
        sa.text(
            f"UPDATE {table} SET chain_seq = :chain_seq, prev_hash = :prev_hash, row_hash = :row_hash WHERE "
            + " AND ".join(f"{k} = :k_{k}" for k in keys)
        ),
        {
            "chain_seq": linked["chain_seq"],
            "prev_hash": linked["prev_hash"],
            "row_hash": linked["row_hash"],
            **{f"k_{k}": row[k] for k in keys},
        },
    )


def _insert(bind: sa.Connection, chain: ChainWriter, table: sa.Table, row: dict[str, Any]) -> None:
    bind.execute(table.insert().values(chain.link(table.name, row)))


NS = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


def _xml_parties(path: Path) -> dict[str, dict[str, Any]]:
    """Seller and buyer as the issued CII XML shows them (the file sansfilm itself wrote)."""
    root = etree.fromstring(path.read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True))
    parties = {}
    for role, tag in (("seller", "SellerTradeParty"), ("buyer", "BuyerTradeParty")):
        party = root.find(f".//ram:{tag}", NS)
        if party is None:
            continue

        def text(xpath: str, element: Any = party) -> str | None:
            found = element.find(xpath, NS)
            return found.text if found is not None else None

        address = party.find("ram:PostalTradeAddress", NS)
        lines = (
            [t for t in (text(f"ram:{n}", address) for n in ("LineOne", "LineTwo", "LineThree")) if t]
            if (address is not None)
            else []
        )
        parties[role] = {
            "name": text("ram:Name") or "",
            "siret": text("ram:SpecifiedLegalOrganization/ram:ID") or "",
            "finess": text("ram:ID") if role == "buyer" else None,
            "vat_id": text("ram:SpecifiedTaxRegistration/ram:ID"),
            "address": json.dumps(lines, ensure_ascii=False),
            "postcode": (text("ram:PostcodeCode", address) if address is not None else None) or "",
            "city": (text("ram:CityName", address) if address is not None else None) or "",
            "country": (text("ram:CountryID", address) if address is not None else None) or "FR",
        }
    return parties


def _contract_parties(contracts_dir: str | None) -> Any:
    """Establishment id -> parties from the contract files as they are now (no XML to read them from)."""
    if not contracts_dir:
        return lambda _establishment_id: {}
    from analytics.billing.tariff import load_tariff
    from analytics.registry import load_registry

    registry = load_registry(Path(contracts_dir)).by_id()
    seller = load_tariff(Path(contracts_dir), {e.offer for e in registry.values()}).seller

    def parties(establishment_id: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for role, party in (("seller", seller), ("buyer", None)):
            if role == "buyer" and establishment_id in registry:
                e = registry[establishment_id]
                found[role] = {
                    "name": e.name,
                    "siret": e.siret,
                    "finess": e.establishment_id,
                    "vat_id": None,
                    "address": "[]",
                    "postcode": "",
                    "city": "",
                    "country": "FR",
                }
            elif party is not None:
                found[role] = {
                    "name": party.name,
                    "siret": party.siret,
                    "finess": party.finess,
                    "vat_id": party.vat_id,
                    "address": json.dumps(list(party.address), ensure_ascii=False),
                    "postcode": party.postcode,
                    "city": party.city,
                    "country": party.country,
                }
        return found

    return parties
