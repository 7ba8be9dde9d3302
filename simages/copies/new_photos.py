"""How often a *new* photo is wrongly called a copy: the duplicate threshold judged out of sample.

The calibration's precision (simages.copies.calibration) searches edited copies among photos the duplicates
space was learned on. A curator's question is about photos the space has never seen ("is this new photo
already here?"), and a space learned on few photos fits them: a new photo of the same kind (the next
frame of a burst, another shot of the same scene) can score like a copy although nothing in the
collection is a copy of it. This module measures that directly, by K-fold cross-validation (Hastie,
Tibshirani & Friedman, "The Elements of Statistical Learning", 7.10): each fold of the collection is set
aside, the space is learned again without it exactly as the collection's own is (simages.copies.space.
learn_space, with the copy pairs of the photos kept), and each photo set aside is searched among the
others as a new photo would be. A photo set aside whose best score passes the threshold counts as a
new photo called a copy — unless it is an exact copy (a photo stored twice is a duplicate, rightly
found), or, given the photos' files, the two images' keypoints show two different photos (as every
duplicates answer verifies its pairs: simages.copies.verification) -- so the figure is what the product
answers, after its keypoint check -- or prove one a copy of the other beyond doubt (an edited copy already
inside the collection, rightly found: walk 4's inbox of nine edited copies made "20% of new photos are
called a copy of a photo they are not" of a collection none of whose look-alikes was).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from simages.copies.learned_space import CopyPairs
from simages.copies.levels import DEFAULT_THRESHOLDS

FOLDS = 5
# Photos searched as new in all, at most (drawn with the seed): enough for a rate in percent, and the
# learning stays a few seconds on a million-image collection (learn_space itself draws 20k rows).
MAX_SET_ASIDE = 1_000


@dataclass(frozen=True)
class NewPhotoEstimate:
    """`called` of `searched` photos set aside (never learned on) passed the threshold against the rest."""

    searched: int
    called: int

    @property
    def rate(self) -> float:
        """The share of new photos wrongly called a copy (nan when none was searched)."""
        return self.called / self.searched if self.searched else float("nan")


def estimate_new_photos(stored: str, vectors: np.ndarray, sets: int, pairs: CopyPairs | None = None,
                        threshold: float = DEFAULT_THRESHOLDS.edited,
                        exact: float = DEFAULT_THRESHOLDS.exact, folds: int = FOLDS,
                        seed: int = 0, two_photos: Callable[[int, int], bool] | None = None,
                        proven_copy: Callable[[int, int], bool] | None = None) -> NewPhotoEstimate | None:
    """Cross-validated false-copy rate of new photos (see the module docstring).

    stored: the extraction key of `vectors` (n, d), the collection's stored rows as its store keeps them;
    sets: how many sets they come from; pairs: the collection's copy pairs (or None); threshold / exact:
    cosines in the duplicates space (the edited and exact levels); two_photos(i, j): whether rows i and j
    are shown by their images to be two different photos (such a pair is not called a copy);
    proven_copy(i, j): whether their keypoints prove one a copy of the other beyond doubt (a copy already
    inside the collection: the photo set aside is then rightly called a copy, not wrongly). None when a
    fold's remaining photos are too few to learn a space (simages.copies.space.MIN_IMAGES_TO_LEARN).
    ValueError for folds < 2."""
    from simages.copies.space import MIN_IMAGES_TO_LEARN, _rooted, learn_space

    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    n = len(vectors)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    aside_all = order[: min(n, MAX_SET_ASIDE)]
    # As every space reads them; the root does not depend on the fold, so it is taken once.
    rooted = _rooted(stored, vectors)
    originals = _rooted(pairs.stored, pairs.originals) if pairs is not None else None
    searched = called = 0
    for fold in np.array_split(aside_all, folds):
        if not len(fold):
            continue
        keep = np.ones(n, dtype=bool)
        keep[fold] = False
        if keep.sum() < MIN_IMAGES_TO_LEARN:
            return None
        kept_pairs = _pairs_without(pairs, originals, rooted[fold]) if pairs is not None else None
        space = learn_space(stored, vectors[keep], sets, seed=seed, pairs=kept_pairs)
        if space is None:
            return None
        new = space.whitening.apply(rooted[fold])
        known = space.whitening.apply(rooted[keep])
        scores = new @ known.T
        best = scores.max(axis=1)
        searched += len(fold)
        passing = np.flatnonzero((best >= threshold) & (best < exact))
        kept_rows = np.flatnonzero(keep)
        matches = {i: [int(kept_rows[j]) for j in np.argsort(-scores[i]) if threshold <= scores[i, j] < exact]
                   for i in passing}
        if proven_copy is not None:  # a copy already in the collection is rightly found
            passing = [i for i in passing if not any(proven_copy(int(fold[i]), j) for j in matches[i])]
        if two_photos is not None:
            # Every passing photo of the collection, best first, until one is not shown to be another photo.
            passing = [i for i in passing if not all(two_photos(int(fold[i]), j) for j in matches[i])]
        called += len(passing)
    return NewPhotoEstimate(searched, called)


def _pairs_without(pairs: CopyPairs, originals: np.ndarray, aside: np.ndarray) -> CopyPairs | None:
    """The copy pairs whose original is none of the photos set aside (rooted unit rows `aside`; `originals`:
    the pairs' originals rooted alike), so the space learned for a fold has seen nothing of them; None when
    too few remain to learn from."""
    from simages.copies.learned_space import MIN_PAIRS

    same = (originals @ aside.T).max(axis=1) >= 1.0 - 1e-6 if len(aside) else np.zeros(len(originals), bool)
    if np.count_nonzero(~same) < MIN_PAIRS:
        return None
    return replace(pairs, originals=pairs.originals[~same], edits=pairs.edits[~same])
