"""What a curator compares between two copies of a photo, read with Pillow's EXIF reader.

`photo_facts(path)` gives the pixel size, format, file size, JPEG quality estimate, the number of EXIF
tags, camera, date taken (EXIF DateTimeOriginal, else DateTime), orientation, colour (a grayscale copy
shows) and the file's modification time; `differences(a, b)` names the facts that differ. Reading never
fails: an unreadable file gets empty facts with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

_EXIF_IFD = 0x8769
_ORIENTATIONS = {1: "upright", 2: "mirrored", 3: "upside down", 4: "flipped vertically",
                 5: "mirrored, turned left", 6: "turned right", 7: "mirrored, turned right", 8: "turned left"}
# The IJG standard luminance table (quality 50): a JPEG's table divided by it estimates its quality.
_IJG_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
             92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)


@dataclass(frozen=True)
class PhotoFacts:
    """One file's facts. width/height in pixels (as stored, before orientation), size in bytes,
    quality: estimated JPEG quality 1-100 (None for other formats), tags: EXIF tag count, taken: EXIF date
    as 'YYYY-MM-DD HH:MM:SS' or None, modified: the file's mtime as an ISO date."""

    width: int = 0
    height: int = 0
    format: str = ""
    size: int = 0
    quality: int | None = None
    tags: int = 0
    camera: str = ""
    taken: str | None = None
    orientation: str = ""
    # "colour (RGB)", "grayscale (L)", "grayscale, stored as RGB"...: a grayscale copy shows here.
    colour: str = ""
    modified: str = ""
    mtime: float = 0.0
    error: str = ""

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def bytes_per_pixel(self) -> float:
        return self.size / self.pixels if self.pixels else 0.0

    def rows(self) -> dict[str, str]:
        """The facts shown side by side in the compare view and the CLI, in words."""
        return {
            "size": f"{self.width} x {self.height} px" if self.pixels else "unreadable",
            "format": self.format + (f" (quality ~{self.quality})" if self.quality else ""),
            "file size": f"{self.size:,} bytes",
            "camera": self.camera or "-",
            "date taken": self.taken or "-",
            "orientation": self.orientation or "-",
            "colour": self.colour or "-",
            "EXIF tags": str(self.tags),
            "modified": self.modified,
        }


def photo_facts(path: Path) -> PhotoFacts:
    """The facts of the image file at `path` (never raises: `error` says why a file could not be read)."""
    try:
        stat = os.stat(path)
    except OSError as error:
        return PhotoFacts(error=error.strerror or str(error))
    modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            detail = exif.get_ifd(_EXIF_IFD)
            make, model = str(exif.get(0x010F, "")).strip(), str(exif.get(0x0110, "")).strip()
            camera = model if make and model.startswith(make) else " ".join(p for p in (make, model) if p)
            taken = detail.get(0x9003) or exif.get(0x0132)
            orientation = exif.get(0x0112)
            facts = PhotoFacts(
                width=image.width, height=image.height, format=image.format or "", size=stat.st_size,
                quality=jpeg_quality(image), tags=len(exif) + len(detail), camera=camera,
                taken=_date(taken), orientation=_ORIENTATIONS.get(orientation, "") if orientation else "",
                modified=modified, mtime=stat.st_mtime)
            return replace(facts, colour=colour_of(image))  # last: it decodes (a reduced draft)
    except (OSError, ValueError, SyntaxError) as error:
        return PhotoFacts(size=stat.st_size, modified=modified, mtime=stat.st_mtime, error=str(error))


# Modes whose pixels have no colour at all (Pillow's mode names).
_GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")
# A pixel whose channels differ by at most this much (0-255) shows no colour: JPEG rounding of a gray image
# saved as RGB stays within 1-3.
_NEUTRAL = 6


def colour_of(image: Image.Image) -> str:
    """The image's colour in words, from its mode, and for a colour mode from its pixels (read reduced: a
    JPEG is decoded at 1/8 scale): "grayscale (L)", "grayscale, stored as RGB" when 99% of the pixels have
    equal channels, else "colour (RGB)". Changes `image`'s decoding size (Image.draft): call it last."""
    mode = image.mode
    if mode in _GRAY_MODES:
        return "black and white (1-bit)" if mode == "1" else f"grayscale ({mode})"
    try:
        image.draft("RGB", (64, 64))
        small = image.convert("RGB")
        small.thumbnail((64, 64))
        pixels = np.asarray(small, dtype=np.int16)
    except (OSError, ValueError):
        return f"colour ({mode})"
    spread = pixels.max(axis=2) - pixels.min(axis=2)
    if spread.size and np.percentile(spread, 99) <= _NEUTRAL:
        return f"grayscale, stored as {mode}"
    return f"colour ({mode})"


def jpeg_quality(image: Image.Image) -> int | None:
    """The IJG quality (1-100) whose luminance table is closest to the JPEG's own, or None for other
    formats. Scaling rule of the IJG library (jcparam.c): tables are the standard table times 50/q for
    q < 50, times (200 - 2q)/100 above."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables:
        return None
    table = list(tables[0])
    if len(table) != 64:
        return None
    ratio = sum(table) / sum(_IJG_LUMA)
    scale = ratio * 100
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return max(1, min(100, round(quality)))


def differences(a: PhotoFacts, b: PhotoFacts) -> list[str]:
    """The names of the rows of `PhotoFacts.rows` that differ between two files."""
    rows_a, rows_b = a.rows(), b.rows()
    return [name for name in rows_a if rows_a[name] != rows_b[name]]


def _date(value: object) -> str | None:
    text = str(value).strip().rstrip("\x00") if value else ""
    if len(text) >= 19 and text[4] == ":" and text[7] == ":":
        return f"{text[:4]}-{text[5:7]}-{text[8:10]} {text[11:19]}"
    return text or None

