"""Monthly metering and draft invoices (partitioned by Paris calendar month), their schedule, and the issuing job.

Drafting is automatic (the 1st of each month, for the month just ended); issuing stays a human act: the CLI
(`sansfilm bill --month M --issue`) or the `issue_month` job launched by hand with the month in its config.
"""

from datetime import date

import dagster as dg

from analytics import warehouse
from analytics.billing import service
from analytics.billing.ledger import parse_issue_date
from analytics.clock import paris_today
from analytics.config import Settings
from analytics.periods import Month
from analytics.quality import runner
from pipelines.quality.checks import check_results, check_specs
from pipelines.resources import SansfilmConfig

USAGE_KEY = dg.AssetKey(["marts", "usage_monthly"])
DRAFTS_KEY = dg.AssetKey(["billing", "draft_invoices"])
DRAFT_JOB = "draft_invoices"
USAGE_TABLES = list(runner.METERED)
LEDGER_TABLES = [runner.LEDGER_TABLE]


def monthly_partitions(start: date) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(start_date=start.strftime("%Y-%m-01"), timezone="Europe/Paris")


def _month(context: dg.AssetExecutionContext) -> Month:
    return Month.parse(context.partition_key[:7])


def build_billing_definitions(settings: Settings, start: date):
    partitions = monthly_partitions(start)

    @dg.asset(
        key=USAGE_KEY,
        partitions_def=partitions,
        deps=[dg.AssetKey(["staged", "int_study_owners"]), dg.AssetKey(["staged", "stg_audit_events"])],
        group_name="billing",
        kinds={"duckdb", "sql"},
        description="Usage metrics per establishment and Paris day for the month (marts.fct_usage_daily).",
        check_specs=check_specs(settings, USAGE_TABLES, USAGE_KEY),
    )
    def usage_monthly(context: dg.AssetExecutionContext, sansfilm: SansfilmConfig) -> dg.MaterializeResult:
        settings, month = sansfilm.settings(), _month(context)
        usage = service.meter(settings, [month])[month]
        with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
            results = check_results(context, settings, USAGE_TABLES, con)
            if not any(r.severity == dg.AssetCheckSeverity.ERROR and not r.passed for r in results):
                warehouse.publish(con, settings.published_path)  # readers see the new month at once, once it passed
        return dg.MaterializeResult(
            metadata={
                "establishments": len(usage),
                "studies_archived": int(sum(u["studies_archived"] for u in usage.values())),
            },
            check_results=results,
        )

    @dg.asset(
        key=DRAFTS_KEY,
        partitions_def=partitions,
        deps=[USAGE_KEY, dg.AssetKey(["ref", "establishments"])],
        group_name="billing",
        kinds={"json", "csv"},
        description="Draft invoices of the month (previews: no number, nothing in the ledger).",
        check_specs=check_specs(settings, LEDGER_TABLES, DRAFTS_KEY),
    )
    def draft_invoices(context: dg.AssetExecutionContext, sansfilm: SansfilmConfig) -> dg.MaterializeResult:
        settings = sansfilm.settings()
        folder, invoices = service.write_month_drafts(settings, _month(context))
        with warehouse.open_warehouse(settings.warehouse.path, settings.warehouse.memory_limit) as con:
            results = check_results(context, settings, LEDGER_TABLES, con)
        return dg.MaterializeResult(
            metadata={
                "invoices": len(invoices),
                "net_total": str(sum((i.net for i in invoices), start=0)),
                "folder": dg.MetadataValue.path(str(folder)),
                # the price revision the month is priced at; "pending" blocks issuing until the index value is added
                "revision": next(
                    (
                        f"{i.revision.coefficient} ({'pending' if i.revision.pending else 'applied'})"
                        for i in invoices
                        if i.revision
                    ),
                    "none",
                ),
            },
            check_results=results,
        )

    draft_job = dg.define_asset_job(
        DRAFT_JOB, selection=[USAGE_KEY, DRAFTS_KEY], description="Meter a month and draft its invoices."
    )
    schedule = dg.build_schedule_from_partitioned_job(
        draft_job, hour_of_day=6, minute_of_hour=0, day_of_month=1, name="monthly_drafts"
    )

    @dg.op(config_schema={"month": str, "issue_date": dg.Field(str, is_required=False)})
    def issue_invoices(context: dg.OpExecutionContext, sansfilm: SansfilmConfig) -> None:
        settings = sansfilm.settings()
        month = Month.parse(context.op_config["month"])
        when = context.op_config.get("issue_date")
        today = paris_today()  # the programme's clock: the wall clock, or $SANSFILM_NOW in a replay
        issue_date = parse_issue_date(when) if when else today
        outcome = service.issue(settings, month, issue_date=issue_date, today=today, out_dir=settings.billing.out_dir)
        verb = "was already issued" if outcome.already_issued else "issued"
        context.log.info(f"{month} {verb}: {len(outcome.invoices)} invoices")

    @dg.job(name="issue_month", description="Issue one month's invoices (launch by hand; config: month).")
    def issue_month():
        issue_invoices()

    return [usage_monthly, draft_invoices], [draft_job, issue_month], [schedule]
