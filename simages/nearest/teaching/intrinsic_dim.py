"""The intrinsic dimensionality of a set's distance distribution: how hard it is to index.

Source: E. Chávez, G. Navarro, R. Baeza-Yates and J. L. Marroquín, "Searching in metric spaces", ACM
Computing Surveys 33(3), 2001, section 7: rho = mu^2 / (2 sigma^2), with mu and sigma^2 the mean and the
variance of the distances between pairs of elements. Points drawn uniformly in a d-dimensional cube have
rho proportional to d; whatever the vectors' length, a large rho means distances concentrate around
their mean, so |d(q, p) - d(x, p)| is small for almost every x and pivots prune almost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simages.wording import plural

# Rows sampled: 1000 rows give ~500k pairs, enough for two significant digits of rho in a few ms.
SAMPLE_ROWS = 1000


@dataclass(frozen=True)
class IntrinsicDimensionality:
    rho: float  # mu^2 / (2 sigma^2); nan with fewer than two distinct points
    mean: float  # mu: mean distance between pairs
    std: float  # sigma
    pairs: int  # pairs measured

    def describe(self) -> str:
        """One line for people."""
        if not np.isfinite(self.rho):
            return "intrinsic dimensionality: not measurable (fewer than two distinct images)"
        return (f"intrinsic dimensionality ρ = μ²/2σ² = {self.rho:.1f} (mean distance {self.mean:.3f}, "
                f"spread σ {self.std:.3f}, {plural(self.pairs, 'pair')}; Chávez et al. 2001)")


def intrinsic_dimensionality(
    points: np.ndarray, sample_rows: int = SAMPLE_ROWS, seed: int = 0
) -> IntrinsicDimensionality:
    """rho of the Euclidean distances between the rows of `points` (n, d), over every pair of up to
    `sample_rows` rows drawn reproducibly (fixed `seed`). For cosine, pass unit-length rows: their
    Euclidean distance is sqrt(2 - 2 cos)."""
    x = np.asarray(points, dtype=np.float64)
    n = len(x)
    if n > sample_rows:
        x = x[np.sort(np.random.default_rng(seed).choice(n, size=sample_rows, replace=False))]
    if len(x) < 2:
        return IntrinsicDimensionality(float("nan"), float("nan"), float("nan"), 0)
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    upper = np.triu_indices(len(x), k=1)
    distances = np.sqrt(np.maximum(d2[upper], 0.0))
    mean, std = float(distances.mean()), float(distances.std())
    rho = mean * mean / (2.0 * std * std) if std > 0 else float("nan")
    return IntrinsicDimensionality(rho, mean, std, len(distances))
