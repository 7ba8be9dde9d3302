"""A teaching descriptor under which cosine similarity and Euclidean distance really differ.

Every vector SIMages searches has length 1, and for vectors of one length distance² = 2 − 2 × similarity:
both metrics list a set in the same order, so a class cannot see them disagree. This view keeps the
searched descriptor's directions but not its lengths: the vectors are centred on the set's mean (and
projected as the set's PCA projects them, if it has one), and *not* scaled back to length 1. Moving the
origin to the middle of the set changes every angle but no distance, and the vectors now have lengths of
their own, so the two metrics rank differently. It is read from the same store: nothing is re-indexed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simages.extraction.postprocess import Whitening
from simages.nearest.core.set_index import SetIndex

# The URL value and the words for it (results page): "" is the searched descriptor itself.
UNSCALED = "unscaled"
VIEWS = {"": "As indexed (all of length 1)",
         UNSCALED: "Teaching: lengths kept (cosine ≠ Euclidean)"}


@dataclass(frozen=True)
class CentredProjection(Whitening):
    """The set's affine map (centre on its mean, project) without the unit-length scaling after it."""

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return self.project(vectors)


def unscaled_index(index: SetIndex) -> SetIndex:
    """`index` seen through its own centring and projection but with each vector's length kept (n, r), no
    query expansion. Remembered with `index`. Keys from elsewhere (another set, an upload) go through the
    same map, so the comparison stays fair."""
    found = index.memo.get(("teaching", UNSCALED))
    if found is not None:
        return found
    if index.whitening is not None:
        transform = CentredProjection(index.whitening.mean, index.whitening.projection)
    else:
        rows = index.vectors if len(index) else np.zeros((1, index.dimension), np.float32)
        mean = np.asarray(rows, dtype=np.float64).mean(axis=0).astype(np.float32)
        transform = CentredProjection(mean, np.eye(len(mean), dtype=np.float32))
    found = SetIndex(index.set_name, list(index.names), index.raw, "", transform, None, "", root=index.root)
    index.memo[("teaching", UNSCALED)] = found
    return found


def why_metrics_differ(set_name: str) -> str:
    """One plain paragraph for the results page while the teaching descriptor is on."""
    return (f"Teaching descriptor: the descriptors of {set_name} are centred on the set's mean and keep "
            "their own lengths (they are not scaled to 1). Centring moves the origin to the middle of the "
            "set: no distance changes, but every angle does, and vectors of different lengths break "
            "distance² = 2 − 2 × similarity. So cosine similarity (the angle seen from the set's centre) and "
            "Euclidean distance (how far apart two images lie) now list the images in different orders. "
            "No query expansion in this view.")
