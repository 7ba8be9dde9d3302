"""The score distribution of a set join, sampled, for the histogram a threshold is chosen on.

A self-join's distribution is the set's own pairwise one (`distribution.set_distribution`). Between two
sets, up to 1000 images of A (projected into B's space, through B's query expansion as in the join) are
scored against up to 1000 images of B: about a million pairs whatever the set sizes, a few ms of BLAS.
Several searched sets are pooled, each sample weighted by its set's share of the pairs.
`join_threshold` suggests a range threshold from that sample: the join asked, not one set's own pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from simages.nearest.core.distribution import (
    DEFAULT_TOP_FRACTION,
    ScoreDistribution,
    pair_block_scores,
    sample_pair_scores,
    summarize,
)
from simages.nearest.core.query_spec import higher_is_better
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import is_self_join

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
    # Scored as the join scores them: the better of each key's plain and expanded forms.
    queries = b.query_rows(b.project(a.raw[rows]), metric, None, expand=expand)
    return pair_block_scores(queries, b, cols, metric).ravel()


def _weighted_samples(
    a: SetIndex, bs: Sequence[SetIndex], metric: str, expand: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The sampled scores of A against each of `bs`, pooled, and each one's weight: the number of
    pairs of the join it stands for (a set's pairs / its sample size)."""
    parts, weights = [], []
    for b in bs:
        values = cross_pair_scores(a, b, metric, expand=expand)
        if len(values):
            parts.append(values)
            pairs = len(a) * (len(b) - (1 if is_self_join(a, b) else 0))
            weights.append(np.full(len(values), pairs / len(values)))
    if not parts:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(parts), np.concatenate(weights)


def join_threshold(
    a: SetIndex, bs: Sequence[SetIndex], metric: str, top_fraction: float = DEFAULT_TOP_FRACTION, *,
    expand: bool = True,
) -> float:
    """The range threshold suggested for the join of A against `bs`: the score of the sampled pair at
    which the best `top_fraction` of the join's pairs (weighted by each set's share) is reached. It is a
    score of an actual pair of the join, so that pair passes once the threshold is written with
    `display.threshold_from_score`; a new folder checked against a collection gets a threshold from
    its own pairs with the collection, not from the collection's pairs among themselves. With no pair,
    the identity threshold (1 for cosine, 0 for Euclidean). Remembered per (sets, metric, expansion)
    for as long as the indexes are the same objects. ValueError for a top_fraction outside (0, 1)."""
    if not 0 < top_fraction < 1:
        raise ValueError("top_fraction must lie strictly between 0 and 1")
    key = ("join_threshold", metric, top_fraction, expand, tuple(b.set_name for b in bs))
    remembered = a.memo.get(key)
    if remembered is not None and all(x is y for x, y in zip(remembered[0], bs, strict=True)):
        return remembered[1]
    values, weights = _weighted_samples(a, bs, metric, expand)
    if not len(values):
        threshold = 1.0 if higher_is_better(metric) else 0.0
    else:
        order = np.argsort(-values if higher_is_better(metric) else values, kind="stable")
        reached = np.cumsum(weights[order])
        wanted = top_fraction * reached[-1]
        position = min(len(order) - 1, int(np.searchsorted(reached, wanted - 1e-9 * reached[-1])))
        threshold = float(values[order[position]])
        if not math.isfinite(threshold):
            threshold = 1.0 if higher_is_better(metric) else 0.0
    a.memo[key] = (tuple(bs), threshold)
    return threshold


def join_distribution(
    a: SetIndex, bs: Sequence[SetIndex], metric: str, *, expand: bool = True, bins: int = 40
) -> ScoreDistribution:
    """Histogram and quantiles of the scores of A against the sets `bs` (sampled, see the module)."""
    values, weights = _weighted_samples(a, bs, metric, expand)
    if not len(values) or len(bs) == 1:
        return summarize(values, metric, bins)
    # A weighted histogram keeps each set's share; quantiles come from the pooled sample (close enough
    # for a plot).
    dist = summarize(values, metric, bins)
    counts, _ = np.histogram(values, bins=np.asarray(dist.bin_edges), weights=weights)
    scale = len(values) / max(1.0, float(counts.sum()))
    return ScoreDistribution(dist.metric, dist.count, dist.minimum, dist.maximum, dist.quantiles,
                             dist.bin_edges, [round(float(c) * scale) for c in counts])
