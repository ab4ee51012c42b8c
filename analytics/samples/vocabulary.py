"""Word lists and equipment facts the generator draws from.

Names carry the accents, diaereses and ligatures French archives really hold, because character sets are where
DICOM readers break: some fit ISO_IR 100 (Latin-1), some (œ, Vietnamese tone marks) only UTF-8, so a Latin-1 site
has to transliterate them the way real RIS do. Tuples, not sets: iteration order is part of determinism.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

FAMILY_NAMES = (
    "Lefèvre",
    "Müller",
    "Faÿ",
    "Martin",
    "Bernard",
    "Dubois",
    "Gérard",
    "Bérenger",
    "Noël",
    "Lemaître",
    "Chéron",
    "Périer",
    "Dupré",
    "Léger",
    "Hébert",
    "Ménard",
    "Benoît",
    "Mercier",
    "Giraud",
    "Rousseau",
    "Moreau",
    "Fournier",
    "Bonnet",
    "Lambert",
    "Fontaine",
    "Chevalier",
    "François",
    "Étienne",
    "Évrard",
    "Bénard",
    "Thérond",
    "Cœur",
    "Lœuillet",
    "N'Diaye",
    "Da Silva",
    "Nguyễn",
    "Ben Saïd",
    "Le Gall",
    "Kowalczyk",
    "Ødegaard",
    "Brisson-Lagüe",
    "Aït Ali",
    "Lacôte",
    "Pétrel",
    "Desprès",
)
FEMALE_NAMES = (
    "Hélène",
    "Zoé",
    "Chloé",
    "Inès",
    "Léa",
    "Maëlle",
    "Anaïs",
    "Joëlle",
    "Océane",
    "Françoise",
    "Geneviève",
    "Cécile",
    "Agnès",
    "Marie-Thérèse",
    "Noémie",
    "Clémence",
    "Aurélie",
    "Béatrice",
    "Émilie",
    "Nadège",
)
MALE_NAMES = (
    "Noël",
    "Jérôme",
    "François",
    "Loïc",
    "Raphaël",
    "Joël",
    "Benoît",
    "Gaël",
    "Hervé",
    "Stéphane",
    "Frédéric",
    "Mathéo",
    "Théo",
    "Jean-Noël",
    "René",
    "André",
    "Séverin",
    "Aimé",
    "Éric",
    "Cédric",
)
STAFF_INITIALS = "abcdefghijlmnprstv"

# Communes per département, for generated establishments beyond the hand-written ones.
COMMUNES = {
    "75": ("Paris",),
    "77": ("Melun", "Meaux", "Fontainebleau", "Provins", "Coulommiers", "Montereau-Fault-Yonne"),
    "78": ("Versailles", "Saint-Germain-en-Laye", "Mantes-la-Jolie", "Poissy", "Rambouillet", "Trappes"),
    "91": ("Évry", "Corbeil-Essonnes", "Étampes", "Longjumeau", "Orsay", "Juvisy-sur-Orge"),
    "92": ("Nanterre", "Boulogne-Billancourt", "Clamart", "Suresnes", "Neuilly-sur-Seine", "Colombes"),
    "93": ("Saint-Denis", "Montreuil", "Bobigny", "Aulnay-sous-Bois", "Montfermeil", "Bondy"),
    "94": ("Créteil", "Villejuif", "Vitry-sur-Seine", "Saint-Maurice", "Champigny-sur-Marne", "Ivry-sur-Seine"),
    "95": ("Pontoise", "Argenteuil", "Gonesse", "Eaubonne", "Montmorency", "Cergy"),
}
SAINTS = ("Saint-Joseph", "Sainte-Marie", "Saint-Louis", "Notre-Dame", "Sainte-Geneviève", "Saint-Éloi")

# Studies per weekday for an establishment of each category, at scale 1 (deliberately tiny: the corpus must stay
# a few MB; real volumes are a hundred times larger).
DAILY_STUDIES = {"CHU": 0.45, "CH": 0.25, "CLCC": 0.22, "ESPIC": 0.18, "CLINIQUE": 0.12, "CDS": 0.08, "IMAGERIE": 0.15}
SECTOR = {
    "CHU": "public",
    "CH": "public",
    "CDS": "public",
    "CLCC": "private",
    "ESPIC": "private",
    "CLINIQUE": "private",
    "IMAGERIE": "private",
}


@dataclass(frozen=True, slots=True)
class ModalitySpec:
    sop_class_uid: str
    weight: int  # relative frequency among the modalities a site owns
    instances: tuple[int, int]  # per study at scale 1, inclusive
    series: tuple[int, int]  # inclusive; CR/DX put each image in its own series
    exam_minutes: tuple[int, int]
    descriptions: tuple[str, ...]


MODALITIES = {
    "CR": ModalitySpec(
        "1.2.840.10008.5.1.4.1.1.1",
        18,
        (1, 2),
        (1, 2),
        (2, 6),
        ("Thorax face", "Bassin face", "Genou droit face et profil"),
    ),
    "DX": ModalitySpec(
        "1.2.840.10008.5.1.4.1.1.1.1",
        26,
        (1, 2),
        (1, 2),
        (2, 6),
        ("Thorax face et profil", "Rachis lombaire", "Poignet gauche"),
    ),
    "CT": ModalitySpec(
        "1.2.840.10008.5.1.4.1.1.2",
        14,
        (10, 30),
        (2, 3),
        (5, 15),
        ("Scanner thoraco-abdomino-pelvien", "Scanner cérébral sans injection", "Angioscanner"),
    ),
    "MR": ModalitySpec(
        "1.2.840.10008.5.1.4.1.1.4",
        10,
        (10, 25),
        (3, 5),
        (20, 40),
        ("IRM cérébrale", "IRM du genou", "IRM rachis lombaire"),
    ),
    "US": ModalitySpec(
        "1.2.840.10008.5.1.4.1.1.6.1",
        15,
        (3, 8),
        (1, 1),
        (10, 20),
        ("Échographie abdominale", "Écho-doppler veineux", "Échographie thyroïdienne"),
    ),
    "MG": ModalitySpec(
        "1.2.840.10008.5.1.4.1.1.1.2",
        8,
        (4, 4),
        (1, 1),
        (10, 15),
        ("Mammographie bilatérale", "Mammographie de dépistage"),
    ),
    "PT": ModalitySpec(
        "1.2.840.10008.5.1.4.1.1.128", 3, (10, 20), (2, 2), (20, 40), ("TEP-TDM au 18F-FDG", "TEP corps entier")
    ),
    "NM": ModalitySpec(
        "1.2.840.10008.5.1.4.1.1.20",
        2,
        (2, 6),
        (1, 2),
        (20, 45),
        ("Scintigraphie osseuse", "Scintigraphie myocardique"),
    ),
}


@dataclass(frozen=True, slots=True)
class Vendor:
    """What a vendor's modalities write into the header, and the quirk each is known for here."""

    manufacturer: str  # as sent, trailing spaces included
    models: dict[str, str]  # modality -> ManufacturerModelName
    study_time: str  # "seconds" HHMMSS | "fraction" HHMMSS.FFFFFF | "minutes" HHMM
    implicit_vr: bool = False
    nul_padded_station: bool = False


VENDORS = {
    "GE": Vendor(
        "GE MEDICAL SYSTEMS",
        {
            "CT": "LightSpeed VCT",
            "MR": "Signa HDxt",
            "US": "LOGIQ E9",
            "MG": "Senographe Essential",
            "PT": "Discovery PET/CT 690",
            "NM": "Infinia",
            "DX": "Discovery XR656",
        },
        "seconds",
    ),
    # Quirk "Manufacturer with trailing spaces": Siemens pads the value beyond the even-length rule.
    "Siemens": Vendor(
        "SIEMENS   ",
        {
            "CT": "SOMATOM Definition AS",
            "MR": "MAGNETOM Avanto",
            "US": "ACUSON S2000",
            "PT": "Biograph mCT",
            "NM": "Symbia T",
            "DX": "Ysio",
            "MG": "MAMMOMAT Inspiration",
        },
        "seconds",
    ),
    # Quirk "StudyTime with fractional seconds".
    "Philips": Vendor(
        "Philips Medical Systems",
        {"CT": "Brilliance 64", "MR": "Ingenia", "US": "iU22", "DX": "DigitalDiagnost", "PT": "Gemini TF"},
        "fraction",
    ),
    # Quirk "StationName NUL-padded" (a NUL where a space belongs).
    "Canon": Vendor("Canon Inc.", {"DX": "CXDI-70C Wireless"}, "seconds", nul_padded_station=True),
    "Toshiba": Vendor("TOSHIBA", {"CT": "Aquilion ONE", "US": "Aplio 500", "MR": "Vantage Titan"}, "fraction"),
    # Quirk "StudyTime shortened to HHMM".
    "Fujifilm": Vendor(
        "FUJIFILM Corporation", {"CR": "FCR Capsula XL II", "DX": "FDR D-EVO", "MG": "AMULET"}, "minutes"
    ),
    # Quirk "Implicit VR Little Endian": the archive keeps the transfer syntax the Agfa CR negotiated.
    "Agfa": Vendor("Agfa", {"CR": "CR 85-X", "DX": "DX-D 300"}, "seconds", implicit_vr=True),
    "Hologic": Vendor("HOLOGIC, Inc.", {"MG": "Selenia Dimensions"}, "seconds"),
    "Carestream": Vendor("Carestream Health", {"CR": "DirectView CR 975", "DX": "DRX-Evolution"}, "seconds"),
}


def vendors_for(modality: str) -> tuple[str, ...]:
    return tuple(name for name, vendor in VENDORS.items() if modality in vendor.models)


def ascii_fold(text: str) -> str:
    """What an ASCII-only sender makes of a name: accents dropped, ligatures spelled out."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    text = text.replace("ø", "o").replace("Ø", "O")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()


def fit_charset(text: str, charset: str | None) -> str:
    """The form of `text` a sender with this SpecificCharacterSet can write (None = ASCII only)."""
    if charset == "ISO_IR 192":
        return text
    if charset is None:
        return ascii_fold(text)
    out = []
    for ch in text:  # ISO_IR 100: keep what Latin-1 has, transliterate the rest (œ, tone marks)
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            out.append(ascii_fold(ch) or "?")
    return "".join(out)
