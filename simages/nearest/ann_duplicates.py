"""Near-duplicates of a large set through its ANN kNN graph: each image's k nearest, then the threshold.

The exact self-join (`duplicates.duplicate_pairs`) compares every pair: hours for a million images. Here
the set's ANN index (built after indexing for the similar-images search, on its PCA vectors) proposes each
image's `GRAPH_K` nearest images; each proposed pair is scored exactly on the stored vectors, as the
duplicates intent scores them (no PCA, no query expansion), and kept when it passes the duplicate
threshold. Pairs, groups and the report are those of `simages.nearest.duplicates` (shared, not copied).

What it can miss: a pair the index does not propose, i.e. a copy that is not among an image's `GRAPH_K`
nearest in the PCA space. A photo with more than `GRAPH_K` copies still joins all of them into one group
through the copies' own neighbours (groups are connected components). `simages bench ann-duplicates`
measures the recall of pairs against the exact self-join.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simages.nearest import ann
from simages.nearest.approximate import knn_graph
from simages.nearest.duplicates import (
    DuplicateReport,
    duplicate_groups,
    duplicate_threshold,
    qualified,
    sort_pairs,
)
from simages.nearest.query_spec import higher_is_better
from simages.nearest.results import Pair
from simages.nearest.set_index import SetIndex

# Neighbours proposed per image: an image rarely has more than a few copies, and copies of copies join
# through their own neighbours; 10 also keeps the graph of 1M images to 10M candidate pairs.
GRAPH_K = 10


def graph_duplicate_pairs(
    stored: SetIndex,
    searched: SetIndex,
    ann_index: ann.AnnIndex,
    threshold: float | None = None,
    metric: str = "cosine",
    *,
    k: int = GRAPH_K,
    progress: Callable[[int, int], None] | None = None,
) -> list[Pair]:
    """Duplicate pairs within one set, each unordered pair once (a < b by name), best first, names
    qualified as `set/image`, like `duplicates.duplicate_pairs(stored)` but from the kNN graph.

    `stored`: the set read with the duplicates intent (its stored vectors); `searched`: the same store
    read for similar images, whose vectors `ann_index` was built on (same rows: ValueError otherwise).
    `progress(done, total)` after each batch of images."""
    if stored.names != searched.names and list(stored.names) != list(searched.names):
        raise ValueError("the two readings of the set come from different versions of its store")
    if threshold is None:
        threshold = duplicate_threshold(metric, stored)
    rows, scores = knn_graph(stored, ann_index, k, metric, progress=progress,
                             search_vectors=searched.vectors)
    keep = (scores >= threshold) if higher_is_better(metric) else (scores <= threshold)
    keep &= rows >= 0
    a_rows = np.repeat(np.arange(len(stored)), k).reshape(-1, k)[keep]
    b_rows, values = rows[keep], scores[keep]
    # Each pair once, from the end whose name sorts first (name_rank orders names).
    first = stored.name_rank[a_rows] < stored.name_rank[b_rows]
    lo = np.where(first, a_rows, b_rows)
    hi = np.where(first, b_rows, a_rows)
    _, unique = np.unique(lo * len(stored) + hi, return_index=True)
    names, set_name = stored.names, stored.set_name
    pairs = [
        Pair(qualified(set_name, names[i]), qualified(set_name, names[j]), float(v))
        for i, j, v in zip(lo[unique].tolist(), hi[unique].tolist(), values[unique].tolist(), strict=True)
    ]
    return sort_pairs(pairs, metric)


def graph_duplicates(
    stored: SetIndex,
    searched: SetIndex,
    ann_index: ann.AnnIndex,
    threshold: float | None = None,
    metric: str = "cosine",
    *,
    k: int = GRAPH_K,
    progress: Callable[[int, int], None] | None = None,
) -> DuplicateReport:
    """`duplicates.find_duplicates([stored])` through the kNN graph (see `graph_duplicate_pairs`)."""
    if threshold is None:
        threshold = duplicate_threshold(metric, stored)
    pairs = graph_duplicate_pairs(stored, searched, ann_index, threshold, metric, k=k, progress=progress)
    return DuplicateReport(metric, float(threshold), pairs, duplicate_groups(pairs), (stored.set_name,), True)
