"""The score distribution of a set join, sampled, for the histogram a threshold is chosen on.

A self-join's distribution is the set's own pairwise one (`distribution.set_distribution`). Between two
sets, up to 1000 images of A (projected into B's space, through B's query expansion as in the join) are
scored against up to 1000 images of B: about a million pairs whatever the set sizes, a few ms of BLAS.
Several searched sets are pooled, each sample weighted by its set's share of the pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simages.nearest import scores
from simages.nearest.distribution import ScoreDistribution, sample_pair_scores, summarize
from simages.nearest.joins import is_self_join
from simages.nearest.set_index import SetIndex

_SAMPLE_SIDE = 1000


def cross_pair_scores(
    a: SetIndex, b: SetIndex, metric: str, *, expand: bool = True, seed: int = 0
) -> np.ndarray:
    """Scores (similarities for cosine, distances for Euclidean) of up to 1000 x 1000 pairs (A image, B
    image), drawn reproducibly; shape (m,), float32. A self-join leaves out each image with itself."""
    if is_self_join(a, b):
        return sample_pair_scores(b, metric, seed, expand=expand)
    if not len(a) or not len(b):
        return np.zeros(0, np.float32)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(a), size=min(len(a), _SAMPLE_SIDE), replace=False))
    cols = np.sort(rng.choice(len(b), size=min(len(b), _SAMPLE_SIDE), replace=False))
    queries = b.queries(b.project(a.raw[rows]), metric, None, expand=expand)
    if metric == "cosine":
        values = -scores.cosine_keys(queries, b.vectors[cols], b.inv_norms[cols])
    else:
        values = np.sqrt(scores.euclidean_keys(queries, b.vectors[cols], b.sq_norms[cols]))
    return values.ravel()


def join_distribution(
    a: SetIndex, bs: Sequence[SetIndex], metric: str, *, expand: bool = True, bins: int = 40
) -> ScoreDistribution:
    """Histogram and quantiles of the scores of A against the sets `bs` (sampled, see the module)."""
    parts, weights = [], []
    for b in bs:
        values = cross_pair_scores(a, b, metric, expand=expand)
        if len(values):
            parts.append(values)
            pairs = len(a) * (len(b) - (1 if is_self_join(a, b) else 0))
            weights.append(np.full(len(values), pairs / len(values)))
    if not parts:
        return summarize(np.zeros(0), metric, bins)
    values = np.concatenate(parts)
    if len(parts) == 1:
        return summarize(values, metric, bins)
    # A weighted histogram keeps each set's share; quantiles come from the pooled sample (close enough
    # for a plot).
    dist = summarize(values, metric, bins)
    counts, _ = np.histogram(values, bins=np.asarray(dist.bin_edges), weights=np.concatenate(weights))
    scale = len(values) / max(1.0, float(counts.sum()))
    return ScoreDistribution(dist.metric, dist.count, dist.minimum, dist.maximum, dist.quantiles,
                             dist.bin_edges, [round(float(c) * scale) for c in counts])
