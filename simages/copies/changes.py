"""What changed between a photo and its copy, said only where it can be told cheaply and for sure.

A copy found by the duplicates intent is said to be:

- **smaller**: fewer pixels (upright width x height, from the file headers) than the other, by more than
  `SMALLER_AREA` of the area (with another aspect: smaller in both width and height, so that a crop or
  a border alone is not called smaller);
- **different-aspect**: its width-to-height ratio differs by more than `ASPECT_TOLERANCE` (cropped, or
  padded with borders: which of the two is not told);
- **turned**: found with the key turned by a quarter turn (simages.copies.turns), and by how much;
- **mirrored**: the mirrored key matched it better than the key itself, by at least `MIRROR_MARGIN`;
- **re-encoded**: the same pixel size but other bytes (a re-saved file), and the format when it differs.

Nothing else is named: an edit that cannot be told from the headers, the bytes and the scores (a colour
shift, a caption...) is simply not said. Reading only headers (and, for two files of the same byte size,
their bytes), it costs well under a millisecond per image; `FactsCache` reads each file once per answer.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SMALLER_AREA = 0.1  # a tenth fewer pixels: resizing, not the rounding of a re-save
ASPECT_TOLERANCE = 0.03  # 3% in width / height: a crop or a border, not rounding to whole pixels
# How much better (cosine, duplicates space) the mirrored key must match to call a copy mirrored. Measured
# on 40 Corel-1k photos x 7 everyday edits (docs/duplicates.md): a mirrored copy gains 0.07-0.25 from
# mirroring the key; copies that were not mirrored lose 0.00-0.22, except copies rotated by 8 degrees,
# which gain up to 0.043 (so 0.02 would have called 7% of them mirrored).
MIRROR_MARGIN = 0.05

SMALLER, ASPECT, TURNED, MIRRORED = "smaller", "different-aspect", "turned", "mirrored"
REENCODED = "re-encoded"
# Strongest evidence first: the order changes are listed in.
ORDER = (TURNED, MIRRORED, SMALLER, ASPECT, REENCODED)


@dataclass(frozen=True)
class ImageFacts:
    """What a file's header says: upright `width` x `height` pixels, its `format` (JPEG, PNG...), its size in
    bytes, and where it is (for a byte comparison; None for an upload, which gives its `sha256`)."""

    width: int
    height: int
    format: str
    bytes: int
    path: Path | None
    sha256: str = ""

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def aspect(self) -> float:
        return self.width / self.height if self.height else math.nan


def image_facts(path: Path) -> ImageFacts | None:
    """The header facts of the image file `path` (None when it cannot be read: then nothing is said)."""
    from simages.extraction.images import displayed_size, open_image

    try:
        size = os.stat(path).st_size
        shown = displayed_size(path)  # upright: EXIF quarter turns applied
        if shown is None:
            return None
        with open_image(path) as image:
            return ImageFacts(shown[0], shown[1], str(image.format or ""), size, path)
    except (OSError, ValueError):
        return None


class FactsCache:
    """Header facts by path, read once per answer (a photo in many pairs is opened once)."""

    def __init__(self) -> None:
        self._facts: dict[Path, ImageFacts | None] = {}
        self._digests: dict[Path, str | None] = {}  # SHA-256 by path, read when two sizes are equal

    def facts(self, path: Path) -> ImageFacts | None:
        if path not in self._facts:
            self._facts[path] = image_facts(path)
        return self._facts[path]

    def digest(self, facts: ImageFacts) -> str | None:
        """The SHA-256 of the file's bytes (None when it cannot be read)."""
        if facts.sha256 or facts.path is None:
            return facts.sha256 or None
        path = facts.path
        if path not in self._digests:
            try:
                with open(path, "rb") as stream:
                    self._digests[path] = hashlib.file_digest(stream, "sha256").hexdigest()
            except OSError:
                self._digests[path] = None
        return self._digests[path]


@dataclass(frozen=True)
class Change:
    """One change: its `code` (JSON's word, one of ORDER) and `text` (for people, with the numbers)."""

    code: str
    text: str


def changes_between(
    a: ImageFacts | None,
    b: ImageFacts | None,
    *,
    turn: int = 0,
    mirrored: bool = False,
    cache: FactsCache | None = None,
) -> list[Change]:
    """What changed between two copies of a photo, `a` (the key, or the first of a pair) and `b`: `turn`
    is the quarter turn (degrees, counter-clockwise) of `a` that matched `b`, `mirrored` whether the
    mirrored `a` matched better. Missing facts (an unreadable header) leave the size changes unsaid."""
    found: list[Change] = []
    if turn:
        found.append(Change(TURNED, f"turned {turn}°"))
    if mirrored:
        found.append(Change(MIRRORED, "mirrored"))
    if a is None or b is None or not a.area or not b.area:
        return found
    aw, ah = (a.height, a.width) if turn in (90, 270) else (a.width, a.height)
    sizes = f"{aw}×{ah} vs {b.width}×{b.height}"
    ratio = (aw / ah) / (b.width / b.height)
    other_aspect = abs(math.log(ratio)) > math.log1p(ASPECT_TOLERANCE)
    fewer = min(aw * ah, b.area) < (1 - SMALLER_AREA) * max(aw * ah, b.area)
    # With another aspect, fewer pixels may be only the crop (or the other's border): "smaller" then
    # needs both sides smaller.
    both = (aw < b.width and ah < b.height) or (b.width < aw and b.height < ah)
    if fewer and (both or not other_aspect):
        found.append(Change(SMALLER, f"smaller ({sizes})"))
    if other_aspect:
        found.append(Change(ASPECT, f"different aspect, cropped or padded ({sizes})"))
    elif (aw, ah) == (b.width, b.height) and _other_bytes(a, b, cache):
        formats = f" ({a.format} vs {b.format})" if a.format != b.format else ""
        found.append(Change(REENCODED, f"re-encoded: same size, other bytes{formats}"))
    return found


def _other_bytes(a: ImageFacts, b: ImageFacts, cache: FactsCache | None) -> bool:
    """Whether the two files differ in their bytes (sizes first; equal sizes compared by SHA-256)."""
    if a.bytes != b.bytes:
        return True
    cache = cache or FactsCache()
    first, second = cache.digest(a), cache.digest(b)
    return first is not None and second is not None and first != second


def codes(changes: Iterable[Change]) -> list[str]:
    """The JSON words of `changes`, in ORDER."""
    return [c.code for c in sorted(changes, key=lambda c: ORDER.index(c.code))]


def describe(changes: list[Change]) -> str:
    """One phrase for tables and tiles ("" when nothing can be told)."""
    return "; ".join(c.text for c in sorted(changes, key=lambda c: ORDER.index(c.code)))


def to_json(changes: list[Change]) -> dict[str, Any]:
    """`{"changes": [codes], "changed": "phrase"}` for a pair or a result."""
    return {"changes": codes(changes), "changed": describe(changes)}
