"""The invoice ledger on SQLite and on a real PostgreSQL server: numbering, exactness, immutability, concurrency."""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from analytics.billing.ledger import InvoiceNotFound, IssueRefused, Ledger, LedgerError, LedgerUnreachable
from analytics.billing.model import Invoice, InvoiceLine
from analytics.errors import SansfilmError
from analytics.periods import Month
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)

MARCH, APRIL, MAY = Month(2024, 3), Month(2024, 4), Month(2024, 5)
FIRST = MARCH  # the first month of the agreement these tests issue under
TODAY = date(2024, 12, 31)  # the issuing clock of these tests
HASH_A, HASH_B = "a" * 64, "b" * 64
D = Decimal


def numbers(first: int, last: int) -> tuple[str, ...]:
    return tuple(f"RSF-{n:06d}" for n in range(first, last + 1))


def draft(establishment_id: str, month: Month, *lines: InvoiceLine, usage: dict[str, Decimal] | None = None) -> Invoice:
    lines = lines or (
        InvoiceLine("SUBSCRIPTION", "Monthly fee", None, D("1"), D("1800.00"), D("1800.00")),
        InvoiceLine(
            "studies_archived:T1", "Studies archived, 1-1000", "studies_archived", D("1000"), D("2.40"), D("2400.00")
        ),
        InvoiceLine("storage_gb_month", "Storage", "storage_gb_month", D("123.456789012345678"), D("0.06"), D("7.41")),
    )
    usage = {"studies_archived": D("1000"), "storage_gb_month": D("123.456789012345678"), "views": D("0")} | (
        usage or {}
    )
    return Invoice(
        establishment_id,
        month,
        "PACS_RIS",
        month.days,
        month.days,
        tuple(lines),
        D("0.20"),
        contract_id="RSF-AC-2010",
        usage=usage,
    )


def month_of(month: Month, *establishments: str) -> list[Invoice]:
    return [draft(e, month) for e in establishments]


def issue(ledger: Ledger, month: Month, drafts: list[Invoice], *, sha: str = HASH_A, on: date | None = None, **rules):
    return ledger.issue_month(
        month,
        drafts,
        inputs_sha256=sha,
        issue_date=on or month.next().first_day,
        **({"first_month": FIRST, "today": TODAY} | rules),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request, tmp_path) -> Callable[[], str]:
    """A factory of fresh, empty ledger databases on the backend under test."""
    if request.param == "sqlite":
        counter = itertools.count()
        return lambda: f"sqlite:///{tmp_path}/ledger-{next(counter)}.sqlite"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def ledger(new_url) -> Iterator[Ledger]:
    ledger = Ledger(new_url())
    yield ledger
    ledger.dispose()


def raw_url(ledger: Ledger) -> str:
    return ledger.sql_engine.url.render_as_string(hide_password=False)


# --- numbering and recording -----------------------------------------------------------------------------------------


def test_one_gapless_sequence_across_months_and_reissue_changes_nothing(ledger):
    first = issue(ledger, MARCH, month_of(MARCH, "750000001", "750000002", "920000003"))
    assert (first.already_issued, first.numbers, first.inputs_sha256) == (False, numbers(1, 3), HASH_A)
    march = ledger.invoices_for_month(MARCH)
    assert [(i.number, i.establishment_id) for i in march] == list(
        zip(numbers(1, 3), ["750000001", "750000002", "920000003"], strict=True)
    )
    assert all(i.issue_date == date(2024, 4, 1) for i in march)

    assert issue(ledger, APRIL, month_of(APRIL, "750000001", "750000002")).numbers == numbers(4, 5)

    again = issue(ledger, MARCH, month_of(MARCH, "750000001", "750000002", "920000003", "930000004"), sha=HASH_B)
    assert (again.already_issued, again.numbers, again.inputs_sha256) == (True, numbers(1, 3), HASH_A)
    assert ledger.invoices_for_month(MARCH) == march
    assert ledger.issued_months() == [MARCH, APRIL]
    assert ledger.last_issued_month() == APRIL
    assert ledger.invoice("RSF-000002") == march[1]
    assert issue(ledger, MAY, month_of(MAY, "750000001")).numbers == numbers(6, 6)


def test_a_month_without_invoices_is_issued_and_consumes_no_number(ledger):
    assert ledger.last_issued_month() is None and ledger.issued_months() == []
    result = issue(ledger, MARCH, [])
    assert (result.already_issued, result.numbers) == (False, ())
    assert ledger.issued_months() == [MARCH] and ledger.invoices_for_month(MARCH) == []
    assert issue(ledger, MARCH, month_of(MARCH, "750000001")).already_issued
    assert issue(ledger, APRIL, month_of(APRIL, "750000001")).numbers == numbers(1, 1)


def test_opening_twice_keeps_the_ledger(new_url):
    url = new_url()
    with Ledger(url) as ledger:
        issue(ledger, MARCH, month_of(MARCH, "750000001"))
    with Ledger(url) as ledger:  # schema creation is idempotent
        assert ledger.issued_months() == [MARCH]
        assert issue(ledger, APRIL, month_of(APRIL, "750000001")).numbers == numbers(2, 2)
        with pytest.raises(InvoiceNotFound, match="RSF-000009"):
            ledger.invoice("RSF-000009")


# --- exact money ----------------------------------------------------------------------------------------------------


def test_decimals_round_trip_exactly(ledger):
    lines = (
        InvoiceLine(
            "storage_gb_month", "Storage", "storage_gb_month", D("123.456789012345678"), D("0.000123456789"), D("0.02")
        ),
        InvoiceLine("retrievals", "Retrievals", "retrievals", D("0"), D("2.40"), D("0.00")),
        InvoiceLine("REGUL:studies_archived", "Regularisation", "studies_archived", D("-3"), D("1.90"), D("-0.05")),
        InvoiceLine("MINIMUM", "Minimum top-up", None, D("1"), D("99999999999999.99"), D("99999999999999.99")),
    )
    usage = {"bytes_archived": D("123456789012345678901234567890"), "storage_gb_month": D("123.456789012345678")}
    drafted = draft("750000001", MARCH, *lines, usage=usage)
    issue(ledger, MARCH, [drafted])
    (issued,) = ledger.invoices_for_month(MARCH)
    assert issued == dataclasses.replace(drafted, number="RSF-000001", issue_date=date(2024, 4, 1))
    for got, want in zip(issued.lines, lines, strict=True):  # same digits and scale, not just equal values
        assert [str(got.quantity), str(got.unit_price), str(got.amount)] == [
            str(want.quantity),
            str(want.unit_price),
            str(want.amount),
        ]
        assert all(type(v) is Decimal for v in (got.quantity, got.unit_price, got.amount))
    assert {k: str(v) for k, v in issued.usage.items()} == {k: str(v) for k, v in drafted.usage.items()}
    assert list(issued.usage) == list(drafted.usage)  # the statement keeps its order
    assert str(issued.vat_rate) == "0.20"
    engine = sa.create_engine(raw_url(ledger))
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT net, vat, gross FROM invoice").one()
    engine.dispose()
    assert [str(v) for v in stored] == ["99999999999999.96", "19999999999999.99", "119999999999999.95"]
    assert (issued.net, issued.vat, issued.gross) == (
        D("99999999999999.96"),
        D("19999999999999.99"),
        D("119999999999999.95"),
    )


def test_floats_are_refused_before_anything_is_written(ledger):
    bad = draft("750000001", MARCH, InvoiceLine("retrievals", "Retrievals", "retrievals", 0.1, D("2.40"), D("0.24")))
    with pytest.raises(LedgerError, match=r"line 1 \(retrievals\): quantity is 0.1 \(float\)"):
        issue(ledger, MARCH, [bad])
    assert ledger.issued_months() == []


# --- regularisation -------------------------------------------------------------------------------------------------


def test_regularisation_lines_keep_their_reference_and_sign(ledger):
    issue(ledger, MARCH, month_of(MARCH, "750000001", "750000002"))
    regul = InvoiceLine(
        "REGUL:studies_archived",
        "Regularisation of RSF-000002: 12 studies received late",
        "studies_archived",
        D("12"),
        D("2.40"),
        D("28.80"),
        reference="RSF-000002",
    )
    credit = InvoiceLine(
        "REGUL:storage_gb_month",
        "Regularisation of RSF-000001: storage recomputed",
        "storage_gb_month",
        D("-0.833333333333333333"),
        D("0.06"),
        D("-0.05"),
        reference="RSF-000001",
    )
    april = [
        draft("750000001", APRIL, *draft("750000001", APRIL).lines, credit),
        draft("750000002", APRIL, *draft("750000002", APRIL).lines, regul),
    ]
    issue(ledger, APRIL, april)
    first, second = ledger.invoices_for_month(APRIL)
    assert first.lines[-1] == credit and second.lines[-1] == regul
    assert first.net == D("4207.41") - D("0.05")


def test_a_reference_to_an_unissued_invoice_issues_nothing(ledger):
    ghost = InvoiceLine("REGUL:views", "Regularisation", "views", D("1"), D("1"), D("1.00"), reference="RSF-000042")
    with pytest.raises(LedgerError, match="RSF-000042.*not issued"):
        issue(ledger, MARCH, [draft("750000001", MARCH, ghost)])
    assert ledger.issued_months() == []
    assert issue(ledger, MARCH, month_of(MARCH, "750000001")).numbers == numbers(1, 1)


# --- immutability ---------------------------------------------------------------------------------------------------

TAMPERING = [
    "UPDATE invoice SET gross = 0",
    "DELETE FROM invoice WHERE number = 'RSF-000002'",
    "UPDATE invoice_line SET amount = 0 WHERE position = 1",
    "DELETE FROM invoice_line",
    "UPDATE invoice_usage SET quantity = 1",
    "DELETE FROM invoice_usage",
    "UPDATE issued_month SET inputs_sha256 = 'x'",
    "DELETE FROM issued_month",
    "UPDATE invoice_sequence SET last_value = 0",
    "DELETE FROM invoice_sequence",
]


@pytest.mark.parametrize("statement", TAMPERING)
def test_issued_rows_cannot_be_changed_through_raw_sql(ledger, statement):
    issue(ledger, MARCH, month_of(MARCH, "750000001", "750000002"))
    before = ledger.invoices_for_month(MARCH)
    engine = sa.create_engine(raw_url(ledger))
    try:
        with pytest.raises(sa.exc.DBAPIError, match="immutable"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
        if engine.dialect.name == "postgresql":
            table = statement.split()[2] if statement.startswith("DELETE") else statement.split()[1]
            with pytest.raises(sa.exc.DBAPIError, match="immutable"), engine.begin() as conn:
                conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")
    finally:
        engine.dispose()
    assert ledger.invoices_for_month(MARCH) == before
    assert issue(ledger, APRIL, month_of(APRIL, "750000001")).numbers == numbers(3, 3)


# --- atomicity ------------------------------------------------------------------------------------------------------


def test_a_failure_midway_rolls_everything_back_and_consumes_no_number(ledger):
    calls = []

    def fail_on_second(invoice):  # called inside the transaction, once an invoice's rows are written
        calls.append(invoice.number)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return {}

    with pytest.raises(RuntimeError, match="disk full"):
        issue(ledger, MARCH, month_of(MARCH, "750000001", "750000002", "750000003"), render=fail_on_second)
    assert calls == ["RSF-000001", "RSF-000002"]
    assert ledger.issued_months() == [] and ledger.invoices_for_month(MARCH) == []
    with pytest.raises(InvoiceNotFound):
        ledger.invoice("RSF-000001")
    assert issue(ledger, MARCH, month_of(MARCH, "750000001", "750000002", "750000003")).numbers == numbers(1, 3)


# --- refusals -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drafts", "kwargs", "message"),
    [
        (month_of(APRIL, "750000001"), {}, "750000001 for 2024-04 cannot be issued with month 2024-03"),
        (month_of(MARCH, "750000001", "750000001"), {}, "750000001 has two invoices for 2024-03"),
        ([dataclasses.replace(draft("750000001", MARCH), number="RSF-000007")], {}, "already carries number"),
        (month_of(MARCH, "750000001"), {"sha": "not-a-hash"}, "SHA-256"),
    ],
)
def test_invalid_drafts_are_refused(ledger, drafts, kwargs, message):
    with pytest.raises(LedgerError, match=message):
        issue(ledger, MARCH, drafts, **kwargs)
    assert ledger.issued_months() == []


def test_numbers_stay_in_issue_date_order(ledger):
    issue(ledger, MARCH, month_of(MARCH, "750000001"), on=date(2024, 5, 3))
    with pytest.raises(LedgerError, match="before that of the last issued invoice RSF-000001 \\(2024-05-03\\)"):
        issue(ledger, APRIL, month_of(APRIL, "750000001"), on=date(2024, 5, 2))
    assert issue(ledger, APRIL, month_of(APRIL, "750000001"), on=date(2024, 5, 3)).numbers == numbers(2, 2)


def test_an_unreachable_ledger_is_named_without_its_password():
    with pytest.raises(LedgerUnreachable) as caught:
        Ledger("postgresql://finance:s3cret@127.0.0.1:1/ledger")
    message = str(caught.value)
    assert "finance:***@127.0.0.1:1/ledger" in message and "s3cret" not in message
    assert isinstance(caught.value, SansfilmError)


def test_an_unopenable_sqlite_file_and_unsupported_urls_are_refused(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(LedgerUnreachable, match="afile"):
        Ledger(f"sqlite:///{tmp_path}/afile/ledger.sqlite")
    with pytest.raises(LedgerError, match="not a database URL"):
        Ledger("data/ledger.sqlite")
    with pytest.raises(LedgerError, match="only sqlite and postgresql"):
        Ledger("mssql+pymssql://u:pw@host/db")


# --- concurrency: two OS processes issuing at the same time ---------------------------------------------------------

ROUNDS = 3
INVOICES_PER_MONTH = 3
STEP_DELAY_S = 0.1  # each worker sleeps after each invoice insert, inside its transaction, so the two surely overlap


def _issue_worker(jobs: list[tuple[str, str, float]], barrier, results, delay: float) -> None:
    """Run in a spawned process: for each (url, month, stagger), open the ledger and issue in step with the other
    worker, `stagger` seconds after it is ready."""
    try:

        def slow_insert(invoice):  # called inside the transaction, once an invoice's rows are written
            time.sleep(delay)
            return {}

        for url, month_text, stagger in jobs:
            month = Month.parse(month_text)
            barrier.wait(timeout=120)
            ledger = Ledger(url)  # both processes may create the schema of a fresh database at once
            barrier.wait(timeout=120)
            time.sleep(stagger)
            start = time.time()
            drafts = month_of(month, *(f"75000000{i}" for i in range(1, INVOICES_PER_MONTH + 1)))
            try:
                result = issue(
                    ledger, month, drafts, on=date(2024, 6, 1), render=slow_insert
                )  # one date: either may go first
                outcome: tuple = (result.already_issued, result.numbers)
            except IssueRefused as refused:
                outcome = ("refused", str(refused))
            end = time.time()
            ledger.dispose()
            results.put(("ok", url, month_text, *outcome, start, end))
    except BaseException:
        barrier.abort()
        results.put(("error", traceback.format_exc()))


def _run_pair(jobs_a: list[tuple], jobs_b: list[tuple], delay: float = STEP_DELAY_S) -> list[tuple]:
    """Two spawned processes run their jobs in lock step; returns their reports, or fails with every traceback."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_issue_worker, args=(jobs, barrier, results, delay)) for jobs in (jobs_a, jobs_b)]
    for w in workers:
        w.start()
    reports, errors = [], []
    try:
        while len(reports) < len(jobs_a) + len(jobs_b) and len(errors) < len(workers):
            item = results.get(timeout=10 if errors else 180)  # after one failure, just wait for the other's report
            (errors if item[0] == "error" else reports).append(item[1:])
    except queue.Empty:
        errors.append(("a worker did not report in time",))
    finally:
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.kill()
    if errors:
        pytest.fail("\n".join(e[0] for e in errors))
    return reports


def _overlapped(a: tuple, b: tuple) -> bool:
    """Both issue calls were in flight at the same time: one of them had to wait for the other's lock."""
    return max(a[4], b[4]) < min(a[5], b[5])


def test_two_processes_issuing_the_same_month_issue_it_once(new_url):
    urls = [new_url() for _ in range(ROUNDS)]
    jobs = [(url, str(MARCH), 0.0) for url in urls]
    results = _run_pair(jobs, jobs)
    for url in urls:
        pair = [r for r in results if r[0] == url]
        assert sorted(r[2] for r in pair) == [False, True], pair  # one issued, the other was told it is issued
        assert all(r[3] == numbers(1, INVOICES_PER_MONTH) for r in pair), pair
        assert _overlapped(*pair), pair
        with Ledger(url) as ledger:
            assert ledger.issued_months() == [MARCH]
            assert [i.number for i in ledger.invoices_for_month(MARCH)] == list(numbers(1, INVOICES_PER_MONTH))


STAGGER_S, SLOW_INSERT_S = 1.5, 1.0  # the second issuer starts 1.5 s after the first, whose transaction lasts 3 s


def test_staggered_issuers_of_consecutive_months_take_turns_in_order(new_url):
    """March's issuer holds the lock while April's arrives: April waits, then finds March issued and follows it."""
    url = new_url()
    results = _run_pair([(url, str(MARCH), 0.0)], [(url, str(APRIL), STAGGER_S)], delay=SLOW_INSERT_S)
    march, april = sorted(results, key=lambda r: r[1])
    assert (march[1], march[2], march[3]) == (str(MARCH), False, numbers(1, 3)), results
    assert (april[1], april[2], april[3]) == (str(APRIL), False, numbers(4, 6)), results
    assert _overlapped(march, april) and april[5] > march[5], results  # April waited for March's commit
    with Ledger(url) as ledger:
        assert ledger.issued_months() == [MARCH, APRIL] and ledger.verify().ok


def test_a_later_month_whose_issuer_gets_the_lock_first_is_refused(new_url):
    """April's issuer arrives first, March's a moment later: April is refused under the lock (March is the next
    month), March is issued; the ledger never holds April before March."""
    url = new_url()
    results = _run_pair([(url, str(APRIL), 0.0)], [(url, str(MARCH), STAGGER_S)], delay=SLOW_INSERT_S)
    march, april = sorted(results, key=lambda r: r[1])
    assert april[2] == "refused" and "issue 2024-03 first" in april[3], results
    assert (march[2], march[3]) == (False, numbers(1, 3)), results
    with Ledger(url) as ledger:
        assert ledger.issued_months() == [MARCH] and ledger.verify().ok
