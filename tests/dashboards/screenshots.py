"""The screenshots docs/dashboards.md shows, taken from the e2e test's (build/screenshots/, every page of every role
at 1440 px and 390 px): a readable few, scaled down and reduced to a palette (PNG), so docs/screenshots/ stays small.

    make screenshots    # the e2e test over every page of every role, then this script

    .venv/bin/python -m tests.dashboards.screenshots [--source build/screenshots] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
# (the e2e's file name, the docs' file name): one page per audience at a laptop's width, and a phone's
CHOSEN = [
    ("gcs-rollout-1440.png", "deploiement.png"),
    ("finance-finance-1440.png", "factures.png"),
    ("ars-regional-1440.png", "activite-regionale-ars.png"),
    ("operator-operator-1440.png", "stockage-et-service.png"),
    ("gcs-quality-1440.png", "qualite.png"),
    ("establishment-750238172-establishment-1440.png", "mon-etablissement.png"),
    ("gcs-opinions-1440.png", "tele-avis.png"),
    ("ars-regional-390.png", "activite-regionale-ars-telephone.png"),
]
WIDTH = {1440: 960, 390: 312}  # scaled to two thirds and four fifths: the text stays readable
COLOURS = 48


def shrink(source: Path, target: Path) -> int:
    image = Image.open(source).convert("RGB")
    width = WIDTH[image.width] if image.width in WIDTH else image.width
    image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    image.quantize(COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(target, optimize=True)
    return target.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=ROOT / "build" / "screenshots")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    missing = [name for name, _ in CHOSEN if not (args.source / name).is_file()]
    if missing:
        sys.exit(f"error: {args.source} lacks {', '.join(missing)}: run the e2e test first (make screenshots)")
    args.out.mkdir(parents=True, exist_ok=True)
    total = sum(shrink(args.source / name, args.out / docs) for name, docs in CHOSEN)
    print(f"{len(CHOSEN)} screenshots in {args.out}, {total // 1024} KB")


if __name__ == "__main__":
    main()
