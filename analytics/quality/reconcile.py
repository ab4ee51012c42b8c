"""Reconciliations: figures that must agree across tables, or across the warehouse and the ledger.

Each returns a `Measure` (rules.py) that Great Expectations checks against the rule's threshold; examples carry
identifiers only (harvest ids, StudyInstanceUIDs, FINESS numbers, invoice numbers), never patient data.
"""

from __future__ import annotations

from decimal import Decimal

from analytics import metering
from analytics.metrics import METRICS
from analytics.periods import Month
from analytics.quality.contracts import Rule
from analytics.quality.rules import Measure, RunContext, base_details, sql
from analytics.warehouse import table_exists

EXAMPLES = 5


def harvest_files_accounted(ctx: RunContext, rule: Rule) -> Measure:
    """Per finished harvest run: files seen = parsed + unchanged + quarantined."""
    rows = ctx.con.execute(sql("harvest_runs_unbalanced")).fetchall()
    runs = ctx.con.execute("select count(*) from raw.harvest_runs where finished_at is not null").fetchall()[0][0]
    examples = [
        f"{h} ({s}): seen {seen} != parsed {p} + unchanged {u} + quarantined {q}"
        for h, s, seen, p, u, q in rows[:EXAMPLES]
    ]
    return Measure([len(rows)], len(rows), 0, base_details(rule, runs=runs, examples=examples))


def receipts_match_studies(ctx: RunContext, rule: Rule) -> Measure:
    """Harvested studies without a receipt event, and received studies never harvested, as a share of all studies."""
    rows = {
        side: (n, examples, total)
        for side, n, examples, total in ctx.con.execute(sql("receipts_vs_studies")).fetchall()
    }
    total = next(iter(rows.values()))[2] if rows else 0
    missing = sum(n for n, _, _ in rows.values())
    share = round(missing / total, 6) if total else 0.0
    sides = {side: {"studies": n, "examples": list(examples)} for side, (n, examples, _) in rows.items()}
    details = base_details(rule, max_share=rule.params["max_share"], studies=total, **sides)
    return Measure([share], share, rule.params["max_share"], details)


def usage_daily_matches_monthly(ctx: RunContext, rule: Rule) -> Measure:
    """Each metered month: daily rows summed by their own day = the monthly figures metering gives billing."""
    if not table_exists(ctx.con, "marts.fct_usage_daily"):
        return Measure([0], 0, 0, base_details(rule, months=0, note="nothing metered yet"))
    months = [Month.parse(m) for m in metering.metered_months(ctx.con)]
    mismatches: list[str] = []
    for month in months:
        monthly = metering.monthly_usage(ctx.con, month)
        params = {"first_day": month.first_day, "next_first_day": month.next().first_day}
        daily: dict[str, dict[str, Decimal]] = {}
        for establishment_id, *values in ctx.con.execute(sql("usage_daily_sums"), params).fetchall():
            counts = dict(
                zip(("studies_archived", "instances_archived", "bytes_archived"), map(Decimal, values[:3]), strict=True)
            )
            counts |= dict(zip(("retrievals", "shares", "views"), map(Decimal, values[4:]), strict=True))
            counts["storage_gb_month"] = metering.storage_gb_month(Decimal(values[3]), month.days)
            daily[establishment_id] = counts
        zero = metering.zero_usage()
        for establishment_id in sorted(set(monthly) | set(daily)):
            for metric in (m for m in METRICS if m not in metering.OUTSIDE_DAILY):  # those have no daily rows
                by_day = daily.get(establishment_id, zero)[metric]
                by_month = monthly.get(establishment_id, zero)[metric]
                if by_day != by_month:
                    mismatches.append(f"{month} {establishment_id} {metric}: days {by_day}, month {by_month}")
    details = base_details(rule, months=len(months), examples=mismatches[:EXAMPLES])
    return Measure([len(mismatches)], len(mismatches), 0, details)


def invoices_match_usage(ctx: RunContext, rule: Rule) -> Measure:
    """Issued invoices, as corrected by the REGUL lines issued since, against the usage metered now: a quantity
    that differs and is not regularised yet is reported (the next issued month will carry it)."""
    from analytics.billing.ledger import Ledger
    from analytics.billing.regularisation import line_credits, regularisations

    settings, contracts = ctx.extra["settings"], ctx.extra["contracts"]
    ledger = Ledger(settings.ledger.url)
    try:
        issued_months = ledger.issued_months()
        issued = {m: ledger.invoices_for_month(m) for m in issued_months}
        credited = line_credits(ledger)
    finally:
        ledger.dispose()
    metered = set(metering.metered_months(ctx.con)) if table_exists(ctx.con, "marts.fct_usage_daily") else set()
    # months issued before the first data (months are issued from the agreement's first one) have nothing to meter
    first_data = (
        next(iter(metering.months_with_data(ctx.con)), None)
        if table_exists(ctx.con, "staged.int_study_owners")
        else None
    )
    quiet = {str(m) for m in issued_months if str(m) not in metered and (first_data is None or m < first_data)}
    unmetered = [str(m) for m in issued_months if str(m) not in metered | quiet]
    compared = {m: invoices for m, invoices in issued.items() if str(m) in metered | quiet}
    usage = {m: metering.monthly_usage(ctx.con, m) if str(m) in metered else {} for m in compared}
    pending = [
        (establishment_id, line)
        for establishment_id, lines in regularisations(contracts, compared, usage, credited).items()
        for line in lines
    ]
    examples = [
        f"{line.reference} {establishment_id} {line.code}: {line.quantity:+}" for establishment_id, line in pending
    ]
    observed = len(pending) + len(unmetered)
    details = base_details(
        rule,
        issued_months=len(issued_months),
        not_regularised=examples[:EXAMPLES],
        **({"issued_but_not_metered": unmetered} if unmetered else {}),
    )
    return Measure([observed], observed, 0, details)


def ledger_chain_verified(ctx: RunContext, rule: Rule) -> Measure:
    """`sansfilm ledger verify`: the hash chain and the numbering of the ledger; each problem, the first broken row
    first."""
    from analytics.billing.ledger import Ledger, not_created_yet

    url = ctx.extra["settings"].ledger.url
    if not_created_yet(url, "its chain cannot be verified"):
        return Measure([0], 0, 0, base_details(rule, note="no ledger yet"))
    with Ledger(url) as ledger:
        result = ledger.verify()
    details = base_details(rule, rows=result.rows, invoices=result.invoices, examples=result.problems[:EXAMPLES])
    return Measure([len(result.problems)], len(result.problems), 0, details)


def invoice_documents_intact(ctx: RunContext, rule: Rule) -> Measure:
    """Every issued document on disk, with the SHA-256 the ledger recorded for it (missing after a crash, altered)."""
    from analytics.billing.issued import document_problems

    checked, problems = document_problems(ctx.extra["settings"])
    details = base_details(rule, documents=checked, examples=problems[:EXAMPLES])
    return Measure([len(problems)], len(problems), 0, details)


RECONCILIATIONS = {
    "harvest_files_accounted": harvest_files_accounted,
    "receipts_match_studies": receipts_match_studies,
    "usage_daily_matches_monthly": usage_daily_matches_monthly,
    "invoices_match_usage": invoices_match_usage,
    "ledger_chain_verified": ledger_chain_verified,
    "invoice_documents_intact": invoice_documents_intact,
}
