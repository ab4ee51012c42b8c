"""The ledger cannot be bent, on SQLite and on a real PostgreSQL: months issued in order from the agreement's first
month, bounded issue dates, a counter that moves only by issuing, and a hash chain that names the first broken row."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
import sqlalchemy as sa

from analytics.billing.chain import canonical
from analytics.billing.ledger import CHAINED, IssueRefused, Ledger, LedgerError, parse_issue_date
from analytics.billing.model import Party
from analytics.periods import Month
from tests.postgres import postgres_database, postgres_server  # noqa: F401  (fixtures)
from tests.unit.test_ledger import APRIL, MARCH, MAY, issue, ledger, month_of, new_url, numbers, raw_url  # noqa: F401

JANUARY, FEBRUARY = Month(2024, 1), Month(2024, 2)
SELLER = Party(
    "GCS e-santé",
    "18007521000013",
    vat_id="FR50180075210",
    address=("21 rue des Archives",),
    postcode="75004",
    city="Paris",
)


def _execute(ledger: Ledger, *statements: str) -> None:
    engine = sa.create_engine(raw_url(ledger))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def drop_triggers(ledger: Ledger) -> None:
    """What someone with the database's owner rights can do: remove every guard."""
    engine = sa.create_engine(raw_url(ledger))
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                found = conn.exec_driver_sql(
                    "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c "
                    "ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
                ).all()
                for name, table in found:
                    conn.exec_driver_sql(f"DROP TRIGGER {name} ON {table}")
            else:
                for name in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars():
                    conn.exec_driver_sql(f"DROP TRIGGER {name}")
    finally:
        engine.dispose()


# --- act 1: months in order, decided under the lock ------------------------------------------------------------------


def test_only_the_first_month_of_the_agreement_not_issued_can_be_issued(ledger):
    with pytest.raises(IssueRefused, match="2024-04 cannot be issued before 2024-03.*issue 2024-03 first"):
        issue(ledger, APRIL, month_of(APRIL, "750000001"))
    with pytest.raises(IssueRefused, match="before the first month of the agreement"):
        issue(ledger, FEBRUARY, month_of(FEBRUARY, "750000001"))
    assert ledger.issued_months() == []
    issue(ledger, MARCH, month_of(MARCH, "750000001"))
    with pytest.raises(IssueRefused, match="issue 2024-04 first"):
        issue(ledger, MAY, month_of(MAY, "750000001"))
    assert issue(ledger, APRIL, month_of(APRIL, "750000001")).numbers == numbers(2, 2)
    with pytest.raises(IssueRefused, match="2024-04 was issued while 2024-05 was being drafted"):
        issue(ledger, MAY, month_of(MAY, "750000001"), basis=[MARCH])  # drafted before April was issued
    assert issue(ledger, MAY, month_of(MAY, "750000001"), basis=[MARCH, APRIL]).numbers == numbers(3, 3)


def test_a_ledger_shared_by_two_agreements_counts_each_from_its_own_first_month(ledger):
    """A second configuration (the next agreement, from 2024-03) on a ledger that holds the first one's months."""
    issue(ledger, JANUARY, month_of(JANUARY, "750000001"), first_month=JANUARY)
    issue(ledger, FEBRUARY, month_of(FEBRUARY, "750000001"), first_month=JANUARY)
    assert issue(ledger, MARCH, month_of(MARCH, "750000001"), first_month=MARCH).numbers == numbers(3, 3)
    with pytest.raises(IssueRefused, match="issue 2024-04 first"):
        issue(ledger, MAY, month_of(MAY, "750000001"), first_month=JANUARY)


# --- act 2: bounded issue dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "today", "message"),
    [
        (
            date(2024, 3, 31),
            date(2024, 3, 31),
            r"2024-03 is not over yet \(Europe/Paris, today is 2024-03-31\): it can be "
            r"issued from 2024-04-01",
        ),
        (date(2024, 3, 31), date(2024, 4, 2), "issue date 2024-03-31 is before the end of 2024-03"),
        (date(2099, 1, 1), date(2024, 4, 2), r"issue date 2099-01-01 is after today \(2024-04-02, Europe/Paris\)"),
    ],
)
def test_issue_dates_are_bounded_by_the_month_and_today(ledger, on, today, message):
    with pytest.raises(IssueRefused, match=message):
        issue(ledger, MARCH, month_of(MARCH, "750000001"), on=on, today=today)
    assert ledger.issued_months() == []
    assert issue(ledger, MARCH, month_of(MARCH, "750000001"), on=date(2024, 4, 2), today=date(2024, 4, 2)).numbers


def test_a_month_without_invoices_still_sets_the_last_issue_date(ledger):
    issue(ledger, MARCH, [], on=date(2024, 5, 10))
    with pytest.raises(IssueRefused, match=r"before the last issue in the ledger \(2024-05-10\)"):
        issue(ledger, APRIL, month_of(APRIL, "750000001"), on=date(2024, 5, 9))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("02/03/2012", "not written YYYY-MM-DD"),
        ("2012-02-30", "day is out of range"),
        ("2012-13-01", "month must be in 1..12"),
        ("", "not written"),
    ],
)
def test_an_issue_date_that_is_not_an_iso_date_is_one_line(text, why):
    with pytest.raises(IssueRefused, match=why) as refused:
        parse_issue_date(text)
    assert "\n" not in str(refused.value) and f"'{text}'" in str(refused.value)
    assert parse_issue_date("2012-04-02") == date(2012, 4, 2)


# --- act 5: the counter moves only by issuing; a gap is reported, never skipped --------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE invoice_sequence SET last_value = 100",
        "UPDATE invoice_sequence SET last_value = last_value + 1",
        "UPDATE invoice_sequence SET chain_length = 0",
    ],
)
def test_the_sequence_cannot_be_moved_by_hand(ledger, statement):
    issue(ledger, MARCH, month_of(MARCH, "750000001", "750000002"))
    with pytest.raises(sa.exc.DBAPIError, match="moves only by issuing"):
        _execute(ledger, statement)
    assert issue(ledger, APRIL, month_of(APRIL, "750000001")).numbers == numbers(3, 3)
    assert ledger.verify().ok


def test_a_sequence_moved_without_its_trigger_stops_issuing_and_is_reported(ledger):
    issue(ledger, MARCH, month_of(MARCH, "750000001", "750000002"))
    drop_triggers(ledger)
    _execute(ledger, "UPDATE invoice_sequence SET last_value = 100")
    with pytest.raises(LedgerError, match="sequence .* is at 100 but the last invoice is RSF-000002.*gap"):
        issue(ledger, APRIL, month_of(APRIL, "750000001"))
    assert ledger.issued_months() == [MARCH]
    problems = ledger.verify().problems
    assert problems == [
        "the invoice sequence is at 100 but the last invoice is RSF-000002: the next number would be "
        "RSF-000101, leaving a gap"
    ]


# --- the hash chain --------------------------------------------------------------------------------------------------


def _issued(ledger: Ledger) -> None:
    """March with frozen parties and (fake) documents, April without."""
    drafts = [
        replace(
            d, seller=SELLER, buyer=Party(f"Hôpital {d.establishment_id}", "26750001500016", finess=d.establishment_id)
        )
        for d in month_of(MARCH, "750000001", "750000002")
    ]
    ledger.issue_month(
        MARCH,
        drafts,
        inputs_sha256="a" * 64,
        issue_date=date(2024, 4, 2),
        first_month=MARCH,
        today=date(2024, 4, 2),
        render=lambda i: {"csv": i.number.encode(), "pdf": i.number.encode()},
    )
    issue(ledger, APRIL, month_of(APRIL, "750000001"))


def test_an_untouched_ledger_verifies_and_frozen_parties_come_back(ledger):
    _issued(ledger)
    result = ledger.verify()
    # March: its month row, then per invoice: invoice, 3 lines, 3 usage rows, 2 parties, 2 documents, then the act
    # of issuing it; April likewise without parties and documents
    assert (result.ok, result.rows, result.invoices) == (True, 1 + 2 * 11 + 1 + 1 + 7 + 1, 3), result.problems
    first = ledger.invoices_for_month(MARCH)[0]
    assert first.seller == SELLER and first.buyer == Party("Hôpital 750000001", "26750001500016", finess="750000001")
    assert ledger.documents(MARCH)["RSF-000002"]["pdf"][0] == "RSF-000002.pdf"


@pytest.mark.parametrize(
    ("tampering", "first_problem"),
    [
        (
            ["UPDATE invoice_line SET amount = '0.01' WHERE invoice_number = 'RSF-000002' AND position = 2"],
            r"invoice_line RSF-000002 2 \(chain position \d+\) was altered",
        ),
        (
            ["UPDATE invoice SET net = 1 WHERE number = 'RSF-000001'"],
            r"invoice RSF-000001 \(chain position 2\) was altered",
        ),
        (
            ["UPDATE invoice_party SET name = 'Autre' WHERE role = 'buyer' AND invoice_number = 'RSF-000001'"],
            r"invoice_party RSF-000001 buyer \(chain position 10\) was altered",
        ),
        (
            ["UPDATE invoice_document SET sha256 = 'f' WHERE kind = 'pdf' AND invoice_number = 'RSF-000002'"],
            r"invoice_document RSF-000002 pdf \(chain position 23\) was altered",
        ),
        (
            ["DELETE FROM invoice_usage WHERE invoice_number = 'RSF-000001' AND position = 3"],
            r"the chain jumps after invoice_usage RSF-000001 storage_gb_month \(chain position 7\) to invoice_party "
            r"RSF-000001 seller \(chain position 9\): 1 row\(s\) missing",
        ),
        (
            ["DELETE FROM invoice_usage WHERE invoice_number = 'RSF-000003'", "DELETE FROM ledger_act WHERE id = 2"],
            r"the counter says the chain has 33 row\(s\)",
        ),  # the last rows removed (April's usage and its act)
        (
            ["UPDATE invoice_sequence SET last_value = 7"],
            "the invoice sequence is at 7 but the last invoice is RSF-000003",
        ),
        (
            ["UPDATE issued_month SET issue_date = '2024-04-03' WHERE month = '2024-03'"],
            r"issued_month 2024-03 \(chain position 1\) was altered",
        ),
    ],
)
def test_verify_names_the_first_broken_row(ledger, tampering, first_problem):
    """With the triggers dropped (the owner of the database can), every edit is still seen."""
    _issued(ledger)
    drop_triggers(ledger)
    _execute(ledger, *tampering)
    result = ledger.verify()
    assert not result.ok
    assert result.problems and re.match(first_problem, result.problems[0]), result.problems


def test_canonical_contents_are_the_same_on_sqlite_and_postgresql(tmp_path, postgres_database):
    """Backend-independent hashing: every chained row of the same ledger has the same canonical content."""
    contents = []
    for url in (f"sqlite:///{tmp_path}/l.sqlite", postgres_database()):
        with Ledger(url) as ledger:
            _issued(ledger)
            assert ledger.verify().ok
            engine = sa.create_engine(raw_url(ledger))
            with engine.connect() as conn:
                rows = [
                    (t.name, canonical(t.name, {k: v for k, v in r.items() if k != "recorded_at"}))
                    for t in CHAINED
                    for r in conn.execute(sa.select(t).order_by(t.c.chain_seq)).mappings()
                ]
            engine.dispose()
            contents.append(rows)
    assert contents[0] == contents[1] and len(contents[0]) == 33
    assert any(b'"vat_rate":"0.20"' in c for _, c in contents[0])
