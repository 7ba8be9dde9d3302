"""Candidates for copy verification that no learned space can hide: each new photo's nearest images by the
cosine of their square-rooted stored vectors, without any whitening.

A new photo's few nearest collection photos are verified on their keypoints even below the duplicate
threshold (simages.copies.verification.PROMOTED): that is how a turned, collaged or framed copy, which its
descriptor scores low, is found. Which photos are "nearest" depends on the space they are ranked in. The
duplicates space is relearned once the app has made synthetic edits of the collection's photos (the
copy-aware whitening, simages.copies.learned_space), and on a small collection that space pushes strong
copies down to noise, where an unrelated photo can outrank the original. Measured on Corel-1k collections
of 20, 45 and 150 photos (1, 3 and 5 classes) with 100 strong copies of 10 of their photos (turned 90 and
270 degrees, screenshot, collage, half crop, pillarbox, blur, 64-px thumbnail, colour shift, perspective),
the original was among the copy's 3 nearest for 67 / 76 / 81% of the copies in the copy-aware space, 92 /
89 / 86% in the plain whitening it replaces, 92 / 94 / 90% on the square-rooted vectors alone, and 93 / 96 /
93% for the union of the copy-aware space's 3 nearest and these (docs/duplicates.md). So the candidates are
that union: learning a space can add candidates, never take the original away. The rooted vectors need
nothing learned (the space a collection under 20 images is compared in anyway), so they cannot change
under the user's feet. Cost: about 1.9 more candidates per new photo when the spaces disagree (each
verification about 0.1 s), and one more pass over the collection's stored vectors (chunked, no copy of the
collection kept).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simages.nearest.core.query_spec import higher_is_better
from simages.nearest.core.results import Match, Pair
from simages.nearest.core.set_index import SetIndex, project_rows

# Rows of a collection set compared at once (float32: a 16,384 x 512 block is 32 MB), and keys at once.
_CHUNK = 16_384
_KEYS = 1_024


def _unit(rows: np.ndarray) -> np.ndarray:
    lengths = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(lengths, 1e-12)


def _rooted(index: SetIndex, rows: np.ndarray) -> np.ndarray:
    """Stored-style `rows` of `index` as the duplicates intent roots them (project_rows without its
    whitening: the signed square root when the set roots at load, then unit length)."""
    rows = np.asarray(rows, np.float32)
    if not index.root:
        return _unit(project_rows(rows, False, None))
    # The same as l2_normalise(signed_sqrt(rows)) with fewer passes over a large chunk: the rooted row's
    # squared length is the sum of the magnitudes, and the sign is copied, not multiplied in.
    magnitudes = np.abs(rows)
    lengths = np.sqrt(np.maximum(magnitudes.sum(axis=1, keepdims=True), 1e-24))
    np.sqrt(magnitudes, out=magnitudes)
    np.copysign(magnitudes, rows, out=magnitudes)
    magnitudes /= lengths
    return magnitudes


def rooted_nearest(keys: np.ndarray, key_index: SetIndex, others: Sequence[SetIndex], count: int,
                   exclude: Sequence[tuple[int, int] | None] | None = None
                   ) -> list[list[tuple[int, int, float]]]:
    """For each of the stored-style `keys` (m, d) (rooted as `key_index` roots its rows), its `count`
    nearest rows over all `others` by cosine of square-rooted, unit vectors (no whitening): per key a list
    of (set number in `others`, row, cosine), best first. `exclude[i]`: a (set number, row) key i must
    not find (the key itself)."""
    keys = _rooted(key_index, keys)
    found: list[list[tuple[int, int, float]]] = []
    for start in range(0, len(keys), _KEYS):
        block = keys[start:start + _KEYS]
        best = np.full((len(block), count), -np.inf, dtype=np.float32)
        where = np.full((len(block), count, 2), -1, dtype=np.int64)
        for number, other in enumerate(others):
            for first in range(0, len(other), _CHUNK):
                rows = _rooted(other, other.raw[first:first + _CHUNK])
                scores = block @ rows.T
                for i in range(len(block)):
                    skip = exclude[start + i] if exclude is not None else None
                    if skip is not None and skip[0] == number and first <= skip[1] < first + len(rows):
                        scores[i, skip[1] - first] = -np.inf
                take = min(count, scores.shape[1])
                top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
                merged = np.concatenate([best, np.take_along_axis(scores, top, axis=1)], axis=1)
                ids = np.concatenate([where, np.stack([np.full_like(top, number), top + first], axis=2)],
                                     axis=1)
                order = np.argsort(-merged, axis=1, kind="stable")[:, :count]
                best = np.take_along_axis(merged, order, axis=1)
                where = np.take_along_axis(ids, order[:, :, None], axis=1)
        for i in range(len(block)):
            found.append([(int(where[i, k, 0]), int(where[i, k, 1]), float(best[i, k]))
                          for k in range(count) if where[i, k, 0] >= 0 and np.isfinite(best[i, k])])
    return found


def space_score(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    """The score of two vectors of one space (a key projected by `SetIndex.project`, a row of
    SetIndex.vectors): their cosine, or their Euclidean distance."""
    if higher_is_better(metric):
        cosine = float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12)
        return min(1.0, max(-1.0, cosine))
    return float(np.linalg.norm(a - b))


def plain_nearest_pairs(a: SetIndex, others: Sequence[SetIndex], metric: str, count: int) -> list[Pair]:
    """Each image of `a`'s `count` nearest images over all of `others` on square-rooted vectors
    (`rooted_nearest`), named `set/image`, each scored as its duplicates space scores it (the score a
    curator is shown)."""
    pairs = []
    found = rooted_nearest(a.raw, a, others, count,
                           [None] * len(a) if not any(other is a for other in others) else
                           [(next(n for n, o in enumerate(others) if o is a), i) for i in range(len(a))])
    for i, nearest in enumerate(found):
        for number, row, _ in nearest:
            other = others[number]
            # As a join scores it: A's vector brought into the searched set's space.
            key = a.vectors[i] if other is a else other.project(a.raw[i])[0]
            score = space_score(key, other.vectors[row], metric)
            pairs.append(Pair(f"{a.set_name}/{a.names[i]}", f"{other.set_name}/{other.names[row]}", score))
    return pairs


def plain_nearest_matches(raw: np.ndarray, index: SetIndex, metric: str, count: int,
                          exclude: str | None = None) -> list[Match]:
    """The `count` nearest images of `index` to one stored-style key `raw` (d,) on square-rooted vectors,
    scored in `index`'s duplicates space; `exclude`: an image of `index` not to find (the key itself)."""
    skip = (0, index.row_of(exclude)) if exclude is not None and exclude in index else None
    (found,) = rooted_nearest(np.asarray(raw, np.float32)[None, :], index, [index], count, [skip])
    key = index.project(np.asarray(raw, np.float32))[0]
    return [Match(index.names[row], space_score(key, index.vectors[row], metric)) for _, row, _ in found]
