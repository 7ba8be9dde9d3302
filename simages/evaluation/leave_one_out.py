"""Leave-one-out retrieval over one labeled set: every image is a key, ranked against all the others.

Pure numpy on descriptors already computed, so each descriptor option costs a pooling and a few matrix
products, not a pass through the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simages.evaluation.retrieval_metrics import RetrievalScores, relevance_matrix, summarise
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.pooling import l2_normalise, pool_with_mirror
from simages.extraction.postprocess import average_query_expansion, learned_transform
from simages.nearest.core.query_rows import with_expansion
from simages.training.registry import projection_for

METRICS = ("cosine", "euclidean")
# Keys ranked per block, so a large folder never needs an n x n matrix at once.
_BLOCK = 512


def set_vectors(
    maps: np.ndarray,
    flipped_maps: np.ndarray | None,
    spec: DescriptorSpec,
    features: Path | None = None,
) -> np.ndarray:
    """The vectors a set's joins would use with `spec`: pooled (flip-averaged), then a trained head (read
    from `features`/heads/) and PCA / whitening.

    Mirrors `describe_images` for the stored part and the set index for the rest (learned on the set).
    """
    vectors = pool_with_mirror(maps, flipped_maps, spec)
    transform = learned_transform(spec, vectors, projection_for(spec, features))
    if transform is not None:
        vectors = transform.apply(vectors)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def distances(keys: np.ndarray, vectors: np.ndarray, metric: str) -> np.ndarray:
    """(m, n): smaller is nearer. Cosine as 1 - cos; Euclidean squared (same ranking, cheaper)."""
    if metric == "cosine":
        return 1.0 - l2_normalise(keys) @ l2_normalise(vectors).T
    if metric == "euclidean":
        keys64, vectors64 = keys.astype(np.float64), vectors.astype(np.float64)
        return (keys64**2).sum(1)[:, None] - 2 * keys64 @ vectors64.T + (vectors64**2).sum(1)[None, :]
    raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def leave_one_out(
    vectors: np.ndarray,
    labels: Sequence[str] | np.ndarray,
    metric: str,
    qe_k: int = 0,
    ks: Sequence[int] = (1, 10, 20),
) -> RetrievalScores:
    """P@k and mAP (over each key's full ranking of the other n - 1 images), with optional AQE."""
    vectors = np.asarray(vectors, dtype=np.float32)
    labels = np.asarray(labels)
    n = len(vectors)
    if n < 2:
        return summarise(np.zeros((0, 0), bool), ks)
    expanded = None
    if qe_k > 0:
        expanded = with_expansion(
            vectors, average_query_expansion(vectors, vectors, qe_k, exclude=np.arange(n), metric=metric)
        )
    rows = []
    for start in range(0, n, _BLOCK):
        block = np.arange(start, min(start + _BLOCK, n))
        dist = distances(vectors[block], vectors, metric)
        if expanded is not None:
            # As joins score (simages.nearest.core.query_rows): the better of the key and its expansion.
            np.minimum(dist, distances(expanded.expanded[block], vectors, metric), out=dist)
        dist[np.arange(len(block)), block] = np.inf  # the key itself is not a result
        order = np.argsort(dist, axis=1, kind="stable")[:, : n - 1]
        rows.append(relevance_matrix(order, labels, labels[block]))
    return summarise(np.concatenate(rows), ks)
