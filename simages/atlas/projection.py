"""2-D maps of descriptor matrices: PCA for an instant view, UMAP for the map a class reads.

Any matrix (n, d) of float32 rows can be mapped, so a descriptor learned later (or before and after
training) maps the same way as the stored ones. Rows are compared by Euclidean distance, which for
unit-length descriptors ranks exactly as cosine similarity does.

UMAP: L. McInnes, J. Healy and J. Melville, "UMAP: Uniform Manifold Approximation and Projection for
Dimension Reduction", arXiv:1802.03426, 2018 (the `umap-learn` package). The rows are first reduced by
PCA to at most `PRE_DIMENSIONS` directions: UMAP's neighbour search is then several times faster and the
neighbours barely change (the directions dropped carry little of the spread).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import numpy as np

from simages.wording import plural

# PCA before UMAP: 50 directions is umap-learn's own advice for high-dimensional data.
PRE_DIMENSIONS = 50
# Below this many images PCA only: UMAP's neighbourhoods (15 images) would span much of the set, and its
# first fit in a process compiles numba code for 10-45 s (measured on the busy 2-core Xeon), too much for a
# picture a PCA draws as well at that size.
MIN_UMAP_IMAGES = 100
# UMAP's neighbourhood size (umap-learn's default), smaller for tiny sets.
NEIGHBOURS = 15
SEED = 0
# Optimisation epochs: umap-learn uses 500 up to 10,000 images and 200 above; 200 everywhere keeps a
# 10,000-image map within a minute on two cores and the picture is the same to the eye.
EPOCHS = 200


def umap_available() -> bool:
    """Whether umap-learn is installed (the optional extra `atlas`)."""
    return importlib.util.find_spec("umap") is not None


@dataclass(frozen=True)
class Reduction:
    """A PCA learned on the mapped rows: centre on `mean` (d,), project on `components` (d, r)."""

    mean: np.ndarray
    components: np.ndarray

    def apply(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float32).reshape(-1, self.mean.shape[0])
        return np.ascontiguousarray((rows - self.mean) @ self.components, dtype=np.float32)


def learn_reduction(rows: np.ndarray, dimensions: int) -> Reduction:
    """PCA of (n, d) rows keeping at most `dimensions` directions (fewer when the set spans fewer: n - 1).
    Computed from the d x d covariance, so 100,000 rows cost one pass. ValueError for no rows."""
    x = np.asarray(rows, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError("a map needs at least one descriptor row")
    mean = x.mean(axis=0)
    centred = x - mean
    covariance = centred.T @ centred
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    keep = max(1, min(dimensions, len(x) - 1, x.shape[1]))
    components = vectors[:, order[:keep]]
    # A sign per direction fixed by the data, so the same set always gives the same picture.
    signs = np.sign(components[np.argmax(np.abs(components), axis=0), np.arange(keep)])
    components = components * np.where(signs == 0, 1.0, signs)
    return Reduction(mean.astype(np.float32), components.astype(np.float32))


def pca_map(rows: np.ndarray) -> np.ndarray:
    """(n, 2) float32: the rows on their two strongest principal directions (a single row or identical
    rows: all at the origin; one direction only: on a line). ValueError for no rows."""
    reduction = learn_reduction(rows, 2)
    coords = reduction.apply(rows)
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]), np.float32)])
    return coords


@dataclass
class UmapMap:
    """A fitted UMAP map: the 2-D coordinates of the rows it was fitted on, the PCA applied first, and
    the fitted model (to place new rows with `place`)."""

    coords: np.ndarray  # (n, 2) float32
    reduction: Reduction
    model: Any

    def place(self, rows: np.ndarray) -> np.ndarray:
        """(m, 2) coordinates of new rows on this map (UMAP.transform: each placed among its nearest fitted
        rows, then moved as the fitted points' forces ask, the fitted points staying put)."""
        rows = np.asarray(rows, dtype=np.float32)
        if not len(rows):
            return np.zeros((0, 2), np.float32)
        return np.asarray(self.model.transform(self.reduction.apply(rows)), dtype=np.float32)


def umap_map(rows: np.ndarray, *, seed: int = SEED, neighbours: int = NEIGHBOURS) -> UmapMap:
    """Fit UMAP on (n, d) rows (n >= MIN_UMAP_IMAGES). ValueError for fewer rows; ImportError without
    umap-learn (install the extra `atlas`). Deterministic for a given `seed` (umap-learn then runs its
    optimisation on one thread)."""
    rows = np.asarray(rows, dtype=np.float32)
    if len(rows) < MIN_UMAP_IMAGES:
        raise ValueError(f"a UMAP map needs at least {plural(MIN_UMAP_IMAGES, 'image')}, got {len(rows)}")
    import umap  # the optional extra `atlas`

    reduction = learn_reduction(rows, PRE_DIMENSIONS)
    reduced = reduction.apply(rows)
    model = umap.UMAP(n_neighbors=min(neighbours, len(rows) - 1), n_components=2, min_dist=0.1,
                      metric="euclidean", random_state=seed, low_memory=True, init="spectral",
                      n_epochs=EPOCHS)
    coords = np.asarray(model.fit_transform(reduced), dtype=np.float32)
    return UmapMap(coords, reduction, model)
