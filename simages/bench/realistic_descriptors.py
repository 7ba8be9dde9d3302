"""Realistic synthetic descriptors for million-image benchmarks: a model fitted to a real indexed set.

Uniform random vectors are the worst case of every ANN method and look like no photo collection: real
descriptors lie near a low-dimensional subspace, in clusters (subjects, scenes) of very different sizes,
with near-duplicates (re-encodes, crops, bursts). The model, fitted to the stored vectors X (n0 x d) of
a real set (e.g. Corel-1k indexed with SIMages itself):

1. PCA of X: mean mu, the r = min(64, n0/8) strongest directions V (d x r), and the variance s^2 per
   direction of what they leave out (the residual, modelled as isotropic).
2. k-means with c = n0/20 clusters of X projected on V (FAISS k-means). Each cluster j: its share p_j, its
   mean m_j and covariance C_j, shrunk half-way to the pooled within-cluster covariance (20 points do
   not estimate 64 x 64 numbers).
3. A sample: cluster j ~ p, z ~ N(m_j, C_j), x = mu + V z + s e (e ~ N(0, I_d)); then, as for the real
   ReLU-pooled descriptors, negative values are cut to 0 and x is scaled to unit length.
4. Near-duplicates: a share `duplicate_share` of the samples are copies of an earlier sample with a small
   perturbation (noise of `duplicate_noise` x the residual scale), cosine ~0.97-0.99 to their original,
   like a re-encoded or slightly cropped photo.

A Gaussian mixture in a principal subspace (Bishop, "Pattern Recognition and Machine Learning", 2006,
sections 9.2 and 12.2). The samples are deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SUBSPACE_DIM = 64
IMAGES_PER_CLUSTER = 20
SHRINKAGE = 0.5


@dataclass(frozen=True)
class DescriptorModel:
    mean: np.ndarray  # (d,)
    basis: np.ndarray  # (d, r)
    residual_scale: float
    weights: np.ndarray  # (c,)
    centres: np.ndarray  # (c, r)
    factors: np.ndarray  # (c, r, r) Cholesky factors of the cluster covariances

    @property
    def dimension(self) -> int:
        return int(self.mean.shape[0])


def fit_model(vectors: np.ndarray, seed: int = 0) -> DescriptorModel:
    """Fit the model of this module's docstring to real descriptors (n0, d), n0 >= 100.

    ValueError with fewer than 100 rows (too few to learn clusters from)."""
    import faiss  # optional dependency (the `ann` extra), like every ANN benchmark

    x = np.asarray(vectors, dtype=np.float64)
    n0, d = x.shape
    if n0 < 100:
        raise ValueError(f"a descriptor model needs at least 100 real descriptors, got {n0}")
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    r = min(SUBSPACE_DIM, n0 // 8, d)
    basis = vt[:r].T
    variance = singular**2 / (n0 - 1)
    residual_scale = float(np.sqrt(variance[r:].sum() / max(1, d - r)))
    z = ((x - mean) @ basis).astype(np.float32)
    clusters = max(2, n0 // IMAGES_PER_CLUSTER)
    kmeans = faiss.Kmeans(r, clusters, niter=25, seed=seed, verbose=False, min_points_per_centroid=1)
    kmeans.train(np.ascontiguousarray(z))
    _, labels = kmeans.index.search(np.ascontiguousarray(z), 1)
    labels = labels[:, 0]
    pooled = np.zeros((r, r))
    for j in range(clusters):
        members = z[labels == j].astype(np.float64)
        if len(members) > 1:
            centred = members - members.mean(axis=0)
            pooled += centred.T @ centred
    pooled /= max(1, n0 - clusters)
    weights, centres, factors = [], [], []
    for j in range(clusters):
        members = z[labels == j].astype(np.float64)
        if len(members) == 0:
            continue
        own = np.cov(members, rowvar=False) if len(members) > 1 else pooled
        covariance = SHRINKAGE * own + (1 - SHRINKAGE) * pooled + 1e-9 * np.eye(r)
        weights.append(len(members))
        centres.append(members.mean(axis=0))
        factors.append(np.linalg.cholesky(covariance))
    w = np.array(weights, dtype=np.float64)
    return DescriptorModel(
        mean.astype(np.float32), basis.astype(np.float32), residual_scale, w / w.sum(),
        np.array(centres, dtype=np.float32), np.array(factors, dtype=np.float32),
    )


def sample(
    model: DescriptorModel,
    n: int,
    seed: int = 0,
    duplicate_share: float = 0.01,
    duplicate_noise: float = 0.35,
    chunk: int = 65536,
) -> np.ndarray:
    """n unit-length descriptors (n, d) float32 from the model, `duplicate_share` of them near-duplicates
    of another sample. Memory: the result plus one chunk."""
    out = np.empty((n, model.dimension), dtype=np.float32)
    for start, rows in _chunks(model, n, seed, chunk):
        out[start : start + len(rows)] = rows
    rng = np.random.default_rng(seed + 1)
    copies = int(n * duplicate_share)
    if copies:
        targets = rng.choice(np.arange(1, n), size=copies, replace=False)
        originals = (rng.random(copies) * targets).astype(np.int64)  # an earlier sample
        for start in range(0, copies, chunk):
            t, o = targets[start : start + chunk], originals[start : start + chunk]
            noise = rng.standard_normal((len(t), model.dimension), dtype=np.float32)
            out[t] = _finish(out[o] + duplicate_noise * model.residual_scale * noise)
    return out


def _chunks(model: DescriptorModel, n: int, seed: int, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
    rng = np.random.default_rng(seed)
    r = model.basis.shape[1]
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        which = rng.choice(len(model.weights), size=m, p=model.weights)
        e = rng.standard_normal((m, r), dtype=np.float32)
        z = model.centres[which] + np.einsum("mij,mj->mi", model.factors[which], e)
        x = model.mean + z @ model.basis.T
        x += model.residual_scale * rng.standard_normal(x.shape, dtype=np.float32)
        yield start, _finish(x)


def _finish(x: np.ndarray) -> np.ndarray:
    x = np.maximum(x, 0.0)
    lengths = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(lengths > 0, lengths, 1.0)).astype(np.float32)
