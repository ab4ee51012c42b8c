"""The invoice views shared by the Finance page and an establishment's own page."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics.billing.export import LINE_COLUMNS, to_csv
from analytics.reporting import labels, mine
from analytics.reporting.finance import monthly_totals
from analytics.reporting.scope import Filters, Viewer
from dashboards import charts, data

LABELS = {
    "status": "statut",
    "month": "mois",
    "number": "numéro",
    "establishment_id": "FINESS",
    "offer": "offre",
    "name": "établissement",
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


def invoices_of(viewer: Viewer, filters: Filters) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(drafts not issued, their lines, issued invoices, both together in month order)."""
    drafted, draft_lines = data.drafts(viewer, filters)
    issued = data.issued(viewer, filters)
    drafted = drafted.filter(~pl.col("month").is_in(issued["month"].to_list()))  # an issued month shows what was issued
    return drafted, draft_lines, issued, pl.concat([issued, drafted]).sort("month", "establishment_id")


def invoice_section(viewer: Viewer, filters: Filters, key: str) -> None:
    drafted, draft_lines, issued, _ = invoices_of(viewer, filters)
    names = data.establishment_names(viewer)
    invoices = (
        pl.concat([issued, drafted])
        .sort("month", "establishment_id")
        .with_columns(
            pl.col("offer").replace(labels.OFFERS),
            pl.col("establishment_id").replace_strict(names, default=None).alias("name"),
        )
    )
    invoices = invoices.select(*invoices.columns[:4], "name", *invoices.columns[4:-1])
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
        charts.downloads(
            f"{key}_invoices_period", invoices, money=MONEY, labels=LABELS, title="Toutes les factures de la période"
        )
    charts.show(f"{key}_invoices", shown, money=MONEY, labels=LABELS)

    st.subheader("Détail d'une facture")
    if invoices.is_empty():
        return
    # establishment, then one of its invoices: a single list of every invoice of a 500-site year (6 000 options)
    # took longer to send and draw than the rest of the page
    ids = invoices["establishment_id"].unique().sort().to_list()
    if len(ids) == 1:  # no picker offering a single choice (an establishment's own page)
        establishment_id = ids[0]
    else:
        # the choices are what the reader sees (name and FINESS, French month), mapped back to their keys
        shown = {labels.establishment(e, names.get(e)): e for e in ids}
        establishment_id = shown[st.selectbox("Établissement", list(shown), key=f"{key}_pick_establishment")]
    theirs = invoices.filter(pl.col("establishment_id") == establishment_id).sort("month")
    options = {
        f"{charts.fr_month(r['month'])} · {r['number'] or 'brouillon'}": (r["month"], r["number"] or "brouillon")
        for r in theirs.iter_rows(named=True)
    }
    month, number = options[st.selectbox("Facture", list(options), index=len(options) - 1, key=f"{key}_pick")]
    invoice = theirs.filter(pl.col("month") == month).row(0, named=True)
    if number == "brouillon":
        chosen = draft_lines.filter((pl.col("month") == month) & (pl.col("establishment_id") == establishment_id))
        lines = chosen.select(
            "position", "code", "description", "metric", "quantity", "unit_price", "amount", "reference"
        )
        csv = to_csv(chosen.to_dicts(), LINE_COLUMNS)
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
    invoice_lines(lines, invoice)
    for sentence in mine.explanations(lines):
        st.info(sentence)
    st.markdown("**Consommation derrière les lignes (par jour)**")
    usage = data.usage_daily(data.version(), viewer, month, establishment_id)
    charts.show(
        f"{key}_usage",
        usage,
        decimals={"stored_gb": 6},
        labels={
            "usage_date": "jour",
            "establishment_id": "FINESS",
            "studies_archived": "examens archivés",
            "instances_archived": "instances",
            "bytes_archived": "octets archivés",
            "stored_gb": "stocké (Go)",
            "retrievals": "récupérations",
            "shares": "partages",
            "views": "consultations",
        },
    )


LINE_LABELS = {
    "position": "n°",
    "description": "désignation",
    "quantity": "quantité",
    "unit_price": "prix unitaire HT",
    "amount": "montant HT",
    "reference": "facture corrigée",
}


def invoice_lines(lines: pl.DataFrame, invoice: dict) -> None:
    """The lines as the invoice prints them: exact quantities, unit prices with the tariff's decimals (2,4571), the
    amount in euros, then the totals HT, TVA and TTC under them. A static table: every column shows, on a phone too."""
    shown = pl.DataFrame(
        {
            "position": [str(p) for p in lines["position"]],
            "description": lines["description"].to_list(),
            "quantity": [charts.fr_exact(q) for q in lines["quantity"]],
            "unit_price": [f"{charts.fr_exact(u)}\u202f€" for u in lines["unit_price"]],
            "amount": [charts.fr_money(a) for a in lines["amount"]],
            "reference": [r or "" for r in lines["reference"]],
        },
        schema={name: pl.String for name in LINE_LABELS},
    )
    if not any(shown["reference"]):
        shown = shown.drop("reference")
    st.table(shown.rename({k: v for k, v in LINE_LABELS.items() if k in shown.columns}).to_pandas().set_index("n°"))
    rate = invoice["vat"] / invoice["net"] if invoice["net"] else None
    vat = f"TVA ({charts.fr_number(rate * 100, 0)}\u202f%)" if rate is not None else "TVA"
    st.table(
        pl.DataFrame(
            {
                "": ["Total HT", vat, "Total TTC"],
                "montant": [charts.fr_money(invoice[k]) for k in ("net", "vat", "gross")],
            }
        )
        .to_pandas()
        .set_index("")
    )
