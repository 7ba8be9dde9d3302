"""A set's descriptors reduced by PCA to a chosen dimension, to show a class how indexing depends on it.

The reduced set is the stored descriptor with `pca<D>` learned on the set (centred, projected onto its D
strongest directions, scaled to unit length again: simages.extraction.postprocess.learn_pca) and without
query expansion, so every key is measured from itself. It is a teaching view, not the searched index.
"""

from __future__ import annotations

import numpy as np

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.postprocess import learn_pca
from simages.nearest.core.display import passes
from simages.nearest.core.distribution import sample_pair_scores
from simages.nearest.core.query_spec import higher_is_better
from simages.nearest.core.set_index import SetIndex

# The dimensions the teaching panel and `simages bench pivots` offer (VGG-16's pooled map has 512).
DIMENSIONS = (8, 16, 32, 64, 128, 256, 512)


def reduced_index(index: SetIndex, dimension: int) -> SetIndex:
    """`index` with its stored vectors reduced to `dimension` principal directions (at most the rank of
    the set) and no query expansion. Remembered with `index`. ValueError for a dimension below 1."""
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
        raise ValueError(f"the dimension must be a positive integer, got {dimension!r}")
    memo_key = ("reduced", dimension)
    found = index.memo.get(memo_key)
    if found is not None:
        return found
    try:
        spec = DescriptorSpec.parse(index.descriptor) if index.descriptor else None
    except ValueError:
        spec = None
    descriptor = ""
    if spec is not None:
        descriptor = spec.with_(pca=True, pca_dim=dimension, whiten=False, whiten_dim=None, qe=False).key()
    whitening = learn_pca(index.raw, dimension) if len(index) else None
    found = SetIndex(index.set_name, list(index.names), index.raw, descriptor, whitening, None, descriptor)
    index.memo[memo_key] = found
    return found


def pair_share(index: SetIndex, metric: str, threshold: float, *, expand: bool = True) -> float:
    """The share of the set's pairs (sampled as for default thresholds: nearest.core.distribution) whose
    score passes `threshold`; 0.0 for a set of fewer than two images."""
    values = sample_pair_scores(index, metric, expand=expand)
    return float(np.mean(passes(values, threshold, metric))) if len(values) else 0.0


def carried_threshold(view: SetIndex, metric: str, share: float) -> float:
    """The threshold that the same `share` of the view's pairs pass (without query expansion): a range
    query asks the same question in every dimension, where a fixed similarity would mean something else
    (8 dimensions make everything look alike). With share 0 only the view's closest pair passes."""
    values = sample_pair_scores(view, metric, expand=False).astype(np.float64)
    if not len(values):
        return 1.0 if higher_is_better(metric) else 0.0
    share = min(max(share, 0.0), 1.0)
    return float(np.quantile(values, 1.0 - share if higher_is_better(metric) else share))
