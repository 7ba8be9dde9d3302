"""Which copy of a photo to keep: the suggested keeper of a copy group, by one stated rule.

The rule: the photo already in the collection is kept. A new copy that scores as the same photo may be an
edit that removes information (grayscale, a caption burnt in, a crop, a mirror) or adds none (an upscale,
a re-encode at a higher quality setting); no fact read from the files tells such an edit from a better
original, so the suggestion never moves the collection's photo out -- the user may choose another keeper.
Among copies that are all new (or all in the collection), criterion after criterion, each deciding only
among the copies tied on the ones before:
1. the largest picture (pixel area): a resized copy lost detail;
2. the least compressed: for JPEGs the highest estimated quality (exif.jpeg_quality), for two files of
   another same format the most bytes per pixel; a lossless format (PNG, TIFF, BMP, WebP lossless is not
   told apart) before a lossy one;
3. the most metadata (EXIF tag count): editors and messengers strip it;
4. the earliest date (EXIF date taken, else the file's modification time): the original came first;
5. still tied: the copy already in the collection, then the first name.
File size alone never decides (a larger file may just be a worse re-encode). The reason names the
criterion that decided, with the values, so the user can judge and override.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simages.triage.exif import PhotoFacts

_LOSSLESS = {"PNG", "TIFF", "BMP", "GIF"}
# Short: it is printed once per group; the rule behind it once per view (KEEPER_RULE). Why an edit cannot
# win is in the module docstring and docs/triage.md.
KEEP_EXISTING = "in the collection"
KEEPER_RULE = ("The collection's photo is always suggested as the keeper: a new copy replaces it only if you "
               "choose it.")


@dataclass(frozen=True)
class Candidate:
    """One copy in a group: its qualified name `set/image`, its facts, and whether it is in the
    collection (True) or in the new folder(s) (False)."""

    name: str
    facts: PhotoFacts
    existing: bool


@dataclass(frozen=True)
class KeeperChoice:
    keeper: str
    reason: str


def suggest_keeper(candidates: Sequence[Candidate]) -> KeeperChoice:
    """The suggested keeper of a group of copies (at least one) and why. ValueError for an empty group."""
    if not candidates:
        raise ValueError("a copy group has at least one image")
    tied = list(candidates)
    if len(tied) == 1:
        return KeeperChoice(tied[0].name, "the only copy")
    existing = [c for c in tied if c.existing]
    if existing and len(existing) < len(tied):
        if len(existing) == 1:
            return KeeperChoice(existing[0].name, KEEP_EXISTING)
        tied = existing
    for criterion in (_area, _compression, _metadata, _date):
        tied, reason = criterion(tied)
        if reason:
            return KeeperChoice(tied[0].name, reason)
    best = sorted(tied, key=lambda c: (not c.existing, c.name))[0]
    where = "it is already in the collection" if best.existing else "first by name"
    return KeeperChoice(best.name, f"the copies are alike in size, compression, metadata and date; {where}")


def _best(tied: list[Candidate], value: Callable[[Candidate], float], describe: Callable[[Candidate], str],
          what: str) -> tuple[list[Candidate], str]:
    """Keep the candidates with the highest value; a reason when that left some out."""
    top = max(value(c) for c in tied)
    kept = [c for c in tied if value(c) == top]
    if len(kept) == len(tied):
        return tied, ""
    others = ", ".join(sorted({describe(c) for c in tied if c not in kept}))
    return kept, f"{what}: {describe(kept[0])}, others {others}"


def _area(tied: list[Candidate]) -> tuple[list[Candidate], str]:
    return _best(tied, lambda c: c.facts.pixels, lambda c: f"{c.facts.width}x{c.facts.height}",
                 "largest picture")


def _compression(tied: list[Candidate]) -> tuple[list[Candidate], str]:
    formats = {c.facts.format for c in tied}
    if len(formats) > 1:
        return _best(tied, lambda c: 1.0 if c.facts.format in _LOSSLESS else 0.0, lambda c: c.facts.format,
                     "least compressed (lossless format)")
    if formats == {"JPEG"} and all(c.facts.quality for c in tied):
        return _best(tied, lambda c: float(c.facts.quality or 0),
                     lambda c: f"JPEG quality ~{c.facts.quality}", "least compressed")
    return _best(tied, lambda c: round(c.facts.bytes_per_pixel, 3),
                 lambda c: f"{c.facts.bytes_per_pixel:.2f} bytes/pixel", "least compressed")


def _metadata(tied: list[Candidate]) -> tuple[list[Candidate], str]:
    return _best(tied, lambda c: c.facts.tags, lambda c: f"{c.facts.tags} EXIF tags", "most metadata")


def _date(tied: list[Candidate]) -> tuple[list[Candidate], str]:
    def when(c: Candidate) -> str:
        return c.facts.taken or c.facts.modified

    def key(c: Candidate) -> float:
        # Earliest wins: 'YYYY-MM-DD HH:MM:SS' as the number YYYYMMDDHHMMSS, negated; unreadable: last.
        digits = "".join(ch for ch in when(c) if ch.isdigit())[:14]
        return -float(digits) if len(digits) == 14 else float("-inf")

    return _best(tied, key, lambda c: ("taken " if c.facts.taken else "modified ") + when(c), "earliest")

