"""What an instance probably weighs when the archive does not say (C-FIND never does; DICOMweb rarely does).

With the image matrix (Rows, Columns, BitsAllocated, SamplesPerPixel, NumberOfFrames): the uncompressed pixel data
plus a typical header. Without it: a typical uncompressed instance of the modality. Both are estimates, stored with
`size_estimated = true`, and the staged model prefers the real size whenever another source knows the instance.
"""

from __future__ import annotations

HEADER_BYTES = 2_000  # a typical header (patient, study, series, equipment and image modules)
DEFAULT_BYTES = 1_000_000  # an unknown modality
# a typical uncompressed instance per modality (one image or one frame set), in bytes
TYPICAL_BYTES = {
    "CT": 525_000,  # 512 x 512 x 16 bits
    "MR": 135_000,  # 256 x 256 x 16 bits
    "PT": 35_000,  # 128 x 128 x 16 bits
    "NM": 135_000,
    "CR": 8_400_000,  # 2048 x 2048 x 16 bits
    "DX": 18_000_000,  # 3000 x 3000 x 16 bits
    "MG": 27_000_000,  # 3328 x 4096 x 16 bits
    "US": 925_000,  # 640 x 480 x 3 samples x 8 bits
    "XA": 16_000_000,  # 30 frames of 512 x 512 x 16 bits... order of magnitude
    "RF": 16_000_000,
    "SR": 20_000,
    "KO": 5_000,
    "PR": 10_000,
    "SEG": 2_000_000,
    "OT": 1_000_000,
}


def estimated_size(
    modality: str | None,
    rows: int | None = None,
    columns: int | None = None,
    bits_allocated: int | None = None,
    frames: int | None = None,
    samples: int | None = None,
) -> int:
    """Bytes: from the matrix when Rows and Columns are known, else the modality's typical size."""
    if rows and columns and rows > 0 and columns > 0:
        bytes_per_sample = max(1, ((bits_allocated or 16) + 7) // 8)
        return HEADER_BYTES + rows * columns * bytes_per_sample * max(1, samples or 1) * max(1, frames or 1)
    return TYPICAL_BYTES.get((modality or "").upper(), DEFAULT_BYTES)


def as_int(text: str | None) -> int | None:
    """An IS/US value as sent (possibly padded, possibly multi-valued: the first value), or None."""
    if text is None:
        return None
    try:
        return int(float(str(text).split("\\")[0].strip()))
    except ValueError:
        return None
