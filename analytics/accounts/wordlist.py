"""The common-password list (`common_passwords.txt`, shipped beside this module), generated from well-known patterns.

Written for sansfilm, not copied from a third-party list: the words people pick first (English and French words and
names, the usual "password" variants, the software and trade words of a radiology programme), keyboard walks and
digit runs, each alone, repeated, in the usual leetspeak, and followed by the usual suffixes (digit runs, years,
"!"), kept when at least MIN_LENGTH long. Every entry is lower case; the check folds case. Regenerate after editing:
`python -m analytics.accounts.wordlist` (a test keeps the file and this generator in step).
"""

from __future__ import annotations

from analytics.accounts.passwords import LIST_FILE, MIN_LENGTH

WORDS = """
password passwd passw0rd p@ssword pass motdepasse mdp secret secrets letmein welcome bienvenue hello bonjour salut
coucou login access admin administrator administrateur root superuser user utilisateur guest invite test testing
demo sample default changeme change trustno1 whatever nothing freedom master shadow dragon monkey sunshine princess
football baseball soccer basketball hockey tennis rugby superman batman spiderman starwars pokemon naruto matrix
iloveyou jetaime loveyou amour cheri cherie doudou loulou chouchou bebe soleil chocolat fleur etoile nounours
michael jordan charlie thomas nicolas julien camille marie sophie pierre jean louis lucas hugo emma lea chloe manon
jennifer jessica ashley daniel robert william david joshua andrew matthew anthony hunter ranger buster tigger
ginger pepper maggie harley summer winter spring autumn ete hiver printemps automne paris marseille lyon toulouse
nice nantes lille bordeaux france europe london newyork hopital hospital clinique sante medecin docteur infirmier
radiologie radiology radio imagerie scanner irm echo pacs ris dicom orthanc sansfilm streamlit finance comptable
compta facture gcs ars operateur operator azerty qwerty qwertz azertyuiop qwertyuiop qwertzuiop asdfghjkl
qsdfghjklm zxcvbnm wxcvbn 1qaz2wsx 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y zaq12wsx qazwsx qazwsxedc zaqxsw abc abcdef
abcdefgh abcdefghijkl aaaaaa azertyqwerty computer ordinateur internet server serveur office windows linux apple
google facebook microsoft orange samsung mustang ferrari porsche yamaha harley killer hacker cookie cheese banana
orange lemon coffee cafe pizza marlboro cowboy angel angels devil jesus christ god dieu allah family famille
friends amis forever toujours love loving lovely happy heaven blessed victory liberte egalite fraternite
""".split()

DIGIT_RUNS = [
    "123",
    "1234",
    "12345",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "0123456789",
    "987654321",
    "9876543210",
    "111111",
    "000000",
    "123123",
    "121212",
    "112233",
    "654321",
    "696969",
    "123321",
    "147258369",
    "159753",
    "789456123",
    "147852369",
    "102030",
    "101010",
    "131313",
    "777777",
]
SUFFIXES = [
    "",
    "1",
    "01",
    "12",
    "123",
    "1234",
    "12345",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "!",
    "!!",
    "1!",
    "123!",
    "@123",
    "#1",
    "007",
    "69",
    "99",
    "00",
    "11",
    "2000",
    "2001",
    "2010",
    "2012",
    "2015",
    "2018",
    "2019",
    "2020",
    "2021",
    "2022",
    "2023",
    "2024",
    "2025",
    "2026",
    "2027",
]
_LEET = str.maketrans({"a": "@", "o": "0", "e": "3", "i": "1", "s": "$"})


def generate() -> list[str]:
    entries: set[str] = set()
    for word in WORDS:
        for stem in {word, word.translate(_LEET)}:
            entries.update(stem + suffix for suffix in SUFFIXES)
            entries.update((stem * 2, stem * 3, stem + "." + stem, "my" + stem, "mon" + stem, "ma" + stem))
    for run in DIGIT_RUNS:
        entries.update((run, run * 2, run * 3, run + run[::-1]))
    for digit in "0123456789":
        entries.update(digit * n for n in range(6, 21))
        for cycle in ("0123456789" * 3, "9876543210" * 3):  # counting up or down from any digit, wrapping round
            start = cycle.index(digit)
            entries.update(cycle[start : start + n] for n in range(6, 21))
    for a, b in [("abc", "123"), ("azerty", "123"), ("qwerty", "123"), ("password", "123"), ("admin", "123")]:
        entries.update((a + b + a + b, b + a, b + a + b + a))
    return sorted(e for e in entries if len(e) >= MIN_LENGTH)  # shorter ones are refused by length anyway


def main() -> None:
    LIST_FILE.write_text("".join(f"{entry}\n" for entry in generate()), encoding="utf-8")


if __name__ == "__main__":
    main()
