"""The duplicate level of each match of a key's duplicates search (`simages query --intent duplicates`,
an upload or a key on the results page): exact only for the same pixels, and an edited copy only when
the key's and the match's local features do not show two different photos (simages.copies.verification:
on a small collection of photos of one kind, a photo that is not in it scores as a copy of its burst
frames and look-alikes; their keypoints tell them apart)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path

from simages.copies.changes import ImageFacts
from simages.copies.levels import Level, below_threshold, is_duplicate, level_of
from simages.copies.pixels import same_pixels
from simages.copies.verification import Encoded, LocalFeatureCache
from simages.nearest.core.query_spec import higher_is_better
from simages.nearest.core.results import KeyResult
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import level_thresholds
from simages.settings import Settings


def listed_below(result: KeyResult, levels: Mapping[str, Level]) -> set[str]:
    """The matches listed as copies although their score does not pass a range query's threshold (the
    key's nearest, found a copy by their keypoints): marked '*' with `below_threshold_note("key")` by the
    CLI's table and the results page alike. A kNN list has no threshold: none."""
    threshold = float(result.param) if result.predicate == "range" else math.nan
    return {match.image for match in result.matches if match.image in levels
            and below_threshold(match.score, levels[match.image], threshold, higher_is_better(result.metric))}


def match_levels(result: KeyResult, index: SetIndex, settings: Settings, key: Path | ImageFacts | None,
                 local: LocalFeatureCache | None = None, promoted: frozenset[str] = frozenset()
                 ) -> dict[str, Level]:
    """Each match's level (match name -> Level). `key`: the key's file, or an upload's facts (its SHA-256
    tells the same bytes, its kept preview is verified), None when nothing of the key is at hand (the
    score alone decides). `local` keeps the images' local features (one per call when None). Matches in
    `promoted` (the key's nearest) are verified even below the threshold."""
    local = local if local is not None else LocalFeatureCache()
    thresholds = level_thresholds(index)
    kind = "cosine" if higher_is_better(result.metric) else "euclidean"
    source = key_source(key)
    levels = {}
    for match in result.matches:
        found = settings.image_sets / index.set_name / Path(*match.image.split("/"))
        if isinstance(key, Path):
            same = partial(same_pixels, key, found)
        elif isinstance(key, ImageFacts) and key.sha256:
            same = partial(same_bytes, key.sha256, found)
        else:
            same = cannot_tell
        verified = partial(local.verify, source, found) if source is not None else None
        levels[match.image] = level_of(match.score, metric=kind, thresholds=thresholds, same_pixels=same,
                                       verified=verified, promote=match.image in promoted)
    return levels


def key_source(key: Path | ImageFacts | None) -> Path | Encoded | None:
    """What a key's keypoints are read from: its file, or an upload's kept preview (None: nothing)."""
    if isinstance(key, Path):
        return key
    if isinstance(key, ImageFacts) and key.preview:
        return Encoded(f"upload:{key.sha256}", key.preview)
    return None


def same_bytes(sha256: str, path: Path) -> bool | None:
    """True when the file's SHA-256 is `sha256`, else None (other bytes may be the same pixels, which an
    upload's kept preview cannot tell)."""
    try:
        with open(path, "rb") as stream:
            return True if hashlib.file_digest(stream, "sha256").hexdigest() == sha256 else None
    except OSError:
        return None


def cannot_tell() -> None:
    """A pixel check that cannot tell (no file of the key at hand): a score alone is an edited copy."""
    return None


def with_nearest(result: KeyResult, nearest: KeyResult) -> tuple[KeyResult, frozenset[str]]:
    """`result` with the key's `nearest` images (a kNN result) that it does not hold, best first, and the
    names added: the candidates a duplicates question verifies below its threshold."""
    held = {m.image for m in result.matches}
    added = [m for m in nearest.matches if m.image not in held]
    if not added:
        return result, frozenset()
    sign = -1.0 if higher_is_better(result.metric) else 1.0
    matches = sorted([*result.matches, *added], key=lambda m: (sign * m.score, m.image))
    return replace(result, matches=matches), frozenset(m.image for m in added)


def keep_copies(result: KeyResult, levels: dict[str, Level], added: frozenset[str]) -> KeyResult:
    """`result` without the nearest images added for verification that did not prove to be copies."""
    if not added:
        return result
    kept = [m for m in result.matches if m.image not in added or is_duplicate(levels[m.image])]
    proved = sum(1 for m in kept if m.image in added)
    passed = None if result.passed is None else result.passed + proved  # passed, or proved a copy
    return replace(result, matches=kept, passed=passed)
