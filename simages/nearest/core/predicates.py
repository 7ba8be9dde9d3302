"""Choosing and ordering answers from one row of keys (smaller = closer), ties broken by image name.

`name_rank[j]` is the position of image j's name in sorted order, so ordering by (key, name) is one
integer lexsort instead of string comparisons. Rows that must not be answered (the image itself in a
self-join) carry key +inf and are never returned.
"""

from __future__ import annotations

import numpy as np


def order(keys: np.ndarray, name_rank: np.ndarray) -> np.ndarray:
    """Permutation sorting by key, then by name: the same query always lists the same order."""
    return np.lexsort((name_rank, keys))


def knn_candidates(keys: np.ndarray, k: int, slack: float = 0.0) -> np.ndarray:
    """Indices of every row whose key is within `slack` of the k-th smallest: the k best and all rows tied
    with the k-th (so the name tie-break can choose among them). Never includes +inf rows."""
    n = len(keys)
    if k >= n:
        return np.flatnonzero(np.isfinite(keys))
    kth = np.partition(keys, k - 1)[k - 1]
    if not np.isfinite(kth):
        return np.flatnonzero(np.isfinite(keys))
    return np.flatnonzero(keys <= kth + slack)
