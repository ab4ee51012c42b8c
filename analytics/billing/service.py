"""A month's invoices end to end: meter, draft, regularise earlier months, issue into the ledger, write documents.

The CLI and the Dagster assets call these; each is a plain function over the settings.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from shlex import quote

from analytics import metering, warehouse
from analytics.billing.contracts import Contracts, load_contracts
from analytics.billing.credits import credit_lines, subscription_fees
from analytics.billing.model import Invoice, InvoiceLine, Party
from analytics.billing.regularisation import Credited, line_credits, regularisations
from analytics.billing.revision import require_revision_indices
from analytics.billing.rules import draft_invoice, month_prices
from analytics.config import Settings
from analytics.errors import ContractError, SansfilmError
from analytics.opinions.service import record_months as record_opinions
from analytics.periods import Month
from analytics.quality import runner
from analytics.registry import Establishment
from analytics.sla.measure import Assessment, assess_month


def meter(settings: Settings, months: list[Month]) -> dict[Month, dict[str, dict[str, Decimal]]]:
    """Meter the months in the working warehouse (idempotent) and return their usage."""
    warehouse.require_exists(settings.warehouse.path)
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
        # metering rewrites its facts and the run checks them again after: their failed checks wait for that (not
        # the models': they stop metering)
        warehouse.require_built(con, settings.warehouse.path, rewritten=runner.METERED)
        result = {}
        for month in months:
            metering.meter_month(con, month)
            record_opinions(con, settings, [month])
            result[month] = metering.monthly_usage(con, month)
        return result


def assess_service_levels(settings: Settings, contracts: Contracts, month: Month) -> list[Assessment]:
    """The month's service levels per establishment and term (and marts.mart_service_levels rewritten for it);
    nothing when the agreement has no service levels or does not cover the month."""
    fees = subscription_fees(contracts.registry, contracts.tariff, month)
    if contracts.service_levels is None or not fees:
        return []
    with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
        return assess_month(con, month, contracts.service_levels, fees)


def draft_month(
    contracts: Contracts, month: Month, usage: dict[str, dict[str, Decimal]], only: Collection[str] | None = None
) -> list[Invoice]:
    """One draft per establishment with an active day in the month (of those in `only`, if given), in establishment
    order."""
    drafts = []
    prices = month_prices(contracts.tariff, month)
    for establishment in sorted(contracts.registry.establishments, key=lambda e: e.establishment_id):
        if only is not None and establishment.establishment_id not in only:
            continue
        invoice = draft_invoice(
            establishment,
            month,
            usage.get(establishment.establishment_id, metering.zero_usage()),
            contracts.tariff,
            prices,
        )
        if invoice is not None:
            drafts.append(invoice)
    return drafts


def with_regularisations(
    drafts: list[Invoice], regul: dict[str, list[InvoiceLine]], contracts: Contracts, month: Month
) -> list[Invoice]:
    """Add each establishment's regularisation lines to its invoice of the month (or to one of its own)."""
    by_id = {d.establishment_id: d for d in drafts}
    establishments = contracts.registry.by_id()
    for establishment_id, lines in regul.items():
        if not lines:
            continue
        if establishment_id in by_id:
            by_id[establishment_id] = replace(
                by_id[establishment_id], lines=by_id[establishment_id].lines + tuple(lines)
            )
        else:
            establishment = establishments[establishment_id]
            by_id[establishment_id] = Invoice(
                establishment_id=establishment_id,
                month=month,
                offer=establishment.offer,
                active_days=0,
                days_in_month=month.days,
                lines=tuple(lines),
                vat_rate=contracts.tariff.vat_rate,
                currency=contracts.tariff.currency,
                contract_id=contracts.tariff.contract_id,
            )
    return [by_id[k] for k in sorted(by_id)]


def inputs_sha256(contracts: Contracts, invoices: list[Invoice]) -> str:
    """A hash of everything an issued month was computed from: contracts, usage and lines."""
    payload = {
        "contracts": contracts.fingerprint,
        "invoices": [
            {
                "establishment_id": i.establishment_id,
                "month": str(i.month),
                "usage": {k: str(v) for k, v in sorted(i.usage.items())},
                "lines": [[l.code, str(l.quantity), str(l.unit_price), str(l.amount), l.reference] for l in i.lines],
            }
            | ({"revision": str(i.revision.coefficient)} if i.revision else {})
            for i in invoices
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def buyer_party(establishment: Establishment) -> Party:
    return Party(name=establishment.name, siret=establishment.siret, finess=establishment.establishment_id)


def seller_party(contracts: Contracts) -> Party:
    if contracts.tariff.seller is None:
        raise ContractError(contracts.tariff.path, "a seller block is required to issue invoices", field="seller")
    return contracts.tariff.seller


@dataclass(frozen=True)
class IssueOutcome:
    month: Month
    already_issued: bool
    invoices: list[Invoice]  # as recorded in the ledger
    inputs_sha256: str
    documents: list[Path]


def preview(settings: Settings, month: Month, establishment_id: str | None = None) -> list[Invoice]:
    """What issuing the month would produce now (regularisations of issued months and the credits of the previous
    month's service-level breaches included); changes no ledger."""
    from analytics.billing.ledger import Ledger

    contracts = load_contracts(settings)
    if establishment_id is not None and establishment_id not in contracts.registry.by_id():
        raise SansfilmError(
            f"--establishment {establishment_id} is not in the registry ({contracts.registry.path}): give one of its "
            "FINESS numbers"
        )
    ledger = Ledger(settings.ledger.url)
    try:
        issued_months = [m for m in ledger.issued_months() if m < month]
        issued = {m: ledger.invoices_for_month(m) for m in issued_months}
        credited = line_credits(ledger)
    finally:
        ledger.dispose()
    usage = meter(settings, [*issued_months, month])
    credits = credit_lines(assess_service_levels(settings, contracts, month.previous()), contracts.tariff.currency)
    only = None if establishment_id is None else {establishment_id}
    return month_invoices(contracts, month, usage, issued, only, extra=credits, credited=credited)


def month_invoices(
    contracts: Contracts,
    month: Month,
    usage: dict[Month, dict[str, dict[str, Decimal]]],
    issued: dict[Month, list[Invoice]],
    only: Collection[str] | None = None,
    extra: dict[str, list[InvoiceLine]] | None = None,
    credited: Credited | None = None,
) -> list[Invoice]:
    """The month's invoices from this usage: its drafts plus the regularisations of the issued months (usage must
    hold the month and every issued month; `credited`: what credit notes took off their lines) and any `extra` lines
    per establishment; those of the establishments in
    `only`, if given (the others are not drafted). Pure: the CLI preview passes fresh metering, the dashboards the
    published usage, so both show the same lines."""
    drafts = draft_month(contracts, month, usage[month], only)
    lines = regularisations(contracts, issued, usage, credited)
    for establishment, more in (extra or {}).items():
        lines[establishment] = lines.get(establishment, []) + more
    if only is not None:
        lines = {establishment: more for establishment, more in lines.items() if establishment in only}
    return with_regularisations(drafts, lines, contracts, month)


def no_activity(invoices: list[Invoice]) -> bool:
    """Whether a month's invoices bill no activity at all: no study archived, retrieved, shared or viewed, no
    opinion, by any establishment (storage alone carries over from the month before). A month nobody harvested, most
    likely: its invoices would hold subscriptions, storage and minimums only."""
    return bool(invoices) and not any(
        value for invoice in invoices for metric, value in invoice.usage.items() if metric != "storage_gb_month"
    )


def agreement_months(contracts: Contracts, months: list[Month]) -> list[Month]:
    """The months the framework agreement prices (a month outside it is refused by the rules)."""
    return [m for m in months if contracts.tariff.covers(m)]


def write_month_drafts(settings: Settings, month: Month) -> tuple[Path, list[Invoice]]:
    """Draft a month as issuing would now (regularisations included) and write it under [billing] out_dir/drafts."""
    from analytics.billing.export import write_drafts

    invoices = preview(settings, month)
    return write_drafts(settings.billing.out_dir, month, invoices), invoices


def issue(
    settings: Settings,
    month: Month,
    *,
    issue_date: date,
    today: date,
    out_dir: Path | None = None,
    actor: str | None = None,
) -> IssueOutcome:
    """Issue a month once: number its invoices in the ledger (their parties and the SHA-256 of their documents
    frozen with them), then write the documents rendered from the ledger. `today`: the Paris day of the caller's
    clock. Documents go under out_dir/<month>/ (default [billing] out_dir, where `check` looks for them). On a month
    already issued, nothing changes, on disk either (see rewrite_documents). `actor`: who issues (the dashboards
    user; the OS user by default), recorded in the ledger's audit trail with the month."""
    from analytics.billing.documents import render_documents
    from analytics.billing.ledger import Ledger, check_issue_date
    from analytics.quality import require_error_checks_pass

    contracts = load_contracts(settings)
    seller = seller_party(contracts)
    first = contracts.tariff.first_month
    ledger = Ledger(settings.ledger.url)
    try:
        issued_months = ledger.issued_months()
        drafts: list[Invoice] = []
        if month not in issued_months:
            ledger.check_next(month, first)  # early and cheap; decided again under the ledger's lock
            check_issue_date(month, issue_date, today)
            require_revision_indices(contracts.tariff, month)  # a missing index value: refuse, write nothing
            establishments = contracts.registry.by_id()
            terms = contracts.tariff.payment_terms

            def priced() -> list[Invoice]:
                require_writable(out_dir or settings.billing.out_dir, month)  # never number what cannot be written
                return [
                    replace(
                        d,
                        seller=seller,
                        buyer=buyer_party(establishments[d.establishment_id]),
                        payment_days=terms.days_for(establishments[d.establishment_id].sector),
                    )
                    for d in preview(settings, month)
                ]

            # never issue on broken data (the failed `error` checks are listed): the gate runs around the pricing,
            # so that it checks the metered facts as the preview meters and prices them, not as metered before
            drafts = require_error_checks_pass(settings, priced)
        # the ledger decides atomically: a concurrent or repeated call finds the month issued and changes nothing
        result = ledger.issue_month(
            month,
            drafts,
            inputs_sha256=inputs_sha256(contracts, drafts),
            issue_date=issue_date,
            first_month=first,
            today=today,
            basis=issued_months,
            render=render_documents,
            actor=actor,
        )
        invoices = ledger.invoices_for_month(month)
    finally:
        ledger.dispose()
    documents: list[Path] = []
    if not result.already_issued:
        folder = out_dir or settings.billing.out_dir
        try:
            documents = write_month_documents(settings, month, folder)
        except OSError as exc:  # the folder changed since it was checked: the ledger holds the month, the disk not yet
            numbers = f"{invoices[0].number} to {invoices[-1].number}" if invoices else "no invoice"
            given = out_dir is not None and out_dir != settings.billing.out_dir  # else no --out: credit notes too
            repair = f"sansfilm bill --month {month} --rewrite-documents" + (
                f" --out {quote(str(out_dir))}" if given else ""
            )
            raise SansfilmError(
                f"{month} is issued ({numbers}) but its documents could not be written under {folder / str(month)} "
                f"({exc.strerror or type(exc).__name__}): make it writable, then run `{repair}`"
            ) from None
    return IssueOutcome(month, result.already_issued, invoices, result.inputs_sha256, documents)


def require_writable(out_dir: Path, month: Month) -> None:
    """Refuse (SansfilmError) before anything is numbered when the month's documents could not be written under
    out_dir/<month>/: a path that is a file, a folder sansfilm may not create or write in. It tries out_dir, which it
    may create, not the month's folder: that one would be left behind if the ledger refused the month, and two
    issues at once would race to remove it."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise SansfilmError(
            f"the documents of {month} cannot be written under {out_dir / str(month)} "
            f"({exc.strerror or type(exc).__name__}): nothing was issued; give --out a folder sansfilm may write, or "
            "correct [billing] out_dir"
        ) from None


def write_month_documents(settings: Settings, month: Month, out_dir: Path, *, only_damaged: bool = False) -> list[Path]:
    """Render every document of the month's issued invoices from the ledger and write it under out_dir/<month>/, after
    checking that it gives the SHA-256 recorded in the ledger (a sansfilm that renders differently refuses, writing
    nothing). only_damaged: write only the documents missing or altered on disk. The paths written."""
    from analytics.billing.documents import render_documents, sha256_of, write_documents
    from analytics.billing.ledger import Ledger, LedgerError

    with Ledger(settings.ledger.url) as ledger:
        invoices = ledger.invoices_for_month(month)
        recorded = ledger.documents(month)
    folder = out_dir / str(month)
    rendered = []
    for invoice in invoices:
        assert invoice.number is not None
        expected = recorded.get(invoice.number, {})
        if not expected:
            raise LedgerError(
                f"the ledger at {settings.ledger.url} records no documents for {invoice.number}: they "
                "cannot be written from it"
            )
        wanted = {kind for kind, (name, sha) in expected.items() if not only_damaged or sha256_of(folder / name) != sha}
        if not wanted:
            continue
        documents = render_documents(invoice)
        for kind in sorted(wanted):
            name, sha = expected[kind]
            if hashlib.sha256(documents.get(kind, b"")).hexdigest() != sha:
                raise LedgerError(
                    f"{name} rendered from the ledger does not give the SHA-256 recorded when "
                    f"{invoice.number} was issued ({sha[:12]}…): this sansfilm renders it differently "
                    "(a document issued before sansfilm 0.2 is not re-rendered byte for byte: restore it "
                    "from a backup); nothing was written"
                )
        rendered.append(({k: documents[k] for k in wanted}, {kind: name for kind, (name, _) in expected.items()}))
    return [path for documents, names in rendered for path in write_documents(documents, names, folder)]


def rewrite_documents(settings: Settings, month: Month, out_dir: Path) -> list[Path]:
    """`bill --month M --rewrite-documents`: the month's missing or altered documents written again from the ledger,
    byte for byte as issued; the paths written."""
    from analytics.billing.ledger import Ledger, LedgerError

    with Ledger(settings.ledger.url) as ledger:
        if not ledger.issued(month):
            raise LedgerError(f"{month} is not issued in the ledger at {ledger.url}: it has no documents to rewrite")
    return write_month_documents(settings, month, out_dir, only_damaged=True)
