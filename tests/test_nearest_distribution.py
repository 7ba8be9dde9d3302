from __future__ import annotations

import numpy as np
import pytest

from simages.nearest import SetIndex, default_threshold, key_distribution, set_distribution


def make_index(vectors, name="s", descriptor="gap+l2"):
    return SetIndex(name, [f"{i:04d}.jpg" for i in range(len(vectors))], vectors, descriptor)


def all_pair_scores(vectors, metric):
    v = vectors.astype(np.float64)
    if metric == "cosine":
        unit = v / np.linalg.norm(v, axis=1, keepdims=True)
        s = unit @ unit.T
    else:
        s = np.linalg.norm(v[:, None, :] - v[None, :, :], axis=2)
    return s[~np.eye(len(v), dtype=bool)]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_default_threshold_lets_about_one_percent_of_pairs_pass(metric):
    vectors = np.random.default_rng(1).normal(size=(300, 32)).astype(np.float32)
    threshold = default_threshold(make_index(vectors), metric)
    pairs = all_pair_scores(vectors, metric)
    passing = np.mean(pairs >= threshold) if metric == "cosine" else np.mean(pairs <= threshold)
    assert 0.005 <= passing <= 0.02


def test_default_threshold_follows_the_descriptor_distribution():
    rng = np.random.default_rng(2)
    # Non-negative pooled features are all similar to each other; centred ones are not.
    relu_like = np.abs(rng.normal(size=(300, 64))).astype(np.float32)
    centred = rng.normal(size=(300, 64)).astype(np.float32)
    high = default_threshold(make_index(relu_like), "cosine")
    low = default_threshold(make_index(centred), "cosine")
    assert high > 0.7 and low < 0.4


def test_default_threshold_of_a_tiny_set_only_admits_identical_images():
    index = make_index(np.ones((1, 4), np.float32))
    assert default_threshold(index, "cosine") == 1.0
    assert default_threshold(index, "euclidean") == 0.0


def test_key_distribution_describes_every_score_of_the_key():
    vectors = np.random.default_rng(3).normal(size=(100, 8)).astype(np.float32)
    index = make_index(vectors)
    dist = key_distribution(index, vectors[0], "euclidean", exclude="0000.jpg", bins=10)
    expected = np.linalg.norm(vectors[1:] - vectors[0], axis=1)
    assert dist.count == 99 and sum(dist.counts) == 99 and len(dist.bin_edges) == 11
    assert dist.minimum == pytest.approx(expected.min(), rel=1e-4)
    assert dist.maximum == pytest.approx(expected.max(), rel=1e-4)
    assert dist.quantiles[0.5] == pytest.approx(np.median(expected), rel=1e-4)
    assert set(dist.to_json()) == {"metric", "count", "min", "max", "quantiles", "bin_edges", "counts"}


def test_set_distribution_excludes_self_pairs():
    vectors = np.random.default_rng(4).normal(size=(50, 8)).astype(np.float32)
    dist = set_distribution(make_index(vectors), "cosine")
    assert dist.count == 50 * 49
    assert dist.maximum < 0.999  # a self pair would score exactly 1


def test_expansion_switch_changes_distributions_and_thresholds_memoised_separately():
    rng = np.random.default_rng(3)
    raw = rng.standard_normal((80, 8)).astype(np.float32)
    names = [f"{i:02d}.jpg" for i in range(80)]
    index = SetIndex("q", names, raw, "gap+l2+qe5")
    plain = SetIndex("q", names, raw, "gap+l2")
    on = default_threshold(index, "cosine")
    off = default_threshold(index, "cosine", expand=False)
    assert on != off
    assert off == default_threshold(plain, "cosine")
    thresholds = {k: v for k, v in index.memo.items() if k[0] == "default_threshold"}
    assert sorted(thresholds.values()) == sorted([on, off])
    assert default_threshold(index, "cosine", expand=False) == off
    assert default_threshold(index, "cosine") == on
    dist_off = key_distribution(index, raw[0], "cosine", exclude="00.jpg", expand=False)
    assert dist_off == key_distribution(plain, raw[0], "cosine", exclude="00.jpg")
    assert key_distribution(index, raw[0], "cosine", exclude="00.jpg") != dist_off
    assert set_distribution(index, "euclidean", expand=False) == set_distribution(plain, "euclidean")
