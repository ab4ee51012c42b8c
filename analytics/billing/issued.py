"""What the ledger holds once a month is issued: its invoices, and its documents on disk checked against it."""

from __future__ import annotations

from analytics.billing.model import Invoice
from analytics.config import Settings
from analytics.periods import Month


def issued_invoices(settings: Settings, month: Month) -> list[Invoice]:
    from analytics.billing.ledger import Ledger

    with Ledger(settings.ledger.url) as ledger:
        return ledger.invoices_for_month(month)


DOCUMENT_KINDS = ("csv", "pdf", "xml")  # what analytics.billing.documents.render_documents writes per invoice


def document_problems(settings: Settings) -> tuple[int, list[str]]:
    """The issued documents checked under [billing] out_dir/<month>/ against the SHA-256 recorded in the ledger: how
    many were checked, and each one missing or altered (and any invoice without recorded documents)."""
    from analytics.billing.documents import sha256_of
    from analytics.billing.ledger import Ledger, not_created_yet

    if not_created_yet(settings.ledger.url, "cannot tell which documents were issued"):
        return 0, []
    checked, problems = 0, []
    with Ledger(settings.ledger.url) as ledger:
        for month in ledger.issued_months():
            recorded = ledger.documents(month)
            numbers = [i.number for i in ledger.invoices_for_month(month)]
            problems += [
                f"{n} ({month}): no {', '.join(sorted(set(DOCUMENT_KINDS) - set(recorded.get(n, {}))))} "
                "recorded in the ledger (missing when the ledger was upgraded: restore from a backup)"
                for n in numbers
                if set(recorded.get(n, {})) != set(DOCUMENT_KINDS)
            ]
            for kinds in recorded.values():
                for name, sha in kinds.values():
                    checked += 1
                    found = sha256_of(settings.billing.out_dir / str(month) / name)
                    if found != sha:
                        state = "missing" if found is None else "altered (its SHA-256 is not the one recorded)"
                        problems.append(f"{month}/{name} {state}: `sansfilm bill --month {month} --rewrite-documents`")
    from analytics.billing.workflow import credit_note_documents

    for number, _kind, path, sha in credit_note_documents(settings):
        checked += 1
        if (found := sha256_of(path)) != sha:
            state = "missing" if found is None else "altered (its SHA-256 is not the one recorded)"
            problems.append(
                f"{path.parent.name}/{path.name} (credit note {number}) {state}: `sansfilm bill "
                f"--month {path.parent.name} --rewrite-documents`"
            )
    return checked, problems
