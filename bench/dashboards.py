"""Time each dashboard page on a published warehouse: its queries (no Streamlit cache), or in a browser.

    .venv/bin/python bench/dashboards.py [--config sansfilm.toml] [--published PATH] [--repeat 3]
    .venv/bin/python bench/dashboards.py --regional [--studies 10200000]
    .venv/bin/python bench/dashboards.py --regional --browser [--repeat 3]

Each page's queries run as the page's role, through `analytics.reporting`, on a fresh read-only connection; the
figure is the best of --repeat runs (warm OS page cache), and the first (cold) run is shown too.

--browser: `streamlit run` on the published warehouse and Debian's Chromium (Playwright, as in the e2e tests); per
page, the time from the click that opens it (a navigation link, or the login button for a role's first page) until
the script run has finished, every chart is drawn and no element is stale. Cold: a role's first visit since the
server started (another role logs in first, so the server's imports are not counted in any page; --settle gives the
server's cache warmer that long);
warm: the best of --repeat later visits, each in a new session (cache hits). A role's first page is timed from the
login click (the password check included; the login page loaded first), and again through its link once the others are
visited (warm only). For gcs, each page is also timed from choosing département 75 in the sidebar to the page drawn
again, and from moving the period's start to February: the first time (no session chose it before: computed, not
warmed), then cached.

--regional: the synthetic region of bench/metering.py (its builder, `ensure_warehouse`, cached under bench/out/),
copied to bench/out/dashboards-<shape>/, its marts built, every month of 2012 metered, then published: the
dashboards' view of a >= 10 M-study warehouse.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import dbt_build, warehouse
from analytics.billing.contracts import load_contracts
from analytics.billing.credits import subscription_fees
from analytics.config import load_settings
from analytics.reporting import finance, governance, programme
from analytics.reporting.scope import Filters, Viewer
from analytics.sla.measure import assess_month
from analytics.sla.terms import SERVICE_LEVELS_FILE

ROOT = Path(__file__).resolve().parents[1]


def pages(settings, contracts, establishment_id: str):
    gcs, ars, mine = Viewer("b", "gcs"), Viewer("b", "ars"), Viewer("b", f"establishment:{establishment_id}")
    return {
        "rollout": lambda c, f: [
            programme.rollout_sites(c, gcs, f),
            programme.adoption(c, gcs, f),
            programme.silent_sites(c, gcs, f),
            governance.scoped_tables(
                governance.build_report(c, contracts, settings.ledger.url, governance.horizon_as_of(c)), gcs
            ),
        ],
        "finance": lambda c, f: [
            finance.draft_invoices(c, contracts, gcs, f, settings.ledger.url),
            finance.issued_invoices(settings.ledger.url, gcs, f),
            programme.unbilled(c, gcs, f),
        ],
        "regional": lambda c, f: (
            [programme.volumes(c, ars, f, d) for d in ("region", "departement", "modality")]
            + [programme.sharing_departements(c, ars, f)]
        ),
        "operator": lambda c, f: [
            programme.storage(c, gcs, f),
            programme.ingestion_delay(c, gcs, f),
            programme.failure_rates(c, gcs, f),
            programme.service_levels(c, gcs, f),
            programme.busiest_hours(c, gcs, f),
        ],
        "quality": lambda c, f: [
            programme.source_freshness(c, gcs, f),
            programme.quarantine(c, gcs, f),
            programme.unbilled(c, gcs, f),
        ],
        "establishment": lambda c, f: [
            programme.usage_monthly(c, mine, f),
            finance.draft_invoices(c, contracts, mine, f, settings.ledger.url),
            programme.sharing(c, mine, f),
        ],
    }


READ_TABLES = ("marts.fct_usage_daily", "marts.fct_share_flows_monthly", "marts.mart_archive_monthly")


def _published_tables(path: Path) -> set[str]:
    import duckdb

    if not path.exists():
        return set()
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            f"{s}.{t}"
            for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        }
    finally:
        con.close()


def _models_fingerprint() -> str:
    """The SQL of every model, metering and service-level query: a copy built by other SQL is built again."""
    digest = hashlib.sha256()
    for path in sorted(warehouse.SQL_DIR.rglob("*.sql")):
        digest.update(path.relative_to(warehouse.SQL_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_regional(studies: int) -> Path:
    """A published copy of bench/metering.py's synthetic region with every mart and month; returns its config."""
    import duckdb
    import metering as region  # bench/metering.py

    from analytics import metering, warehouse
    from analytics.periods import Month

    shape = region.Shape(studies=studies, events=studies * 10)
    db, contracts_dir, _ = region.ensure_warehouse(shape)
    folder = region.OUT / f"dashboards-{shape.name}"
    config = folder / "sansfilm.toml"
    marker = folder / "models.sha256"  # written last: the copy is complete and built by the current SQL models
    if config.exists() and marker.exists() and marker.read_text() == _models_fingerprint():
        return config
    started = time.perf_counter()
    if not config.exists():
        folder.mkdir(parents=True, exist_ok=True)
        # a read-only connection held during the copy: fails if bench/metering.py is writing it, and keeps writers out
        source = duckdb.connect(str(db), read_only=True)
        try:
            shutil.copyfile(db, folder / "warehouse.duckdb")
        finally:
            source.close()
        shutil.copytree(contracts_dir, folder / "contracts", dirs_exist_ok=True)
        ae_titles = json.dumps(list(region.PLATFORM_AE_TITLES))
        (folder / "sansfilm.toml").with_suffix(".tmp").write_text(
            f'[warehouse]\npath = "warehouse.duckdb"\n[contracts]\ndir = "contracts"\n'
            f'[ledger]\nurl = "sqlite:///ledger.sqlite"\n[archive]\nae_titles = {ae_titles}\n',
            encoding="utf-8",
        )
    # the programme's service levels (the operator page) and price index (the price revision), which copies made
    # before bench/metering.py wrote the index lack
    for name in (SERVICE_LEVELS_FILE, "price_index.csv"):
        if not (folder / "contracts" / name).exists():
            shutil.copyfile(ROOT / "contracts" / name, folder / "contracts" / name)
    if not config.exists():
        (folder / "sansfilm.toml").with_suffix(".tmp").rename(config)
    # a copy built by older SQL models is rebuilt by the current ones: models, metering and service levels are
    # idempotent (each month rewritten)
    contracts = load_contracts(load_settings(config))
    con = warehouse.connect(folder / "warehouse.duckdb")
    try:
        warehouse.ensure_schema(con)
        # bench/metering.py writes the stg_ tables itself (synthetic, not harvested): keep them, with the columns later
        # models read added empty (no StudyTime: delays measured from midnight; no Application Start/Stop events)
        con.execute("alter table staged.stg_dicom_instances add column if not exists study_time_of_day time")
        for column in ("event_type_code", "audit_source_id"):
            con.execute(f"alter table staged.stg_audit_events add column if not exists {column} varchar")
        region.ensure_numbered(con)  # a copy made before the studies were numbered
        warehouse.build_models(con, [m for m in dbt_build.models() if not m[1].startswith("stg_")])
        for month in (Month(region.YEAR, m) for m in range(1, 13)):
            metering.meter_month(con, month)
            fees = subscription_fees(contracts.registry, contracts.tariff, month)
            if contracts.service_levels is not None and fees:
                assess_month(con, month, contracts.service_levels, fees)
        warehouse.publish(con, folder / "warehouse.published.duckdb")
    finally:
        con.close()
    marker.write_text(_models_fingerprint())
    print(f"built {folder} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return config


ROLES = {  # role -> (account, pages in navigation order, the first shown after login)
    "gcs": ("gcs", ("rollout", "finance", "regional", "operator", "quality")),
    "ars": ("ars", ("regional",)),
    "establishment": ("site", ("establishment",)),
}
FILTER = "75"  # the département chosen in the sidebar (--browser, gcs)
LINKS = {
    "rollout": "Déploiement",
    "finance": "Factures",
    "regional": "Activité régionale",
    "operator": "Stockage et service",
    "quality": "Qualité des données",
    "establishment": "Mon établissement",
}
RENDERED = """(before) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const title = document.querySelector('h1');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (!title || title.innerText === before || document.querySelector('[data-stale="true"]')) return false;
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  return plots.every(p => p.querySelector('.main-svg'))
    && plots.length + document.querySelectorAll('[data-testid="stDataFrame"]').length > 0;
}"""


SETTLED = """() => window.__ran && !document.querySelector('[data-stale="true"]')
    && document.querySelector('[data-testid="stApp"]').getAttribute('data-test-script-state') === 'notRunning'
    && [...document.querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('.main-svg'))"""
WATCH_RUN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__ran = false;
  new MutationObserver(() => { if (app.getAttribute('data-test-script-state') === 'running') window.__ran = true; })
    .observe(app, {attributes: true});
}"""


def _timed_change(page, change, undo) -> float:
    """Seconds from a sidebar change to the page run again and drawn; `undo` puts it back, untimed. Each prepares its
    action untimed (opens the list, focuses the slider) and returns it."""
    times = []
    for prepare in (change, undo):
        action = prepare()
        page.evaluate(WATCH_RUN)
        started = time.perf_counter()
        action()
        page.wait_for_function(SETTLED, polling="raf", timeout=180_000)
        times.append(time.perf_counter() - started)
    return times[0]


def _pick_departement(page, value: str):
    """Choosing `value` in the sidebar's Département list: the list opened first (untimed), then the option clicked."""
    page.get_by_role("combobox", name="Département").first.click()
    option = page.get_by_role("option", name=value).first
    option.wait_for()
    return option.click


def _move_period(page, key: str):
    """The period's start one month later (ArrowRight) or back (ArrowLeft), from the keyboard on the slider."""
    thumb = page.get_by_role("slider").first
    thumb.focus()
    return lambda: thumb.press(key)


def _timed(page, action) -> float:
    """Seconds from the action to the new page fully drawn (a new title, script finished, charts drawn)."""
    before = page.evaluate("() => document.querySelector('h1')?.innerText ?? ''")
    started = time.perf_counter()
    action()
    page.wait_for_function(RENDERED, arg=before, polling="raf", timeout=180_000)
    return time.perf_counter() - started


LOGIN_LOADED = """() => document.querySelector('.st-key-preload .main-svg')
    && document.querySelector('.st-key-preload [data-testid="stDataFrame"]')"""


def _login(context, url: str, name: str, password: str):
    """A new tab (a new Streamlit session) on the login form, filled in once the login page has finished loading
    (with the drawing code it preloads, dashboards/auth.py: a user types for longer than that takes)."""
    page = context.new_page()
    page.goto(url)
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(password)
    page.wait_for_function(LOGIN_LOADED, timeout=120_000)
    page.wait_for_load_state("networkidle")
    return page, page.get_by_role("button", name="Se connecter")


def browser_timings(settings, busiest: str, repeat: int, settle: float = 0.0) -> dict[str, list[float]]:
    """'role page' -> [cold, warm, warm, ...] seconds, measured in Chromium against `streamlit run`; 'server start'
    -> the first page the fresh server renders (imports and first queries: once per server process)."""
    import tempfile

    from analytics.accounts import add_account
    from pipelines.dashboards_cli import registry_ids
    from tests.dashboards.browser import chromium, new_context, streamlit_server

    password = "bench-password"
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        accounts = Path(tmp) / "accounts.json"
        roles = {
            ("establishment:" + busiest if kind == "establishment" else kind): spec for kind, spec in ROLES.items()
        }
        for role, (name, _) in {**roles, "operator": ("primer", ())}.items():
            add_account(accounts, name, role, password, establishments=registry_ids(settings))
        with (
            streamlit_server(settings, {"SANSFILM_ACCOUNTS": str(accounts)}, start_timeout=120) as url,
            chromium() as browser,
        ):
            context = new_context(browser)  # one HTTP cache, as a user's browser has
            # another role first: the server's imports and the file's first reads are not any page's; the pages
            # below still miss Streamlit's cache, which is per viewer
            primer, login = _login(context, url, "primer", password)
            times["server start (operator, first page)"] = [_timed(primer, login.click)]
            primer.close()
            time.sleep(settle)  # --settle: the server's warmer fills every regional role's pages meanwhile
            for role, (name, names) in roles.items():
                for _ in range(1 + repeat):
                    page, login = _login(context, url, name, password)
                    times.setdefault(f"{role} {names[0]} (with login)", []).append(_timed(page, login.click))
                    # then each page through its link; the first one last (by then its data is cached: warm only)
                    for other in [*names[1:], *names[:1]] if len(names) > 1 else []:
                        link = page.get_by_role("link", name=LINKS[other]).first
                        times.setdefault(f"{role} {other}", []).append(_timed(page, link.click))
                        if role == "gcs":  # a filter no other session chose yet (first run): not warmed
                            times.setdefault(f"{role} {other}, département {FILTER}", []).append(
                                _timed_change(
                                    page,
                                    lambda: _pick_departement(page, FILTER),
                                    lambda: _pick_departement(page, "tous"),
                                )
                            )
                            times.setdefault(f"{role} {other}, period from February", []).append(
                                _timed_change(
                                    page,
                                    lambda: _move_period(page, "ArrowRight"),
                                    lambda: _move_period(page, "ArrowLeft"),
                                )
                            )
                    page.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="sansfilm.toml")
    parser.add_argument("--published", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--regional", action="store_true", help="bench/metering.py's synthetic region")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="--browser: seconds to wait after the server's first page (its cache warmer runs)",
    )
    parser.add_argument(
        "--studies",
        type=int,
        default=10_200_000,
        help="studies generated; about 0.3 %% are audit-only and never become int_studies rows, so the "
        "default leaves the warehouse above 10 M studies",
    )
    parser.add_argument("--browser", action="store_true", help="time the pages in Chromium against streamlit run")
    args = parser.parse_args()
    settings = load_settings(build_regional(args.studies) if args.regional else args.config)
    published = args.published or settings.published_path
    contracts = load_contracts(settings)
    con = warehouse.connect_published(published)
    studies = con.execute("select count(*) from staged.int_studies").fetchall()[0][0]
    months = [m for (m,) in con.execute("select distinct month from marts.fct_usage_daily order by 1").fetchall()]
    # the busiest establishment: the largest "my establishment" page
    (busiest,) = con.execute(
        "select establishment_id from marts.fct_usage_daily where establishment_id <> "
        "'UNATTRIBUTED' group by 1 order by sum(studies_archived) desc limit 1"
    ).fetchall()[0]
    con.close()
    filters = Filters(months[0], months[-1]) if months else Filters()
    print(f"{published}: {studies:,} studies, {len(months)} metered months")
    if args.browser:
        for name, runs in browser_timings(settings, busiest, args.repeat, args.settle).items():
            warm = f"   warm best {min(runs[1:]) * 1000:8.1f} ms" if len(runs) > 1 else ""
            print(f"  {name:<44} cold {runs[0] * 1000:8.1f} ms{warm}")
        return
    for name, run in pages(settings, contracts, busiest).items():
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            con = warehouse.connect_published(published)
            try:
                run(con, filters)
            finally:
                con.close()
            times.append(time.perf_counter() - started)
        print(f"  {name:<14} best {min(times) * 1000:8.1f} ms   first {times[0] * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
