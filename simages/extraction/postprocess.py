"""Post-processing of a set's descriptors after extraction: PCA, PCA whitening, average query expansion.

All pure numpy. PCA and whitening are learned on the searched set itself (unsupervised, so no label leaks
into them) when a store is loaded; query expansion is applied to each key at query time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.pooling import l2_normalise

# Eigenvalues below this fraction of the largest are numerical zeros (a set with fewer images than
# dimensions has rank n - 1); dividing by them would blow rounding noise up, so those directions go.
_RELATIVE_FLOOR = 1e-6
# Added to every eigenvalue, as a fraction of their mean, before dividing: the smallest kept directions
# are mostly noise on small sets, and full whitening would give that noise as much weight as the
# strongest direction. On Corel-1k (docs/quality.md) stronger shrinkage is always better (0.1: mAP 0.30,
# 1: 0.47, 20: 0.83 for gap+l2), i.e. whitening itself hurts category retrieval; 1 keeps it a whitening.
DEFAULT_SHRINKAGE = 1.0


@dataclass(frozen=True)
class Whitening:
    """A learned affine map: centre on the set's mean, project on principal directions (maybe scaled)."""

    mean: np.ndarray  # (d,)
    # (d, r): principal directions, scaled by 1/sqrt(regularised eigenvalue) when whitening
    projection: np.ndarray

    @property
    def dimension(self) -> int:
        return int(self.projection.shape[1])

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Centre and project (n, d) -> (n, r); no normalisation."""
        rows = np.asarray(vectors, dtype=np.float32).reshape(-1, self.mean.shape[0])
        return np.ascontiguousarray((rows - self.mean) @ self.projection, dtype=np.float32)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Projected and L2-normalised (n, r): after centring only the direction carries meaning."""
        return np.ascontiguousarray(l2_normalise(self.project(vectors)), dtype=np.float32)


def identity_whitening(dimension: int) -> Whitening:
    return Whitening(np.zeros(dimension, np.float32), np.eye(dimension, dtype=np.float32))


def learn_whitening(
    vectors: np.ndarray, dim: int | None = None, shrinkage: float = DEFAULT_SHRINKAGE
) -> Whitening:
    """PCA whitening of the rows of (n, d), keeping at most `dim` directions.

    A set too small to estimate any covariance (n < 2, or all rows equal) gets the identity, so a
    one-image set still works. With n <= d only the n - 1 directions the set spans are kept.
    """
    return _learn(vectors, dim, shrinkage, whiten=True)


def learn_pca(vectors: np.ndarray, dim: int | None = None) -> Whitening:
    """PCA of the rows of (n, d): centre, rotate onto the `dim` strongest directions, no rescaling.

    Ranking by cosine after it equals ranking by cosine of the mean-centred vectors restricted to the
    strongest directions; the same small-set fallbacks as `learn_whitening` apply.
    """
    return _learn(vectors, dim, 0.0, whiten=False)


def learned_transform(
    spec: DescriptorSpec, vectors: np.ndarray, head: np.ndarray | None = None
) -> Whitening | None:
    """The load-time transform a set's descriptor asks for (`pca` or `whiten`), learned on its vectors.

    With a trained head's (d, d) `head` projection (`spec.head`), the vectors are projected first and PCA /
    whitening is learned on the projected vectors; both linear steps fold into one Whitening: centring
    the projected vectors on their mean is centring the vectors on theirs, then projecting."""
    if head is not None:
        head = np.asarray(head, dtype=np.float32)
        inner = learned_transform(spec.with_(head=None), np.asarray(vectors, np.float32) @ head)
        if inner is None:
            return Whitening(np.zeros(head.shape[0], np.float32), head)
        # A set too small to learn from gets the identity (mean 0), which must stay uncentred.
        centred = bool(np.any(inner.mean))
        mean = np.asarray(vectors, np.float64).mean(axis=0) if centred else np.zeros(head.shape[0])
        projection = np.ascontiguousarray(head @ inner.projection, dtype=np.float32)
        return Whitening(mean.astype(np.float32), projection)
    if spec.whiten:
        return learn_whitening(vectors, spec.whiten_dim or spec.pca_dim)
    if spec.pca:
        return learn_pca(vectors, spec.pca_dim)
    return None


# From this many rows on, the principal directions come from the covariance matrix accumulated in chunks
# (memory: one chunk) instead of an SVD of all centred rows (memory: several float64 copies of the set,
# 12 GB for a million 512-d rows; time: 61 s against 6 s for 20k x 512 on the busy 2-core Xeon). Below it
# the SVD is cheap and numerically the stabler (Corel-1k's evaluation keeps it).
_COVARIANCE_FROM_ROWS = 5_000
_COVARIANCE_CHUNK = 65_536


def _principal(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean (d,), eigenvalues of the covariance, descending, (r,), principal directions as rows (r, d))."""
    n = len(vectors)
    if n < _COVARIANCE_FROM_ROWS:
        x = np.asarray(vectors, dtype=np.float64)
        mean = x.mean(axis=0)
        _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
        return mean, singular**2 / (n - 1), vt
    mean = np.zeros(vectors.shape[1])
    for start in range(0, n, _COVARIANCE_CHUNK):
        mean += np.asarray(vectors[start : start + _COVARIANCE_CHUNK], dtype=np.float64).sum(axis=0)
    mean /= n
    scatter = np.zeros((vectors.shape[1], vectors.shape[1]))
    for start in range(0, n, _COVARIANCE_CHUNK):
        centred = np.asarray(vectors[start : start + _COVARIANCE_CHUNK], dtype=np.float64) - mean
        scatter += centred.T @ centred
    eigen, directions = np.linalg.eigh(scatter / (n - 1))
    return mean, np.maximum(eigen[::-1], 0.0), directions[:, ::-1].T


def _learn(vectors: np.ndarray, dim: int | None, shrinkage: float, whiten: bool) -> Whitening:
    dimension = vectors.shape[1]
    if len(vectors) < 2:
        return identity_whitening(dimension)
    mean, eigen, vt = _principal(vectors)
    if eigen[0] <= 0:
        return identity_whitening(dimension)
    kept = int(np.count_nonzero(eigen > eigen[0] * _RELATIVE_FLOOR))
    if dim is not None:
        kept = min(kept, dim)
    eigen = eigen[:kept]
    scale = 1.0 / np.sqrt(eigen + shrinkage * eigen.mean()) if whiten else np.ones(kept)
    projection = vt[:kept].T * scale[None, :]
    return Whitening(mean.astype(np.float32), np.ascontiguousarray(projection, dtype=np.float32))


def average_query_expansion(
    keys: np.ndarray,
    vectors: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
    metric: str = "cosine",
) -> np.ndarray:
    """Each key (m, d) replaced by the mean of itself and its k nearest rows of `vectors` (n, d).

    `exclude` gives, per key, a row of `vectors` that must not count as a neighbour (the key itself when
    it is part of the set, -1 for none): in leave-one-out evaluation a key must not expand with itself.
    With cosine the unit-length vectors are averaged; with Euclidean the vectors as they are. The mean
    is returned unnormalised: the cosine ranking ignores its length, and for L2-normalised vectors so
    does the Euclidean one.
    """
    keys = np.asarray(keys, dtype=np.float32)
    vectors = np.asarray(vectors, dtype=np.float32)
    if k < 1 or len(vectors) == 0:
        return keys.copy()
    if metric == "cosine":
        scores = l2_normalise(keys) @ l2_normalise(vectors).T
    elif metric == "euclidean":
        scores = -(
            (keys**2).sum(axis=1)[:, None] - 2 * keys @ vectors.T + (vectors**2).sum(axis=1)[None, :]
        )
    else:
        raise ValueError(f"unknown metric {metric!r}")
    if exclude is not None:
        rows = np.flatnonzero(np.asarray(exclude) >= 0)
        scores[rows, np.asarray(exclude)[rows]] = -np.inf
    k = min(k, len(vectors) - (1 if exclude is not None else 0))
    if k < 1:
        return keys.copy()
    neighbours = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return average_with_neighbours(keys, vectors, neighbours, metric)


def average_with_neighbours(
    keys: np.ndarray, vectors: np.ndarray, neighbours: np.ndarray, metric: str = "cosine"
) -> np.ndarray:
    """The averaging step of `average_query_expansion`, for neighbours found by any means (an ANN index):
    each key (m, d) and the rows `neighbours` (m, k) of `vectors` (n, d), averaged as described there."""
    keys = np.asarray(keys, dtype=np.float32)
    near = np.asarray(vectors, dtype=np.float32)[neighbours]  # (m, k, d): only the rows used
    if metric == "cosine":
        # Cosine ignores length, so the average must too: unit vectors, or one long neighbour would dominate.
        keys = l2_normalise(keys)
        near = l2_normalise(near.reshape(-1, near.shape[-1])).reshape(near.shape)
    expanded = (keys + near.sum(axis=1)) / (neighbours.shape[1] + 1)
    return np.ascontiguousarray(expanded, dtype=np.float32)
