"""The duplicate level of each match of a key's duplicates search (`simages query --intent duplicates`,
an upload or a key on the results page): exact only for the same pixels, and an edited copy only when
the key's and the match's local features do not show two different photos (simages.copies.verification:
on a small collection of photos of one kind, a photo that is not in it scores as a copy of its burst
frames and look-alikes; their keypoints tell them apart)."""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

from simages.copies.changes import ImageFacts
from simages.copies.levels import Level, level_of
from simages.copies.pixels import same_pixels
from simages.copies.verification import LocalFeatureCache, Verdict, Verification, verify
from simages.nearest.core.query_spec import higher_is_better
from simages.nearest.core.results import KeyResult
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import level_thresholds
from simages.settings import Settings


def match_levels(result: KeyResult, index: SetIndex, settings: Settings, key: Path | ImageFacts | None,
                 local: LocalFeatureCache | None = None) -> dict[str, Level]:
    """Each match's level (match name -> Level). `key`: the key's file, or an upload's facts (its SHA-256
    tells the same bytes, its kept preview is verified), None when nothing of the key is at hand (the
    score alone decides). `local` keeps the images' local features (one per call when None)."""
    local = local if local is not None else LocalFeatureCache()
    thresholds = level_thresholds(index)
    kind = "cosine" if higher_is_better(result.metric) else "euclidean"

    def key_features():
        if isinstance(key, Path):
            return local.of_file(key)
        if isinstance(key, ImageFacts) and key.preview:
            return local.of_bytes(f"upload:{key.sha256}", key.preview)
        return None

    levels = {}
    for match in result.matches:
        found = settings.image_sets / index.set_name / Path(*match.image.split("/"))
        if isinstance(key, Path):
            same = partial(same_pixels, key, found)
        elif isinstance(key, ImageFacts) and key.sha256:
            same = partial(_same_bytes, key.sha256, found)
        else:
            same = _cannot_tell
        levels[match.image] = level_of(match.score, metric=kind, thresholds=thresholds, same_pixels=same,
                                       verified=partial(_verified, key_features, found, local))
    return levels


def _verified(key_features, found: Path, local: LocalFeatureCache) -> Verification | None:
    first = key_features()
    second = local.of_file(found) if first is not None else None
    if first is None or second is None:
        return Verification(Verdict.UNSURE)
    return verify(first, second)


def _same_bytes(sha256: str, path: Path) -> bool | None:
    """True when the file's SHA-256 is `sha256`, else None (other bytes may be the same pixels, which an
    upload's kept preview cannot tell)."""
    try:
        with open(path, "rb") as stream:
            return True if hashlib.file_digest(stream, "sha256").hexdigest() == sha256 else None
    except OSError:
        return None


def _cannot_tell() -> None:
    return None
