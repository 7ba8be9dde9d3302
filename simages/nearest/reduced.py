"""A set's descriptors reduced by PCA to a chosen dimension, to show a class how indexing depends on it.

The reduced set is the stored descriptor with `pca<D>` learned on the set (centred, projected onto its D
strongest directions, scaled to unit length again: simages.extraction.postprocess.learn_pca) and without
query expansion, so every key is measured from itself. It is a teaching view, not the searched index.
"""

from __future__ import annotations

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.postprocess import learn_pca
from simages.nearest.distribution import default_threshold
from simages.nearest.set_index import SetIndex

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


def view_threshold(view: SetIndex, metric: str) -> float:
    """The range threshold a PCA view uses for a range query: the set's duplicate threshold measured in
    that view (a similarity means something else in another dimension), without query expansion."""
    # TODO(issue 11): its duplicate threshold once landed; until then the view's default range threshold.
    return default_threshold(view, metric, expand=False)
