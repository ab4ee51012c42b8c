"""The invoice views shared by the Finance page and an establishment's own page."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics.billing.export import LINE_COLUMNS, to_csv
from analytics.reporting.finance import monthly_totals
from analytics.reporting.scope import Filters, Viewer
from dashboards import charts, data

LABELS = {
    "status": "statut",
    "month": "mois",
    "number": "numéro",
    "establishment_id": "FINESS",
    "offer": "offre",
    "active_days": "jours actifs",
    "net": "HT",
    "vat": "TVA",
    "gross": "TTC",
    "issue_date": "émise le",
    "invoices": "factures",
    "mom": "évolution mensuelle",
    "position": "n°",
    "code": "code",
    "description": "libellé",
    "metric": "mesure",
    "quantity": "quantité",
    "unit_price": "prix unitaire",
    "amount": "montant",
}
MONEY = ("net", "vat", "gross")


def invoice_section(viewer: Viewer, filters: Filters, key: str) -> None:
    drafted, draft_lines = data.drafts(viewer, filters)
    issued = data.issued(viewer, filters)
    issued_months = set(issued["month"].to_list())
    drafted = drafted.filter(~pl.col("month").is_in(list(issued_months)))  # an issued month shows what was issued
    invoices = pl.concat([issued, drafted]).sort("month", "establishment_id")
    totals = monthly_totals(invoices)
    if issued.is_empty():
        st.info(
            "Registre vide : aucune facture émise pour ces filtres ; les montants sont ceux des brouillons. "
            "`sansfilm bill --month AAAA-MM --issue` émet un mois terminé."
        )

    last = totals.sort("month").tail(1).to_dicts()[0] if totals.height else {}
    cols = st.columns(3)
    cols[0].metric("Total HT sur la période", charts.fr_money(sum(invoices["net"].to_list(), start=0)))
    cols[1].metric(
        f"HT {charts.fr_month(last['month'])}" if last else "Dernier mois",
        charts.fr_money(last.get("net")) if last else "–",
        charts.fr_percent(last.get("mom")) if last.get("mom") is not None else None,
    )
    cols[2].metric("Factures émises / brouillons", f"{issued.height} / {drafted.height}")

    st.subheader("Factures par mois (brouillons calculés, factures émises du registre)")
    charts.show(
        f"{key}_monthly",
        totals,
        charts.bar(totals, "month", "net", "status", {"month": "mois", "net": "HT (€)", "status": ""}),
        decimals={"net": 2, "mom": 3},
        labels=LABELS,
    )
    st.subheader("Factures par établissement")
    shown = invoices
    if invoices["establishment_id"].n_unique() > 1:
        # a month at a time: a regional year is thousands of invoices (500 sites x 12), and sending them all made the
        # page the slowest to draw; the whole period stays one download away
        months = invoices["month"].unique().sort().to_list()
        month = st.selectbox("Mois", months, index=len(months) - 1, format_func=charts.fr_month, key=f"{key}_month")
        shown = invoices.filter(pl.col("month") == month)
        charts.download(
            "Toutes les factures de la période (CSV)",
            lambda: charts.csv_text(invoices, money=MONEY, labels=LABELS),
            f"{key}_invoices_period.csv",
            f"{key}_period_csv",
        )
    charts.show(f"{key}_invoices", shown, money=MONEY, labels=LABELS)

    st.subheader("Détail d'une facture")
    if invoices.is_empty():
        return
    # establishment, then one of its invoices: a single list of every invoice of a 500-site year (6 000 options)
    # took longer to send and draw than the rest of the page
    establishment_id = st.selectbox(
        "Établissement", invoices["establishment_id"].unique().sort().to_list(), key=f"{key}_pick_establishment"
    )
    theirs = invoices.filter(pl.col("establishment_id") == establishment_id)
    options = [f"{r['month']} · {r['number'] or 'brouillon'}" for r in theirs.iter_rows(named=True)]
    picked = st.selectbox("Facture", options, index=len(options) - 1, key=f"{key}_pick")
    month, number = picked.split(" · ")
    if number == "brouillon":
        mine = draft_lines.filter((pl.col("month") == month) & (pl.col("establishment_id") == establishment_id))
        lines = mine.select(
            "position", "code", "description", "metric", "quantity", "unit_price", "amount", "reference"
        )
        csv = to_csv(mine.to_dicts(), LINE_COLUMNS)
        st.download_button(
            "Lignes du brouillon (CSV)",
            csv,
            file_name=f"brouillon-{month}-{establishment_id}.csv",
            mime="text/csv",
            key=f"{key}_draft_csv",
        )
    else:
        lines = data.issued_lines(viewer, number)
        documents = data.documents(viewer, number)
        mimes = {"pdf": "application/pdf", "xml": "application/xml", "csv": "text/csv"}
        names = {"pdf": "PDF (Factur-X)", "xml": "Facture électronique (XML CII)", "csv": "Lignes (CSV)"}
        if not documents:
            st.info("Documents non écrits : `sansfilm bill --month M --issue` les réécrit depuis le registre.")
        for col, (kind, path) in zip(st.columns(3), documents.items(), strict=False):
            col.download_button(
                names[kind], path.read_bytes(), file_name=path.name, mime=mimes[kind], key=f"{key}_{kind}"
            )
    charts.show(
        f"{key}_lines",
        lines.with_columns(
            pl.col("amount").cast(pl.Float64),
            pl.col("quantity").cast(pl.Float64),
            pl.col("unit_price").cast(pl.Float64),
        ),
        decimals={"amount": 2, "quantity": 3, "unit_price": 2},
        labels=LABELS,
    )
    st.markdown("**Consommation derrière les lignes (par jour)**")
    usage = data.usage_daily(data.version(), viewer, month, establishment_id)
    charts.show(
        f"{key}_usage",
        usage,
        decimals={"stored_gb": 6},
        labels={
            "usage_date": "jour",
            "studies_archived": "examens archivés",
            "instances_archived": "instances",
            "bytes_archived": "octets archivés",
            "stored_gb": "stocké (Go)",
            "retrievals": "récupérations",
            "shares": "partages",
            "views": "consultations",
        },
    )
