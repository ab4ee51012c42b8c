"""What a French reader sees instead of codes: départements, modalities, offers, roles, audit events, check names.

Pure data and small functions (no Streamlit): the dashboards and their exports use them, and the end-to-end test's
list of forbidden labels (tests/dashboards/forbidden.py) checks that no code slips through.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

PARIS = ZoneInfo("Europe/Paris")

DEPARTEMENTS = {
    "01": "Ain",
    "02": "Aisne",
    "03": "Allier",
    "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes",
    "07": "Ardèche",
    "08": "Ardennes",
    "09": "Ariège",
    "10": "Aube",
    "11": "Aude",
    "12": "Aveyron",
    "13": "Bouches-du-Rhône",
    "14": "Calvados",
    "15": "Cantal",
    "16": "Charente",
    "17": "Charente-Maritime",
    "18": "Cher",
    "19": "Corrèze",
    "2A": "Corse-du-Sud",
    "2B": "Haute-Corse",
    "21": "Côte-d'Or",
    "22": "Côtes-d'Armor",
    "23": "Creuse",
    "24": "Dordogne",
    "25": "Doubs",
    "26": "Drôme",
    "27": "Eure",
    "28": "Eure-et-Loir",
    "29": "Finistère",
    "30": "Gard",
    "31": "Haute-Garonne",
    "32": "Gers",
    "33": "Gironde",
    "34": "Hérault",
    "35": "Ille-et-Vilaine",
    "36": "Indre",
    "37": "Indre-et-Loire",
    "38": "Isère",
    "39": "Jura",
    "40": "Landes",
    "41": "Loir-et-Cher",
    "42": "Loire",
    "43": "Haute-Loire",
    "44": "Loire-Atlantique",
    "45": "Loiret",
    "46": "Lot",
    "47": "Lot-et-Garonne",
    "48": "Lozère",
    "49": "Maine-et-Loire",
    "50": "Manche",
    "51": "Marne",
    "52": "Haute-Marne",
    "53": "Mayenne",
    "54": "Meurthe-et-Moselle",
    "55": "Meuse",
    "56": "Morbihan",
    "57": "Moselle",
    "58": "Nièvre",
    "59": "Nord",
    "60": "Oise",
    "61": "Orne",
    "62": "Pas-de-Calais",
    "63": "Puy-de-Dôme",
    "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées",
    "66": "Pyrénées-Orientales",
    "67": "Bas-Rhin",
    "68": "Haut-Rhin",
    "69": "Rhône",
    "70": "Haute-Saône",
    "71": "Saône-et-Loire",
    "72": "Sarthe",
    "73": "Savoie",
    "74": "Haute-Savoie",
    "75": "Paris",
    "76": "Seine-Maritime",
    "77": "Seine-et-Marne",
    "78": "Yvelines",
    "79": "Deux-Sèvres",
    "80": "Somme",
    "81": "Tarn",
    "82": "Tarn-et-Garonne",
    "83": "Var",
    "84": "Vaucluse",
    "85": "Vendée",
    "86": "Vienne",
    "87": "Haute-Vienne",
    "88": "Vosges",
    "89": "Yonne",
    "90": "Territoire de Belfort",
    "91": "Essonne",
    "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis",
    "94": "Val-de-Marne",
    "95": "Val-d'Oise",
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "976": "Mayotte",
}

MODALITIES = {
    "CT": "scanner (CT)",
    "MR": "IRM (MR)",
    "CR": "radiographie numérisée (CR)",
    "DX": "radiographie (DX)",
    "US": "échographie (US)",
    "MG": "mammographie (MG)",
    "PT": "TEP (PT)",
    "NM": "médecine nucléaire (NM)",
    "XA": "angiographie (XA)",
    "RF": "radioscopie (RF)",
    "IO": "radio dentaire (IO)",
    "PX": "panoramique dentaire (PX)",
    "OT": "autre (OT)",
    "SR": "compte rendu structuré (SR)",
    "DOC": "document (DOC)",
    "KO": "sélection d'images (KO)",
    "PR": "présentation (PR)",
    "SC": "capture secondaire (SC)",
    "ES": "endoscopie (ES)",
    "XC": "photographie (XC)",
}

OFFERS = {"PACS_RIS": "PACS + RIS", "PACS": "PACS seul", "VNA": "archivage neutre (VNA)"}
CATEGORIES = {
    "CHU": "CHU",
    "CH": "centre hospitalier",
    "CLCC": "centre de lutte contre le cancer",
    "CLINIQUE": "clinique",
    "IMAGERIE": "cabinet d'imagerie",
    "ESPIC": "ESPIC",
}
SECTORS = {"public": "public", "private": "privé", "private_non_profit": "privé non lucratif"}
STAGES = {"signed": "signé", "planned": "planifié", "live": "en production", "ended": "terminé"}
ROLES = {
    "gcs": "direction de programme (GCS)",
    "finance": "finance",
    "ars": "agence régionale de santé (ARS)",
    "operator": "opérateur",
    "establishment": "établissement",
}
SEVERITIES = {"error": "bloquant", "warn": "avertissement"}
TRIGGERS = {
    "issue": "émission de factures",
    "check": "contrôle (sansfilm check)",
    "run": "traitement (sansfilm run)",
    "harvest": "moisson",
    "nightly": "traitement de nuit",
}
SOURCE_KINDS = {
    "dicom_files": "fichiers DICOM",
    "audit_syslog": "journaux d'audit (syslog)",
    "orthanc": "Orthanc",
    "dicomweb": "DICOMweb",
    "dimse": "DICOM (C-FIND)",
}
TERMS = {
    "availability": "disponibilité",
    "ingestion_delay_p95": "délai d'ingestion (95e centile)",
    "retrieval_failure_rate": "taux d'échec des récupérations",
}
UNITS = {"%": "%", "min": "minutes"}
OPINION_PERIODS = {"day": "jour (heures ouvrées)", "on_call": "astreinte"}  # analytics.reporting.opinions
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")  # ISO 1..7

AUDIT_EVENTS = {  # DICOM PS3.15 A.5 event names, in French
    "110100": "activité applicative",
    "110101": "consultation du journal d'audit",
    "110102": "début de transfert d'instances",
    "110103": "accès à des instances",
    "110104": "transfert d'instances",
    "110105": "suppression d'examen",
    "110106": "export",
    "110107": "import",
    "110108": "connexion réseau",
    "110109": "dossier de demande",
    "110110": "dossier patient",
    "110111": "dossier de procédure",
    "110112": "requête",
    "110113": "alerte de sécurité",
    "110114": "authentification",
}

CHECKS = {  # data-quality check names (contracts/data_quality) in French
    "audit_event_ids_known": "codes d'événements d'audit connus",
    "audit_event_in_harvest_window": "événements d'audit datés dans la fenêtre de moisson",
    "audit_outcomes_known": "résultats d'événements d'audit connus",
    "audit_record_key_present": "clé présente sur chaque enregistrement d'audit",
    "audit_records_unique": "enregistrements d'audit sans doublon",
    "audit_source_ae_titles_known": "titres AE émetteurs des audits déclarés",
    "audit_study_uid_well_formed": "UID d'examen des audits bien formés",
    "establishment_id_unique": "un FINESS par établissement",
    "files_accounted_for": "tous les fichiers moissonnés comptés",
    "instance_study_uid_well_formed": "UID d'examen des instances bien formés",
    "instances_attributed": "instances attribuées à un établissement",
    "invoice_documents_intact": "documents de facture intacts",
    "invoices_match_usage": "factures conformes à la consommation",
    "ledger_chain_verified": "chaînage du registre vérifié",
    "modality_in_dicom_set": "modalités DICOM reconnues",
    "receipts_match_studies": "réceptions et examens concordants",
    "received_in_harvest_window": "réceptions datées dans la fenêtre de moisson",
    "sender_ae_titles_known": "titres AE émetteurs déclarés",
    "sizes_positive": "tailles d'instances positives",
    "sop_instance_uid_present": "SOPInstanceUID présent",
    "sop_instance_uid_unique": "SOPInstanceUID sans doublon",
    "sop_instance_uid_well_formed": "SOPInstanceUID bien formés",
    "source_records_current": "sources à jour",
    "sources_harvested_together": "sources moissonnées ensemble",
    "stored_bytes_not_negative": "volume stocké jamais négatif",
    "study_attribution_consistent": "attribution des examens cohérente",
    "study_bytes_positive": "examens non vides",
    "study_instance_uid_unique": "StudyInstanceUID sans doublon",
    "study_instance_uid_well_formed": "StudyInstanceUID bien formés",
    "study_owner_unique": "un établissement par examen",
    "usage_daily_matches_monthly": "consommation journalière égale à la mensuelle",
}

# what detail keys of a check mean (the rest of a check's details is shown as "clé : valeur" with these names)
DETAIL_KEYS = {
    "rows": "lignes",
    "examples": "exemples",
    "min_value": "minimum",
    "max_value": "maximum",
    "max_share": "part maximale",
    "unknown_rows": "lignes inconnues",
    "runs": "moissons",
    "documents": "documents",
    "invoices": "factures",
    "months": "mois",
    "studies": "examens",
    "issued_months": "mois émis",
    "not_regularised": "non régularisées",
    "max_hours": "heures maximum",
    "hours_per_source": "heures par source",
    "value_set": "valeurs admises",
    "columns": "colonnes",
    "mostly": "part minimale",
    "no_receipt_event": "sans événement de réception",
    "not_harvested": "non moissonnés",
}
_HIDDEN_DETAILS = {
    "description",
    "expectation",
    "computed_by",
    "strict_min",
    "measured_against",
    "columns",
    "value_set",
}


def departement(code: str | None) -> str:
    """'93' -> '93 · Seine-Saint-Denis' (a code we do not know stays a code)."""
    if code is None:
        return "–"
    name = DEPARTEMENTS.get(code)
    return f"{code} · {name}" if name else code


def establishment(finess: str | None, name: str | None) -> str:
    """'Hôpital Privé d'Antony (920769742)': the name first, the FINESS beside it."""
    if finess == "UNATTRIBUTED":
        return "non attribué (émetteur inconnu)"
    if not name:
        return finess or "–"
    return f"{name} ({finess})"


def label(mapping: Mapping[str, str], code: object) -> str:
    """A code's French label, or the code itself when unknown (never an empty cell)."""
    if code is None:
        return "–"
    return mapping.get(str(code), str(code))


def yes_no(value: bool | None) -> str:
    return "–" if value is None else ("oui" if value else "non")


def role(role_name: str, registry_names: Mapping[str, str] | None = None) -> str:
    """'establishment:750238172' -> 'établissement Groupe Hospitalier … (750238172)'; 'gcs' -> its job in words."""
    kind, _, finess = role_name.partition(":")
    if kind == "establishment" and finess:
        return f"établissement {establishment(finess, (registry_names or {}).get(finess))}"
    return ROLES.get(kind, role_name)


def check_details(details: object) -> str:
    """A check's JSON details as a short French line: 'lignes : 3973 ; exemples : RADLILAS_DX1 ×20'."""
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return details
    if not isinstance(details, dict):
        return "" if details is None else str(details)
    parts = []
    for key, value in details.items():
        if key in _HIDDEN_DETAILS or value in ([], {}, None, [None]):
            continue
        parts.append(f"{DETAIL_KEYS.get(key, key.replace('_', ' '))} : {_plain(value)}")
    return " ; ".join(parts)


def _plain(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(
            f"{DETAIL_KEYS.get(k, k)} {_plain(v)}" for k, v in value.items() if v not in ([], [None], None)
        )
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value if v is not None)
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    if value == "UNATTRIBUTED":
        return "non attribué"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d", value):
        return paris(datetime.fromisoformat(value)).strftime("%d/%m/%Y %H:%M")
    return str(value)


def paris(moment: datetime) -> datetime:
    """One clock: every time shown is Paris time (a naive time is UTC, as the ledger and Orthanc store them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(PARIS)


def french_codes(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its département, offer and stage codes as French labels (the columns it has of these)."""
    named = {
        "departement": pl.col("departement").map_elements(departement, return_dtype=pl.String),
        "offer": pl.col("offer").replace(OFFERS),
        "stage": pl.col("stage").replace(STAGES),
    }
    return frame.with_columns(expr for name, expr in named.items() if name in frame.columns)


def french_checks(frame: pl.DataFrame) -> pl.DataFrame:
    """Check names, severities, origins and details in French; times in Paris time (one clock); the columns the
    frame has of these. The warehouse's internal table names mean nothing to a reader: dropped."""
    named = {
        "checked_at": pl.col("checked_at").dt.convert_time_zone("Europe/Paris"),
        "name": pl.col("name").replace(CHECKS),
        "severity": pl.col("severity").replace(SEVERITIES),
        "trigger": pl.col("trigger").replace(TRIGGERS),
        "details": pl.col("details").map_elements(check_details, return_dtype=pl.String),
        "observed": pl.col("observed").str.replace(".", ",", literal=True),
    }
    return frame.with_columns(e for c, e in named.items() if c in frame.columns).drop("table_name", strict=False)
