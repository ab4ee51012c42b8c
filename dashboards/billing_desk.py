"""The Factures page's follow-up and acts: statuses and balances for whoever sees money (an establishment its own),
and for `finance` only the buttons: issue a month, credit, send, record a payment. The acts go through
analytics.reporting.billing_desk, which refuses any other role whatever this page shows."""

from __future__ import annotations

import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from analytics.billing.followup import STATUSES
from analytics.billing.model import Month
from analytics.clock import paris_today
from analytics.errors import SansfilmError
from analytics.reporting import billing_desk, labels
from analytics.reporting.scope import Filters, Viewer
from dashboards import charts, data

LABELS = {
    "number": "numéro",
    "kind": "type",
    "establishment_id": "FINESS",
    "name": "établissement",
    "month": "mois",
    "issue_date": "émise le",
    "gross": "TTC",
    "credited": "avoirs",
    "paid": "payé",
    "balance": "reste dû",
    "due_date": "échéance",
    "status": "statut",
    "days_late": "jours de retard",
    "references": "références",
    "sent": "envoi",
}
STATUS_LABELS = {
    "draft": "brouillon",
    "issued": "émise",
    "sent": "envoyée",
    "partly paid": "partiellement payée",
    "paid": "payée",
    "overdue": "en retard",
    "credited": "annulée par avoir",
}
MONEY = ("gross", "credited", "paid", "balance")


def names() -> dict[str, str]:
    from analytics.registry import load_registry

    return {e.establishment_id: e.name for e in load_registry(data.settings().contracts.dir).establishments}


def follow_up(viewer: Viewer) -> pl.DataFrame:
    """Search, filter and preview the issued invoices and credit notes; returns every one the viewer may see."""
    st.subheader("Suivi des factures et avoirs")
    table = data.ledger_read(billing_desk.accounts)(data.settings(), viewer, paris_today(), names())
    left, right = st.columns([2, 1])
    text = left.text_input("Rechercher (numéro, établissement ou FINESS)", key="desk_search")
    status = right.selectbox(
        "Statut",
        [None, *STATUSES[1:]],
        key="desk_status",
        format_func=lambda s: "tous" if s is None else STATUS_LABELS[s],
    )
    shown = billing_desk.search(table, text, status)
    cols = st.columns(3)
    cols[0].metric("Reste dû", charts.fr_money(billing_desk.balance(shown)))
    overdue = shown.filter(pl.col("status") == "overdue")
    cols[1].metric("Factures en retard", charts.fr_number(overdue.height))
    cols[2].metric("Montant en retard", charts.fr_money(billing_desk.balance(overdue)))
    charts.show(
        "desk_accounts", shown.with_columns(pl.col("status").replace(STATUS_LABELS)), money=MONEY, labels=LABELS
    )
    if shown.height:
        number = st.selectbox("Aperçu du PDF", shown["number"].to_list(), key="desk_preview")
        _preview(viewer, number, shown.filter(pl.col("number") == number).row(0, named=True))
    return table


def _preview(viewer: Viewer, number: str, row: dict) -> None:
    if get_script_run_ctx(suppress_warning=True) is None:  # the cache warmer's headless run: no browser to show it
        return
    folder = data.settings().billing.out_dir / row["month"]
    pdf = folder / f"{number}.pdf"
    if not pdf.exists():
        st.info(f"{pdf.name} absent : `sansfilm bill --month {row['month']} --rewrite-documents` le réécrit.")
        return
    st.download_button(
        f"Télécharger {pdf.name}", pdf.read_bytes(), file_name=pdf.name, mime="application/pdf", key="desk_pdf_download"
    )
    st.pdf(pdf.read_bytes(), height=600, key=f"desk_pdf_{number}")


def acts(viewer: Viewer, filters: Filters, table: pl.DataFrame) -> None:
    """The four acts, for finance only (no button for anyone else)."""
    if viewer.kind != "finance":
        return
    st.subheader("Actes de facturation")
    issue, credit, send, pay = st.tabs(["Émettre un mois", "Avoir", "Envoyer", "Paiement"])
    with issue:
        _issue(viewer, filters)
    invoices = table.filter(pl.col("kind") == "facture")["number"].to_list()
    with credit:
        _credit(viewer, invoices)
    with send:
        _send(viewer, table["number"].to_list())
    with pay:
        _pay(viewer, table.filter((pl.col("kind") == "facture") & (pl.col("balance") > 0))["number"].to_list())


def _done(key: str, act, *args, **kwargs) -> None:  # noqa: ANN001 - an act of billing_desk
    """Run an act; show its outcome (a refusal is its one-line reason), and read the ledger afresh."""
    try:
        st.session_state[key] = ("success", act(*args, **kwargs))
    except SansfilmError as exc:
        st.session_state[key] = ("error", " ".join(str(exc).split()))
    st.cache_data.clear()
    st.rerun()  # the tables above were drawn before the act: draw them again from the ledger


def _outcome(key: str) -> None:
    if key in st.session_state:
        kind, message = st.session_state[key]
        (st.success if kind == "success" else st.error)(message)


def _issue(viewer: Viewer, filters: Filters) -> None:
    issued = data.issued_months()
    months = data.months(data.version())
    candidates = [m for m in months if m not in issued]
    if not candidates:
        st.info("Tous les mois publiés sont émis.")
        return
    month = st.selectbox("Mois à émettre", candidates, format_func=charts.fr_month, key="desk_issue_month")
    drafted, lines = data.drafts(viewer, Filters(month, month))
    drafted = drafted.filter(pl.col("month") == month)
    st.markdown(
        f"**Brouillons de {charts.fr_month(month)}** : {drafted.height} facture(s), "
        f"{charts.fr_money(sum(drafted['net'].to_list(), start=0))} HT"
    )
    charts.show(
        "desk_drafts",
        labels.french_codes(drafted.drop("status", "number", "issue_date")),
        money=("net", "vat", "gross"),
        labels={
            "month": "mois",
            "establishment_id": "FINESS",
            "offer": "offre",
            "active_days": "jours actifs",
            "net": "HT",
            "vat": "TVA",
            "gross": "TTC",
        },
    )
    regul = lines.filter((pl.col("month") == month) & pl.col("code").str.starts_with("REGUL:"))
    st.markdown(f"**Régularisations en attente** : {regul.height}")
    if regul.height:
        charts.show(
            "desk_regul",
            regul.select("establishment_id", "code", "description", "amount", "reference"),
            labels={
                "establishment_id": "FINESS",
                "code": "code",
                "description": "libellé",
                "amount": "montant",
                "reference": "facture corrigée",
            },
        )
    latest, _failures = data.quality_checks(viewer)
    gate = latest.filter(pl.col("severity") == "error") if latest.height else latest
    failing = gate.filter(~pl.col("passed")).height if gate.height else 0
    st.markdown(
        f"**Contrôle qualité (bloquant)** : {gate.height} contrôle(s), {failing} en échec "
        "(ils sont relancés à l'émission)"
    )
    if gate.height:
        charts.show(
            "desk_gate",
            labels.french_checks(gate.select("name", "table_name", "passed", "observed", "details", "checked_at")),
            labels={
                "name": "contrôle",
                "passed": "réussi",
                "observed": "observé",
                "details": "détails",
                "checked_at": "vérifié le",
            },
        )
    confirm = st.checkbox(
        f"Je confirme l'émission de {charts.fr_month(month)} (numérotation définitive)", key="desk_issue_confirm"
    )
    if st.button("Émettre", type="primary", disabled=not confirm, key="desk_issue"):
        _done(
            "desk_issue_outcome",
            lambda: billing_desk.issue_month(data.settings(), viewer, Month.parse(month), paris_today()).message,
        )
    _outcome("desk_issue_outcome")


def _credit(viewer: Viewer, invoices: list[str]) -> None:
    if not invoices:
        st.info("Aucune facture émise.")
        return
    number = st.selectbox("Facture", invoices, key="desk_credit_number")
    lines = data.issued_lines(viewer, number)
    scope = st.radio("Avoir", ["total", "lignes", "montant"], horizontal=True, key="desk_credit_scope")
    positions = amount = None
    if scope == "lignes":
        options = lines["position"].to_list()
        described = dict(
            zip(
                options,
                [f"{p} · {d} ({a} €)" for p, d, a in lines.select("position", "description", "amount").iter_rows()],
                strict=True,
            )
        )
        positions = st.multiselect("Lignes", options, format_func=described.get, key="desk_credit_lines")
    elif scope == "montant":
        amount = st.text_input("Montant HT (€)", key="desk_credit_amount")
    reason = st.text_input("Motif", key="desk_credit_reason")
    if st.button("Émettre l'avoir", key="desk_credit"):
        _done(
            "desk_credit_outcome",
            billing_desk.credit,
            data.settings(),
            viewer,
            number,
            reason=reason,
            today=paris_today(),
            positions=positions,
            amount=amount,
        )
    _outcome("desk_credit_outcome")


def _send(viewer: Viewer, numbers: list[str]) -> None:
    if not numbers:
        st.info("Aucune facture émise.")
        return
    number = st.selectbox("Facture ou avoir", numbers, key="desk_send_number")
    transport = st.radio(
        "Transport",
        ["outbox", "email"],
        horizontal=True,
        key="desk_send_transport",
        format_func={"outbox": "dépôt (Chorus Pro)", "email": "courriel"}.get,
    )
    if st.button("Marquer envoyé", key="desk_send"):
        _done("desk_send_outcome", billing_desk.send, data.settings(), viewer, number, transport)
    _outcome("desk_send_outcome")


def _pay(viewer: Viewer, numbers: list[str]) -> None:
    if not numbers:
        st.info("Aucune facture à payer.")
        return
    number = st.selectbox("Facture", numbers, key="desk_pay_number")
    amount = st.text_input("Montant reçu TTC (€)", key="desk_pay_amount")
    paid_on = st.date_input("Reçu le", value=paris_today(), max_value=paris_today(), key="desk_pay_date")
    reference = st.text_input("Référence du virement", key="desk_pay_reference")
    if st.button("Enregistrer le paiement", key="desk_pay"):
        _done(
            "desk_pay_outcome",
            billing_desk.pay,
            data.settings(),
            viewer,
            number,
            amount=amount,
            paid_on=paid_on,
            reference=reference,
            today=paris_today(),
        )
    _outcome("desk_pay_outcome")
