"""An uploaded key searched for copies also as turned by 90, 180 and 270 degrees.

VGG-16's features are not invariant to quarter turns: a photo shown sideways is ranked first among
Corel-1k's 1,000 photos only 63-78% of the time and passes the duplicate threshold 6-14% of the time
(docs/duplicates.md). A lossless quarter turn of the key undoes it exactly, so an uploaded key (a file,
described anyway) is described under the four turns in one batch and each image of the set keeps its best
score over them (the query-time dihedral trick of copy detection; mirrors are already matched). The
turn that gave an image its score is said from the key's side ("the key is p05.png turned 90° clockwise":
turning the key back by 90° counter-clockwise found it), the "what changed" of the match.

The key is also described mirrored (`oriented`: the four turns, then the mirror), not to find more (the
descriptors are nearly mirror-invariant, so mirrored copies are found anyway) but to *say* that a copy is
mirrored: when the mirrored key matches it better by simages.copies.changes.MIRROR_MARGIN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageOps

from simages.nearest.core.query_spec import higher_is_better
from simages.nearest.core.results import KeyResult, Match

# Counter-clockwise quarter turns of the key, in degrees; 0 first (the key as it is).
TURNS = (0, 90, 180, 270)
_TRANSPOSE = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def turned(image: Image.Image) -> list[Image.Image]:
    """`image` under each of TURNS (the first is `image` itself)."""
    return [image if turn == 0 else image.transpose(_TRANSPOSE[turn]) for turn in TURNS]


def oriented(image: Image.Image) -> list[Image.Image]:
    """`image` under each of TURNS, then mirrored (left-right): the five keys of a duplicates search."""
    return [*turned(image), ImageOps.mirror(image)]


def _cosine(score: float, metric: str) -> float:
    from simages.copies.levels import cosine_from_distance

    return float(score) if higher_is_better(metric) else cosine_from_distance(score)


def mirrored_matches(merged: KeyResult, mirror: KeyResult, turns: dict[str, int], margin: float) -> set[str]:
    """The images of `merged` (unturned) that the mirrored key (`mirror`, the same query) matched better by
    at least `margin` in cosine: the copies that can be said to be mirrored."""
    mirror_scores = {m.image: m.score for m in mirror.matches}
    found = set()
    for match in merged.matches:
        if turns.get(match.image) or match.image not in mirror_scores:
            continue
        gain = _cosine(mirror_scores[match.image], merged.metric) - _cosine(match.score, merged.metric)
        if gain >= margin:
            found.add(match.image)
    return found


def search_oriented(search: Callable[[np.ndarray], KeyResult], vectors: np.ndarray, limit: int | None = None,
                    ) -> tuple[KeyResult, dict[str, int], set[str]]:
    """A duplicates search of a key described under `oriented` (`vectors` (5, d): the four turns, then the
    mirror; `search` runs one of them): the merged result (each image's best score over the turns), the
    turn each image was found with (when not 0), and the images found to be mirrored copies."""
    from simages.copies.changes import MIRROR_MARGIN

    results = [search(vector) for vector in vectors[: len(TURNS)]]
    merged, turns = merge_turned(results, limit)
    mirrored: set[str] = set()
    if len(vectors) > len(TURNS):
        mirrored = mirrored_matches(merged, search(vectors[len(TURNS)]), turns, MIRROR_MARGIN)
    return merged, turns, mirrored


def merge_turned(results: Sequence[KeyResult], limit: int | None = None) -> tuple[KeyResult, dict[str, int]]:
    """One result from the results of the key under each of TURNS (same set, predicate and order): each
    image with its best score over the turns, best first (then by name), kNN cut to K and range lists to
    `limit`; and, per listed image, the turn (degrees) its score came from when it was not 0."""
    first = results[0]
    better = higher_is_better(first.metric)
    best: dict[str, tuple[float, int]] = {}
    for turn, result in zip(TURNS, results, strict=False):
        for match in result.matches:
            kept = best.get(match.image)
            if kept is None or (match.score > kept[0] if better else match.score < kept[0]):
                best[match.image] = (match.score, turn)
    sign = -1.0 if better else 1.0
    ordered = sorted(best.items(), key=lambda item: (sign * item[1][0], item[0]))
    passed = first.passed
    if first.predicate == "knn":
        ordered = ordered[: int(first.param)]
    else:
        complete = all(r.passed is None or r.passed <= len(r.matches) for r in results)
        passed = len(ordered) if complete else max(r.passed or 0 for r in results)
        if limit is not None:
            ordered = ordered[:limit]
    matches = [Match(image, score) for image, (score, _) in ordered]
    turns = {image: turn for image, (_, turn) in ordered if turn}
    merged = KeyResult(first.key, first.set, first.metric, first.predicate, first.param, matches, passed,
                       first.total, first.expansion, first.search, first.search_note)
    return merged, turns


def turned_note(turns: dict[str, int]) -> str:
    """A line saying which matches were found with the key turned ("" when none were)."""
    if not turns:
        return ""
    by_turn: dict[int, list[str]] = {}
    for image, turn in sorted(turns.items()):
        by_turn.setdefault(turn, []).append(image)
    from simages.copies.changes import turn_words

    # The key turned `turn` degrees counter-clockwise matched the image: the key is it turned clockwise.
    parts = [f"the key is {'each of ' if len(images) > 1 else ''}{', '.join(images)} {turn_words(turn)}"
             for turn, images in sorted(by_turn.items())]
    return "Copies found turned (shown as stored): " + "; ".join(parts)


def stack_inputs(images: Sequence[Image.Image], size: int = 224) -> np.ndarray:
    """(n, size, size, 3) uint8: the images stretched to the network's square input, as files are."""
    rows = []
    for image in images:
        image = image.convert("RGB")
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
        rows.append(np.asarray(image, dtype=np.uint8))
    return np.stack(rows)
