"""What an establishment reads on its own page, beyond its usage and invoices: the estimate of its next invoice and
plain-French explanations of the lines that surprise (a top-up to the minimum, a service-level credit)."""

from __future__ import annotations

import polars as pl

from analytics.billing.credits import SLA
from analytics.billing.rules import MINIMUM


def next_invoice(invoices: pl.DataFrame) -> dict | None:
    """The draft of the first month not issued yet (the next invoice): month, net, vat, gross. None when every
    month shown is issued."""
    drafts = invoices.filter(pl.col("status") == "brouillon").sort("month")
    return drafts.row(0, named=True) if drafts.height else None


def explanations(lines: pl.DataFrame) -> list[str]:
    """One sentence per kind of line a reader may not expect on the invoice."""
    codes = set(lines["code"].to_list()) if "code" in lines.columns else set()
    out = []
    if MINIMUM in codes:
        out.append(
            "« Complément au minimum de consommation » : l'offre prévoit un montant minimum par mois (au prorata "
            "des jours d'activité). Ce mois-ci, la consommation facturée est restée en dessous : la ligne "
            "ajoute la différence, pour que la facture atteigne ce minimum. Elle disparaît dès que la "
            "consommation du mois le dépasse."
        )
    if any(str(code).startswith(SLA) for code in codes):
        out.append(
            "Ligne de crédit (montant négatif) : un niveau de service du contrat n'a pas été tenu le mois "
            "précédent ; l'opérateur vous rembourse la part prévue par le contrat (docs/service-levels.md)."
        )
    if any(str(code).startswith("REGUL") for code in codes):
        out.append(
            "Ligne de régularisation : une facture déjà émise est corrigée (des données sont arrivées après son "
            "émission) ; la ligne cite la facture corrigée."
        )
    return out
