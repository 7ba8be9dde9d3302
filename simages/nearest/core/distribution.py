"""Score distributions, so the UI can plot them and range thresholds can be chosen from data.

A fixed cosine threshold means different things for different descriptors (GAP features of ReLU maps are
all positive and cluster near 1; whitened ones spread around 0), so default thresholds are measured on
the set being searched: the score that only the closest `top_fraction` of pairs within the set reach.
Every function takes `expand` (default on): whether keys go through the set's query expansion, as a query
with QuerySpec.expand does, so plotted scores and thresholds match what that query sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simages.nearest.core import scores
from simages.nearest.core.display import threshold_from_score
from simages.nearest.core.query_rows import QueryRows, best_keys
from simages.nearest.core.query_spec import higher_is_better
from simages.nearest.core.set_index import SetIndex

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
DEFAULT_TOP_FRACTION = 0.01
# Rows and columns sampled for pairwise scores: up to ~1M pairs, a few ms of BLAS, stable quantiles.
_SAMPLE_SIDE = 1000


@dataclass(frozen=True)
class ScoreDistribution:
    metric: str
    count: int
    minimum: float
    maximum: float
    quantiles: dict[float, float]
    bin_edges: list[float]
    counts: list[int]

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "count": self.count,
            "min": self.minimum,
            "max": self.maximum,
            "quantiles": {f"{q:g}": v for q, v in self.quantiles.items()},
            "bin_edges": self.bin_edges,
            "counts": self.counts,
        }


def summarize(values: np.ndarray, metric: str, bins: int = 40) -> ScoreDistribution:
    """Min, max, quantiles and a histogram of scores (similarities or distances)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return ScoreDistribution(metric, 0, float("nan"), float("nan"), {}, [], [])
    counts, edges = np.histogram(values, bins=bins)
    qs = np.quantile(values, QUANTILES)
    return ScoreDistribution(
        metric=metric,
        count=len(values),
        minimum=float(values.min()),
        maximum=float(values.max()),
        quantiles={q: float(v) for q, v in zip(QUANTILES, qs, strict=True)},
        bin_edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
    )


def pair_block_scores(
    queries: QueryRows, index: SetIndex, cols: slice | np.ndarray, metric: str
) -> np.ndarray:
    """Scores of queries against the rows `cols` of the set, as joins score them (the better of a key's
    plain and expanded forms): similarities for cosine, distances for Euclidean."""
    if metric == "cosine":
        vectors, inv_norms = index.vectors[cols], index.inv_norms[cols]
        return -best_keys(queries, lambda q: scores.cosine_keys(q, vectors, inv_norms))
    return np.sqrt(
        best_keys(queries, lambda q: scores.euclidean_keys(q, index.vectors[cols], index.sq_norms[cols]))
    )


def key_scores(
    index: SetIndex, key_vector: np.ndarray, metric: str, exclude: str | None = None, *, expand: bool = True
) -> np.ndarray:
    """All scores of a raw key against a set (similarities for cosine, distances for Euclidean)."""
    query, own_row = index.key_query(key_vector, metric, exclude, expand=expand)
    values = pair_block_scores(query, index, slice(None), metric)[0]
    return np.delete(values, own_row) if own_row >= 0 else values


def key_distribution(
    index: SetIndex,
    key_vector: np.ndarray,
    metric: str,
    exclude: str | None = None,
    bins: int = 40,
    *,
    expand: bool = True,
) -> ScoreDistribution:
    """Distribution of one key's scores against every image of a set."""
    return summarize(key_scores(index, key_vector, metric, exclude, expand=expand), metric, bins)


def turned_key_distribution(
    index: SetIndex,
    key_vectors: np.ndarray,
    metric: str,
    exclude: str | None = None,
    bins: int = 40,
    *,
    expand: bool = True,
) -> ScoreDistribution:
    """Distribution of each image's best score over a key described under several orientations
    (`key_vectors` (t, d): the key turned, simages.copies.turns), as a duplicates search of that key lists
    them: a copy found turned scores as it is listed, not as the key upright sees it."""
    from simages.nearest.core.query_spec import higher_is_better

    scores = np.stack([key_scores(index, vector, metric, exclude, expand=expand) for vector in key_vectors])
    best = scores.max(axis=0) if higher_is_better(metric) else scores.min(axis=0)
    return summarize(best, metric, bins)


def sample_pair_scores(index: SetIndex, metric: str, seed: int = 0, *, expand: bool = True) -> np.ndarray:
    """Scores of up to ~1M pairs of distinct images of the set, drawn reproducibly (fixed seed)."""
    n = len(index)
    if n < 2:
        return np.zeros(0, np.float32)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, _SAMPLE_SIDE), replace=False))
    cols = np.sort(rng.choice(n, size=min(n, _SAMPLE_SIDE), replace=False))
    # Keys go through query expansion exactly as in a join, so thresholds fit what a range query sees.
    queries = index.query_rows(index.vectors[rows], metric, rows, expand=expand)
    values = pair_block_scores(queries, index, cols, metric)
    distinct = rows[:, None] != cols[None, :]
    return values[distinct]


def set_distribution(
    index: SetIndex, metric: str, bins: int = 40, *, expand: bool = True
) -> ScoreDistribution:
    """Distribution of pairwise scores within a set (sampled for large sets)."""
    return summarize(sample_pair_scores(index, metric, expand=expand), metric, bins)


def default_threshold(
    index: SetIndex, metric: str, top_fraction: float = DEFAULT_TOP_FRACTION, *, expand: bool = True
) -> float:
    """A range threshold that about `top_fraction` of the pairs within the set pass: for cosine the
    (1 - top_fraction) quantile of similarities, for Euclidean the top_fraction quantile of distances.
    Measured per set, hence per descriptor; remembered for as long as the set's store is unchanged.
    With fewer than two images there is nothing to measure, and only identical images pass. Query
    expansion (`expand`) changes the scores, so each setting has its own threshold."""
    if not 0 < top_fraction < 1:
        raise ValueError("top_fraction must lie strictly between 0 and 1")
    expansion = index.expansion_for(expand)
    memo_key = ("default_threshold", metric, top_fraction, expansion)
    if memo_key in index.memo:
        return index.memo[memo_key]
    values = sample_pair_scores(index, metric, expand=expand)
    if len(values) == 0:
        threshold = 1.0 if higher_is_better(metric) else 0.0
    else:
        q = 1.0 - top_fraction if higher_is_better(metric) else top_fraction
        threshold = float(np.quantile(values.astype(np.float64), q))
        if higher_is_better(metric):
            threshold = min(1.0, max(-1.0, threshold))
    index.memo[memo_key] = threshold
    return threshold


# A suggested range threshold lets through a key's own top `SUGGESTED_FRACTION` of the set, at least one
# image and at most `SUGGESTED_MOST` (a results page a person can read).
SUGGESTED_FRACTION = 0.01
SUGGESTED_MOST = 50


def suggested_count(
    searched: int, top_fraction: float = SUGGESTED_FRACTION, most: int = SUGGESTED_MOST
) -> int:
    """How many images the suggested threshold of a key lets through in a set of `searched` images:
    ceil(top_fraction x searched), at least 1 and at most `most` (0 for an empty set)."""
    if searched <= 0:
        return 0
    return max(1, min(most, math.ceil(top_fraction * searched)))


def key_threshold(
    index: SetIndex,
    key_vector: np.ndarray,
    metric: str,
    exclude: str | None = None,
    *,
    expand: bool = True,
    top_fraction: float = SUGGESTED_FRACTION,
    most: int = SUGGESTED_MOST,
) -> float:
    """The range threshold suggested for one key: the score of its `suggested_count`-th best image, i.e.
    the key's own top 1% of the set (at least its nearest image, at most 50), rounded the way scores are
    written as a threshold field shows it (`display.threshold_from_score`: toward the side that keeps that
    image), so the images it lets through are those the page shows above it.

    A set-wide threshold (`default_threshold`, the set's top 1% of pairs) returns nothing for most keys
    outside the set's densest class (0 results for 23 of 31 keys of a 30-image set); a key's own ranking
    is what a range query on that key sees. Similarities for cosine, distances for Euclidean; the key's
    scores are those of a query with the same `expand`. With no image to compare, the identity threshold
    (1 for cosine, 0 for Euclidean)."""
    values = key_scores(index, key_vector, metric, exclude, expand=expand)
    count = suggested_count(len(values), top_fraction, most)
    if count == 0:
        return 1.0 if higher_is_better(metric) else 0.0
    if higher_is_better(metric):
        kth = float(np.partition(-values, count - 1)[count - 1]) * -1.0
    else:
        kth = float(np.partition(values, count - 1)[count - 1])
    return float(threshold_from_score(kth, metric))

