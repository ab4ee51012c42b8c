"""Cached, read-only data for the pages: thin wrappers over `analytics.reporting`.

Each call opens its own read-only connection to the published warehouse (never the working file, never at import)
and closes it; results are cached per role, filters and published version (the file's mtime), so a new publish
shows at the next page load and one role's cache entry never serves another role. The role, not the user: what a
query returns depends on the role only (its scope, its suppression), so the second finance officer of the morning
gets the first one's cached pages instead of waiting for the queries again.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from analytics import warehouse
from analytics.billing.ledger import LedgerUnreachable
from analytics.billing.simulation import PROPOSALS_DIR
from analytics.config import Settings, load_settings
from analytics.errors import SansfilmError, SchemaVersionError
from analytics.reporting import finance, opinions, portal, programme, proposals, quality
from analytics.reporting.scope import Filters, Viewer
from dashboards import ui
from dashboards.ui import PAGES, headless

TTL = 600


@st.cache_resource
def settings() -> Settings:
    return load_settings(os.environ.get("SANSFILM_CONFIG"))


def version() -> int:
    """Changes when the pipeline publishes a new copy (atomic replace): part of every cache key."""
    try:
        return settings().published_path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


NOT_PUBLISHED = (
    "Aucune donnée publiée pour cette configuration : aucune moisson n'a encore abouti. Lancez "
    "`sansfilm run` (ou `sansfilm harvest`) ; pour l'échantillon, `sansfilm demo`."
)
NOT_METERED = (
    "Aucun mois n'a encore été mesuré : lancez `sansfilm run` (il mesure chaque mois, rédige les brouillons "
    "des mois terminés et publie l'entrepôt). Si c'est fait, les sources n'ont encore livré aucune donnée "
    "datée : vérifiez-les (`sansfilm harvest`)."
)


def missing() -> str | None:
    """What the pages need and the published warehouse lacks, in French with the command that makes it; None when
    every page can be drawn."""
    if not settings().published_path.is_file():
        return NOT_PUBLISHED
    return _missing(version())


@st.cache_data(ttl=TTL, show_spinner=False)
def _missing(published_version: int) -> str | None:
    try:
        with published() as con:
            if not warehouse.table_exists(con, "marts.fct_usage_daily"):
                return NOT_METERED
            if con.execute("select count(*) from marts.fct_usage_daily").fetchall()[0][0] == 0:
                return NOT_METERED
    except (SansfilmError, duckdb.Error) as exc:
        return f"L'entrepôt publié ne peut pas être lu ({exc}) : relancez `sansfilm run`."
    return None


@st.cache_data(ttl=TTL, show_spinner=False)
def month_to_date(published_version: int) -> tuple[str, date] | None:
    """The month metered as month to date and the last day it covers (None when every metered month is complete)."""
    with published() as con:
        if not warehouse.table_exists(con, "marts.fct_metered_months"):
            return None
        rows = con.execute(
            "select month, metered_through from marts.fct_metered_months where month_to_date "
            "order by month desc limit 1"
        ).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


@contextmanager
def published():
    con = warehouse.connect_published(settings().published_path)
    try:
        yield con
    finally:
        con.close()


def _read(fn: Callable[..., Any], *args: Any) -> Any:
    with published() as con:
        return fn(con, *args)


@st.cache_data(ttl=TTL, show_spinner=False)
def data_horizon(published_version: int) -> date:
    """The day the roll-out figures are as of (the last day with archive activity, as the queries take it)."""
    from analytics.reporting.scope import as_of

    with published() as con:
        return as_of(con)


@st.cache_data(ttl=TTL, show_spinner=False)
def months(published_version: int) -> list[str]:
    with published() as con:
        rows = con.execute(
            "select distinct strftime(received_date, '%Y-%m') from marts.mart_archive_daily "
            "where received_date is not null order by 1"
        ).fetchall()
    return [m for (m,) in rows]


def by_role(viewer: Viewer) -> Viewer:
    """The cache key of a viewer: its role (see the module's docstring)."""
    return Viewer(viewer.role, viewer.role)


def choices(published_version: int, viewer: Viewer) -> dict[str, list[str]]:
    return _choices(published_version, by_role(viewer))


@st.cache_data(ttl=TTL, show_spinner=False)
def _choices(published_version: int, viewer: Viewer) -> dict[str, list[str]]:
    """Filter choices from the establishments the viewer may see."""
    sites = cached("rollout_sites", viewer, Filters())
    return {
        "departement": sorted({d for d in sites["departement"] if d}),
        "offer": sorted({o for o in sites["offer"] if o}),
        "establishment": [
            f"{i} · {n}"
            for i, n in sorted(zip(sites["establishment_id"], sites["name"], strict=True), key=lambda site: site[1])
        ],
    }


def establishment_names(viewer: Viewer) -> dict[str, str]:
    """FINESS -> name of the establishments the viewer may see (to show a name, the FINESS beside it)."""
    sites = cached("rollout_sites", viewer, Filters())
    return dict(zip(sites["establishment_id"], sites["name"], strict=True))


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: getattr(programme, name)
    for name in (
        "rollout_sites",
        "live_sites",
        "failures_by_site",
        "adoption",
        "silent_sites",
        "volumes",
        "sharing",
        "sharing_departements",
        "storage",
        "ingestion_delay",
        "failure_rates",
        "busiest_hours",
        "source_freshness",
        "quarantine",
        "usage_monthly",
        "unbilled",
        "service_levels",
    )
} | {"portal_adoption": portal.adoption, "opinion_requests": opinions.requests}


def cached(name: str, viewer: Viewer, filters: Filters, *extra: Any) -> pl.DataFrame:
    return _cached(version(), name, by_role(viewer), filters, *extra)


@st.cache_data(ttl=TTL, show_spinner=False)
def _cached(published_version: int, name: str, viewer: Viewer, filters: Filters, *extra: Any) -> pl.DataFrame:
    return _read(_FUNCTIONS[name], viewer, filters, *extra)


def usage_daily(published_version: int, viewer: Viewer, month: str, establishment_id: str) -> pl.DataFrame:
    return _usage_daily(published_version, by_role(viewer), month, establishment_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def _usage_daily(published_version: int, viewer: Viewer, month: str, establishment_id: str) -> pl.DataFrame:
    return _read(programme.usage_daily, viewer, month, establishment_id)


def ledger_read(read: Callable[..., Any]) -> Callable[..., Any]:
    """A ledger at another schema version, or out of reach (its folder missing), stops the page with one line saying
    what to do, not a traceback (a headless run, the warmer's, stops with that line as PageStopped, which it logs;
    a call outside any page gets the error itself)."""

    @functools.wraps(read)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return read(*args, **kwargs)
        except (SchemaVersionError, LedgerUnreachable) as error:
            what = "Mise à niveau nécessaire" if isinstance(error, SchemaVersionError) else "Registre inaccessible"
            if ui.is_headless():
                raise ui.PageStopped(f"{what} : {error}") from error
            if get_script_run_ctx(suppress_warning=True) is None:  # called outside any page
                raise
            st.error(f"{what} : {error}")
            st.stop()

    return guarded


@ledger_read
def drafts(viewer: Viewer, filters: Filters) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(draft invoices, their lines) as frames: see `finance.draft_lines`. Every metered month is drafted and cached
    for the other filters, then the period is cut out (a month's drafts do not depend on the other months of the
    period): a new period is a cache hit, and the warmed default serves any period."""
    table, lines = _drafts(
        version(), issued_months(), by_role(viewer), replace(filters, first_month=None, last_month=None)
    )
    period = pl.col("month").is_between(
        pl.lit(filters.first_month or "0000-00"), pl.lit(filters.last_month or "9999-99")
    )
    return table.filter(period), lines.filter(period)


@ledger_read
@st.cache_data(ttl=60, show_spinner=False)
def issued_months() -> tuple[str, ...]:
    """Part of the drafts' cache key: issuing a month moves the pending regularisations to the next one."""
    return tuple(finance.issued_month_list(settings().ledger.url))


@st.cache_data(ttl=TTL, show_spinner=False)
def _drafts(
    published_version: int, issued: tuple[str, ...], viewer: Viewer, filters: Filters
) -> tuple[pl.DataFrame, pl.DataFrame]:
    from analytics.billing.contracts import load_contracts

    contracts = load_contracts(settings())
    with published() as con:
        invoices = finance.draft_invoices(con, contracts, viewer, filters, settings().ledger.url)
    return finance.draft_table(invoices), finance.draft_lines(invoices)


@ledger_read
def governance(published_version: int, viewer: Viewer) -> dict[str, pl.DataFrame | None]:
    """The framework agreement's validity, ceiling and commitments, scoped to the viewer (analytics.reporting)."""
    return _governance(published_version, by_role(viewer))


@st.cache_data(ttl=60, show_spinner=False)
def _governance(published_version: int, viewer: Viewer) -> dict[str, pl.DataFrame | None]:
    from analytics.billing.contracts import load_contracts
    from analytics.reporting import governance as gov

    contracts = load_contracts(settings())
    with published() as con:
        report = gov.build_report(con, contracts, settings().ledger.url, gov.horizon_as_of(con))
    return gov.scoped_tables(report, viewer)


def opinion_pilot() -> frozenset[str]:
    """The FINESS numbers of the tele-opinion pilot (contracts/opinion_pairs.csv), cached on the file's state. A file
    that does not load counts as no pilot here (no establishment is offered the page); `sansfilm run` says why."""
    from analytics.opinions.pairs import PAIRS_FILE

    path = settings().contracts.dir / PAIRS_FILE
    return _opinion_pilot(str(path.parent), path.stat().st_mtime_ns if path.is_file() else 0)


@st.cache_data(ttl=TTL, show_spinner=False)
def _opinion_pilot(contracts_dir: str, state: int) -> frozenset[str]:
    from analytics.opinions.pairs import load_pairs

    try:
        return opinions.pilot_members(load_pairs(Path(contracts_dir)))
    except SansfilmError:
        logging.getLogger(__name__).warning("the tele-opinion pairs do not load", exc_info=True)
        return frozenset()


def proposal_names() -> list[str]:
    """The proposed tariffs of contracts/proposals/, by file name."""
    return [path.name for path in proposals.proposal_files(settings().contracts.dir)]


@ledger_read
def proposal(viewer: Viewer, name: str, filters: Filters) -> dict[str, Any]:
    """A proposal simulated on the filters' period and projected over five years (analytics.reporting.proposals and
    projection); cached per published version, issued months, role and the proposal file's state."""
    path = settings().contracts.dir / PROPOSALS_DIR / name
    state = path.stat().st_mtime_ns if path.is_file() else 0
    return _proposal(version(), issued_months(), state, by_role(viewer), name, filters.first_month, filters.last_month)


@st.cache_data(ttl=TTL, show_spinner=False)
def _proposal(
    published_version: int,
    issued: tuple[str, ...],
    state: int,
    viewer: Viewer,
    name: str,
    first: str | None,
    last: str | None,
) -> dict[str, Any]:
    from analytics.billing.contracts import load_contracts
    from analytics.periods import Month
    from analytics.reporting.projection import projection_for

    contracts = load_contracts(settings())
    tariff = proposals.load_proposal(contracts, settings().contracts.dir / PROPOSALS_DIR / name)
    with published() as con:
        simulation = proposals.simulate_published(
            con,
            contracts,
            tariff,
            settings().ledger.url,
            viewer,
            Month.parse(first) if first else None,
            Month.parse(last) if last else None,
        )
        projection, summary = projection_for(con, contracts, tariff, viewer)
    changes = proposals.bill_changes(simulation, contracts)
    winners, losers = proposals.winners_and_losers(changes)
    return {
        "contract_id": tariff.contract_id,
        "laid_over": simulation.laid_over,
        **proposals.totals(simulation),
        "months": [str(m) for m in simulation.months],
        "changes": changes,
        "by_category": proposals.changes_by(changes, "category"),
        "by_offer": proposals.changes_by(changes, "offer"),
        "winners": winners,
        "losers": losers,
        "projection": projection,
        "summary": summary,
    }


@ledger_read
@st.cache_data(ttl=60, show_spinner=False)
def issued(viewer: Viewer, filters: Filters) -> pl.DataFrame:
    return finance.issued_invoices(settings().ledger.url, viewer, filters)


@ledger_read
@st.cache_data(ttl=60, show_spinner=False)
def issued_lines(viewer: Viewer, number: str) -> pl.DataFrame:
    return finance.issued_lines(settings().ledger.url, viewer, number)


@ledger_read
@st.cache_data(ttl=60, show_spinner=False)
def quality_checks(viewer: Viewer) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The latest result of each data-quality check, and the failures kept (from the ledger's database)."""
    url = settings().ledger.url
    return quality.latest_checks(url, viewer), quality.failed_checks(url, viewer)


@ledger_read
def documents(viewer: Viewer, number: str) -> dict[str, Path]:
    return finance.invoice_documents(settings().billing.out_dir, viewer, settings().ledger.url, number)


# The pages of every regional role are run once, headless, after each publish (and before the cached entries
# expire), with the filters a new session starts with: the same code as a visit, so everything a visit caches (the
# queries, the figures, the French tables) is cached for the first visitor of a role after a publish or a server
# start (docs/benchmarks.md). Establishment roles are not warmed (one per site); their pages read little.
DASHBOARDS = Path(__file__).resolve().parent
ROLE_PAGES = {
    role: tuple(file for section in PAGES.values() for file, _, _, roles in section if role in roles)
    for role in ("gcs", "ars", "operator", "finance")
}  # the navigation's pages of each regional role


def default_filters() -> Filters:
    """The filters a new session starts with (sidebar defaults): the whole published period."""
    period = months(version())
    return Filters(period[0], period[-1], None, None, None) if period else Filters()


def warm() -> list[str]:
    """Run every regional role's pages for the default filters, headless (see above). A page that stops on an error
    (the ledger out of reach, or at another schema version: what the page shows its visitors) is left there, the
    others are still warmed; returns the pages so stopped, as "role page: why", and logs the first in one line."""
    if get_script_run_ctx(suppress_warning=True) is not None:
        raise RuntimeError("warm() draws pages: it must run in a thread without a Streamlit session")
    filters = default_filters()
    missing()  # what app.py reads before any page
    month_to_date(version())
    skipped = []
    for role, pages in ROLE_PAGES.items():
        viewer = Viewer(role, role)
        choices(version(), viewer)  # the sidebar's
        for page in pages:
            try:
                with headless(viewer, filters):
                    _run_page(DASHBOARDS / page)
            except ui.PageStopped as stopped:
                if stopped.reason:
                    skipped.append(f"{role} {page}: {stopped.reason}")
    if skipped:
        logging.getLogger(__name__).warning(
            "warming stopped %d page(s) on an error, first %s", len(skipped), skipped[0]
        )
    return skipped


def _run_page(path: Path) -> None:
    """A page script in a namespace of its own: nothing process-wide is touched (runpy would swap sys.modules'
    __main__, which Streamlit sets to the session's script, under a visitor's run)."""
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), {"__name__": "__main__", "__file__": str(path)})


class _QuietWarmer(logging.Filter):
    """Streamlit warns at every element a thread without a session draws: the warmer's are expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != WARMER_THREAD


WARM_POLL_SECONDS = 10
WARM_ENV = "SANSFILM_WARM_CACHES"
WARMER_THREAD = "sansfilm-warm"


@st.cache_resource(show_spinner=False)
def _warmer() -> threading.Thread:
    # no session attached (the caches are the server's): what the warmer's page runs draw goes nowhere
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_QuietWarmer())
    thread = threading.Thread(target=_keep_warm, name=WARMER_THREAD, daemon=True)
    thread.start()
    return thread


def _keep_warm() -> None:
    """Warm after each publish (the published file's version changes) and before the cached entries expire."""
    from streamlit.runtime import Runtime

    while not Runtime.exists():  # started by the server's start-up hook: the caches are the runtime's
        time.sleep(0.1)
    warmed_version, warmed_at = 0, 0.0
    while True:
        current = version()
        if current and (current != warmed_version or time.monotonic() - warmed_at > TTL * 0.8):
            try:
                warm()
            except Exception:  # noqa: BLE001  warming is only a head start: a page that reads shows its own error
                logging.getLogger(__name__).warning("warming the dashboards' caches failed", exc_info=True)
            warmed_version, warmed_at = current, time.monotonic()
        time.sleep(WARM_POLL_SECONDS)


def warm_in_background() -> None:
    """Start the server's cache warmer, once per server process, when the launcher asked for it (`sansfilm
    dashboards` sets SANSFILM_WARM_CACHES=1). AppTests do not: a thread reading the process-wide settings behind
    their backs would mix one test's warehouse into another's."""
    if os.environ.get(WARM_ENV) == "1":
        _warmer()
