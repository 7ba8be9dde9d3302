"""Score matrices between query rows and set rows, vectorised on float32 with BLAS.

Both functions take the set's norms precomputed (a set is scored many times, its norms once), and return
*keys*: numbers where smaller means closer, so one selection routine serves both metrics.
  cosine:    key = -cos(q, x)            (score = -key)
  euclidean: key = |q|^2 + |x|^2 - 2 q.x (squared distance by expansion; score = sqrt(key) after an
             exact recomputation of the few selected rows, see `exact_distances`)
"""

from __future__ import annotations

import numpy as np

# Scores from one big matrix product are only approximately those of another shape (BLAS picks kernels
# and summation orders by shape), and squared distances by expansion lose precision when q ~ x. So the
# matrix only preselects: candidates within these bands of a cut-off are re-scored one by one with a fixed
# summation order, and the answer is decided on those scores. A query thus gets the same answer, to the
# bit, alone or inside any block of a set join.
COSINE_SLACK = 1e-4
D2_RELATIVE_SLACK = 1e-4
# Rows per chunk when gathering set rows for exact distances: bounds the temporary to ~16 MB at 512-d.
_EXACT_CHUNK = 8192


def as_float32_rows(x: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 (n, d) view or copy; a single vector becomes one row."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    return np.ascontiguousarray(x)


def norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, float32."""
    return np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float32))


def inverse_norms(x: np.ndarray) -> np.ndarray:
    """1/|x| per row; 0 for an all-zero row, so its cosine with anything is 0 rather than NaN."""
    n = norms(x)
    out = np.zeros_like(n)
    np.divide(1.0, n, out=out, where=n > 0)
    return out


def squared_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x, dtype=np.float32)


def cosine_keys(queries: np.ndarray, vectors: np.ndarray, vectors_inv_norm: np.ndarray) -> np.ndarray:
    """(m, n) array of -cos(query_i, vector_j)."""
    keys = queries @ vectors.T
    keys *= vectors_inv_norm[None, :]
    # Negating the query scale turns similarities into keys without another pass over the matrix.
    keys *= -inverse_norms(queries)[:, None]
    return keys


def euclidean_keys(queries: np.ndarray, vectors: np.ndarray, vectors_sq_norm: np.ndarray) -> np.ndarray:
    """(m, n) array of squared Euclidean distances, clipped at 0 (rounding can go below 0)."""
    keys = queries @ vectors.T
    keys *= -2.0
    keys += vectors_sq_norm[None, :]
    keys += squared_norms(queries)[:, None]
    np.maximum(keys, 0.0, out=keys)
    return keys


def exact_cosines(
    vectors: np.ndarray, inv_norms: np.ndarray, rows: np.ndarray, query: np.ndarray
) -> np.ndarray:
    """cos(vectors[rows], query), each a row-wise dot product whose result does not depend on `rows`."""
    query_inv = inverse_norms(query[None, :])[0]
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), _EXACT_CHUNK):
        part = rows[start : start + _EXACT_CHUNK]
        # einsum (not BLAS) keeps one summation order per row whatever the number of rows.
        dots = np.einsum("ij,j->i", vectors[part], query, dtype=np.float32)
        out[start : start + len(part)] = dots * inv_norms[part] * query_inv
    np.clip(out, -1.0, 1.0, out=out)
    return out


def exact_distances(vectors: np.ndarray, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """|vectors[rows] - query| computed directly (no expansion), in bounded chunks."""
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), _EXACT_CHUNK):
        part = rows[start : start + _EXACT_CHUNK]
        diff = vectors[part] - query[None, :]
        out[start : start + len(part)] = norms(diff)
    return out


def d2_slack(query_sq_norm: float, max_vector_sq_norm: float) -> float:
    """How far a squared distance by expansion may be off; candidates this near a cut-off are re-checked."""
    return D2_RELATIVE_SLACK * (query_sq_norm + max_vector_sq_norm) + 1e-12
