"""Duplicate levels: what a scored pair of images is, in words a curator acts on.

A pair of images is one of four levels (`Level`):

- **exact** copy: the same pixels (identical stored descriptors, or a score that only identical
  descriptors reach; where the pair's files are known, confirmed by them: byte-identical, or the same
  size and decoded pixels -- `level_of`'s `same_pixels`);
- **edited** copy: the same photo after edits (resized, re-encoded, cropped, mirrored, recoloured...);
- **look-alike**: the same scene or subject, but not a copy: never called a duplicate;
- **new**: no match at all.

`level_of` gives the level of one pair from its score in the duplicates space (cosine similarity of the
duplicates intent, `simages.nearest.core.intents.DUPLICATES`) and whether the two descriptors are identical.
The thresholds are named constants (`EXACT_COSINE`, `EDITED_COSINE`, `LOOK_ALIKE_COSINE`), gathered in a
`LevelThresholds`; a Euclidean distance between unit vectors is turned into the cosine it stands for
(`cosine_from_distance`). docs/duplicates.md says how the thresholds were chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from simages.copies.verification import Verification


class Level(str, Enum):
    """How a pair of images relate as copies, strongest first. The value is the word used in JSON
    (`"level"`), CSV and URLs."""

    EXACT = "exact"
    EDITED = "edited"
    LOOK_ALIKE = "look-alike"
    NEW = "new"

    @property
    def title(self) -> str:
        """The level's name on screens and in CLI tables."""
        return _TITLES[self]

    @property
    def meaning(self) -> str:
        """One line saying what the level means to a curator."""
        return _MEANINGS[self]

    @property
    def pair_title(self) -> str:
        """The level's name beside a pair of images (join, duplicates and query listings, Compare): "New"
        says a new photo has no copy (triage), so a listed pair below a look-alike is "Different"."""
        return _PAIR_TITLES.get(self, _TITLES[self])

    @property
    def pair_meaning(self) -> str:
        """What the level means for a pair of images (see `pair_title`)."""
        return _PAIR_MEANINGS.get(self, _MEANINGS[self])

    @property
    def rank(self) -> int:
        """0 for the strongest level (exact) to 3 (new): sorts pairs strongest first."""
        return _ORDER.index(self)


_ORDER = (Level.EXACT, Level.EDITED, Level.LOOK_ALIKE, Level.NEW)
_TITLES = {
    Level.EXACT: "Exact copy",
    Level.EDITED: "Edited copy",
    Level.LOOK_ALIKE: "Look-alike",
    Level.NEW: "New",
}
_MEANINGS = {
    Level.EXACT: "the same pixels: a second file of the same photo",
    Level.EDITED: "the same photo after edits (resized, re-encoded, cropped, mirrored, recoloured...)",
    Level.LOOK_ALIKE: "the same scene or subject, but not a copy: a look-alike is never called a duplicate",
    # Not "the photo is not in the collection": a copy whose score is low is found only when its keypoints
    # prove it (turned, screenshot and collaged copies are); a strongly blurred copy or a tiny thumbnail
    # has too few of them (simages.copies.verification: UNSURE), so the meaning names those.
    Level.NEW: ("no copy or look-alike found (a strongly blurred copy or a tiny thumbnail can be missed: "
                "too few keypoints to prove a low-scored copy; compare by eye when in doubt)"),
}

_PAIR_TITLES = {Level.NEW: "Different"}
_PAIR_MEANINGS = {Level.NEW: ("neither a copy nor a look-alike by its score and keypoints (a turned or "
                              "framed copy can score this low: compare by eye when in doubt)")}

# Cosine similarity (duplicates space) at or above which a pair is an exact copy even when the two
# descriptors are not bit-identical: descriptors of the same pixels differ only by float32 rounding
# (a score of 1 - 1e-6 at most), while the mildest edit (JPEG re-encoding at high quality) scores
# below 0.999 after whitening.
EXACT_COSINE = 0.9999
# Cosine similarity at or above which a pair is an edited copy: the duplicates threshold
# (`simages.nearest.duplicates.DUPLICATE_COSINE`): distinct photos score 0 +- 0.05 in the whitened
# space, edited copies mostly 0.6-1 (docs/duplicates.md).
EDITED_COSINE = 0.5
# Cosine similarity at or above which a pair is a look-alike: six spreads of the distinct-pair
# distribution (sd about 0.05), reached by about one pair of unrelated photos in a thousand but by
# many photos of the same scene or subject.
LOOK_ALIKE_COSINE = 0.3


@dataclass(frozen=True)
class LevelThresholds:
    """The three cosine similarities (duplicates space, unit vectors) that separate the levels:
    exact >= `exact`, edited >= `edited`, look-alike >= `look_alike`, else new. ValueError unless
    1 >= exact >= edited >= look_alike > -1."""

    exact: float = EXACT_COSINE
    edited: float = EDITED_COSINE
    look_alike: float = LOOK_ALIKE_COSINE

    def __post_init__(self) -> None:
        if not (1.0 >= self.exact >= self.edited >= self.look_alike > -1.0):
            raise ValueError(
                f"level thresholds must satisfy 1 >= exact >= edited >= look-alike > -1, got "
                f"{self.exact}, {self.edited}, {self.look_alike}"
            )

    def of(self, level: Level) -> float | None:
        """The lowest cosine of `level` (None for NEW, which has no lower bound)."""
        lowest = {Level.EXACT: self.exact, Level.EDITED: self.edited, Level.LOOK_ALIKE: self.look_alike}
        return lowest.get(level)


DEFAULT_THRESHOLDS = LevelThresholds()
# The same levels on square-rooted vectors that are not whitened (a whole collection under 20 images),
# whose distinct photos score 0.54 +- 0.10: edited from the unwhitened duplicate threshold
# (simages.nearest.duplicates.exact.UNWHITENED_DUPLICATE_COSINE), look-alike two spreads below it.
UNWHITENED_THRESHOLDS = LevelThresholds(exact=EXACT_COSINE, edited=0.9, look_alike=0.8)


def cosine_from_distance(distance: float) -> float:
    """The cosine similarity of two unit vectors `distance` apart (Euclidean): 1 - d^2 / 2."""
    return 1.0 - float(distance) ** 2 / 2.0


def level_of(
    score: float,
    identical: bool = False,
    *,
    metric: str = "cosine",
    thresholds: LevelThresholds = DEFAULT_THRESHOLDS,
    same_pixels: Callable[[], bool | None] | None = None,
    verified: Callable[[], Verification | None] | None = None,
    promote: bool = False,
) -> Level:
    """The level of a pair whose duplicates-space score is `score`: a cosine similarity (`metric`
    "cosine", unitless, in [-1, 1]) or a Euclidean distance between unit vectors ("euclidean", in [0, 2]).
    `identical`: the two stored descriptors (or files) are identical, which makes the pair EXACT whatever
    the score. `same_pixels`, when the pair's files are known: called only for a pair that would be EXACT
    (simages.copies.pixels.same_pixels on its two files); the pair stays EXACT only when it says True,
    is EDITED when it says False (a score near 1 is not the same pixels: an upscale can score 0.998), and
    when it cannot tell (None) identical descriptors still make it EXACT and a score alone EDITED.
    `verified`, when the pair's images are at hand: called only for a pair that would be EDITED
    (simages.copies.verification on its two images); when its local features say the two are different
    photos (NOT_COPY: burst frames, one scene from two places) the pair is a LOOK_ALIKE, whatever its
    score; when they cannot tell (UNSURE, None), the score decides. `promote` (a pair that is one of a
    key's few nearest candidates, simages.operations.triage): a pair below the edited threshold is also
    verified, and is EDITED when its keypoints show a copy (a look-alike score) or prove one beyond doubt
    (lower: `Verification.proves_copy`, a turned, collaged or pillarboxed copy the descriptor scores low).
    NaN scores are NEW. ValueError for another metric."""
    if identical:
        return _confirmed(same_pixels, unsure=Level.EXACT)
    if metric == "euclidean":
        cosine = cosine_from_distance(score)
    elif metric == "cosine":
        cosine = float(score)
    else:
        raise ValueError(f"unknown metric {metric!r}; choose cosine or euclidean")
    if math.isnan(cosine):
        return Level.NEW
    if cosine >= thresholds.exact:
        return Level.EXACT if same_pixels is None else _confirmed(same_pixels, unsure=Level.EDITED)
    if cosine >= thresholds.edited:
        return _verified(verified)
    if promote and verified is not None:
        outcome = verified()
        # A look-alike score with keypoints that agree is a copy (a blurred copy, a thumbnail); lower, the
        # keypoints must prove it (1.0% of a photo's nearest others pass the proof, 1.4% the plain check).
        agrees = cosine >= thresholds.look_alike and outcome is not None and outcome.is_copy
        if agrees or (outcome is not None and outcome.proves_copy):
            return Level.EDITED
    if cosine >= thresholds.look_alike:
        return Level.LOOK_ALIKE
    return Level.NEW


def _verified(verified: Callable[[], Verification | None] | None) -> Level:
    """EDITED unless the pair's local features show two different photos (then a LOOK_ALIKE)."""
    from simages.copies.verification import Verdict

    outcome = verified() if verified is not None else None
    if outcome is not None and outcome.verdict is Verdict.NOT_COPY:
        return Level.LOOK_ALIKE
    return Level.EDITED


def _confirmed(same_pixels: Callable[[], bool | None] | None, unsure: Level) -> Level:
    """EXACT when the files are the same pixels, EDITED when not, `unsure` when they cannot be read."""
    same = same_pixels() if same_pixels is not None else None
    if same is None:
        return unsure if same_pixels is not None else Level.EXACT
    return Level.EXACT if same else Level.EDITED


def identical_vectors(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two stored descriptors (d,) are bit-for-bit equal: the same pixels give the same stored
    vector, so equality marks an exact copy whatever the space they are compared in."""
    import numpy as np  # here: the CLI names levels without loading numpy

    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.array_equal(a, b))


def is_duplicate(level: Level) -> bool:
    """Whether `level` is a copy (EXACT or EDITED). Look-alikes and new photos are not duplicates."""
    return level in (Level.EXACT, Level.EDITED)


# Said wherever a copy is listed with a score below the duplicate threshold (a new photo's nearest,
# proved a copy by its keypoints: simages.copies.verification): CLI tables and pages alike.
# The reason names every kind of strong edit that lands a copy below the threshold (walk 5: grey, half-crop,
# thumbnail, collage and screenshot copies were starred under a reason naming turned, collaged or framed).
BELOW_THRESHOLD_REASON = ("scored below the threshold, but one of the {key}'s nearest and a copy by its "
                          "keypoints (strong edits such as turns, crops, frames, collages, grey and tiny "
                          "thumbnails often score low)")
BELOW_THRESHOLD_NOTE = "* " + BELOW_THRESHOLD_REASON.format(key="new photo")


def below_threshold_note(key: str = "new photo") -> str:
    """BELOW_THRESHOLD_NOTE for a listing whose keys are `key`s ("new photo", "key"), with its '*'."""
    return "* " + BELOW_THRESHOLD_REASON.format(key=key)


def below_threshold(score: float, level: Level, threshold: float = EDITED_COSINE,
                    higher_is_better: bool = True) -> bool:
    """Whether a pair of a duplicate level did not pass the duplicate `threshold` (a similarity when
    `higher_is_better`, else a distance; NaN: no threshold, a kNN list): a copy the keypoints found among a
    new photo's nearest, whose low score needs saying."""
    if not is_duplicate(level) or math.isnan(score) or math.isnan(threshold):
        return False
    return score < threshold if higher_is_better else score > threshold
