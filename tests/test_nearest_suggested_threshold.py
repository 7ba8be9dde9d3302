"""The range threshold suggested for a key returns 1 to 50 images, whatever the set's size and shape."""

from __future__ import annotations

import numpy as np
import pytest

from simages.nearest import QuerySpec, SetIndex, key_join
from simages.nearest.core.distribution import default_threshold, key_threshold, suggested_count
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore


def clustered_index(n: int, seed: int, descriptor: str = "gap+l2+pca16+qe5") -> SetIndex:
    """Classes of very different sizes and spreads, as in a real collection (one dense class dominates)."""
    rng = np.random.default_rng(seed)
    d = 48
    sizes = np.maximum(1, (n * np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.05])).astype(int))
    rows = []
    for size, spread in zip(sizes, [0.2, 0.5, 0.8, 1.0, 1.5, 2.0], strict=True):
        centre = np.abs(rng.standard_normal(d)) * 2
        rows.append(np.abs(centre + spread * rng.standard_normal((size, d))))
    x = np.vstack(rows)[:n].astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    names = [f"{i:04d}.jpg" for i in range(len(x))]
    meta = {"descriptor": "gap+l2", "descriptor_spec": descriptor}
    return SetIndex.from_store("s", FeatureStore(names, [Fingerprint(1, 1)] * len(x), x, meta))


@pytest.mark.parametrize("n", [2, 30, 200, 600])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_every_key_gets_between_one_and_fifty_results(n, metric):
    index = clustered_index(n, seed=n)
    passed, set_wide = [], []
    threshold = default_threshold(index, metric)
    for name in index.names:
        vector = index.raw_vector(name)
        suggested = key_threshold(index, vector, metric, exclude=name)
        passed.append(key_join(index, vector, QuerySpec(metric, "range", suggested), exclude=name).passed)
        set_wide.append(key_join(index, vector, QuerySpec(metric, "range", threshold), exclude=name).passed)
    passed = np.array(passed)
    assert passed.min() >= 1 and passed.max() <= 50
    if n >= 200:  # the set's top 1% of pairs leaves keys of sparse classes with nothing
        assert np.mean(np.array(set_wide) == 0) > 0.2


def test_suggested_count_is_the_top_percent_bounded():
    sizes = (0, 1, 30, 100, 101, 1000, 5000, 100_000)
    assert [suggested_count(n) for n in sizes] == [0, 1, 1, 1, 2, 10, 50, 50]


def test_an_outside_key_and_an_empty_set():
    index = clustered_index(300, seed=3)
    outside = np.abs(np.random.default_rng(9).standard_normal(48)).astype(np.float32)
    threshold = key_threshold(index, outside, "cosine")
    assert 1 <= key_join(index, outside, QuerySpec("cosine", "range", threshold)).passed <= 50
    empty = SetIndex("e", [], np.zeros((0, 48), np.float32), "gap+l2")
    assert key_threshold(empty, outside, "cosine") == 1.0
    assert key_threshold(empty, outside, "euclidean") == 0.0
