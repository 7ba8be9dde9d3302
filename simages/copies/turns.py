"""An uploaded key searched for copies also as turned by 90, 180 and 270 degrees.

VGG-16's features are not invariant to quarter turns: a photo shown sideways is ranked first among
Corel-1k's 1,000 photos only 63-78% of the time and passes the duplicate threshold 6-14% of the time
(docs/duplicates.md). A lossless quarter turn of the key undoes it exactly, so an uploaded key (a file,
described anyway) is described under the four turns in one batch and each image of the set keeps its best
score over them (the query-time dihedral trick of copy detection; mirrors are already matched). The
turn that gave an image its score is said ("turned 90 degrees"), the "what changed" of the match.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from simages.nearest.core.query_spec import higher_is_better
from simages.nearest.core.results import KeyResult, Match

# Counter-clockwise quarter turns of the key, in degrees; 0 first (the key as it is).
TURNS = (0, 90, 180, 270)
_TRANSPOSE = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def turned(image: Image.Image) -> list[Image.Image]:
    """`image` under each of TURNS (the first is `image` itself)."""
    return [image if turn == 0 else image.transpose(_TRANSPOSE[turn]) for turn in TURNS]


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
    parts = [f"turned {turn} degrees: {', '.join(images)}" for turn, images in sorted(by_turn.items())]
    return "Copies found with the key turned (the copy is shown sideways): " + "; ".join(parts)


def stack_inputs(images: Sequence[Image.Image], size: int = 224) -> np.ndarray:
    """(n, size, size, 3) uint8: the images stretched to the network's square input, as files are."""
    rows = []
    for image in images:
        image = image.convert("RGB")
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
        rows.append(np.asarray(image, dtype=np.uint8))
    return np.stack(rows)
