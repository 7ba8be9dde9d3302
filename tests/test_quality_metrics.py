"""P@k, AP and mAP against examples worked out by hand, and leave-one-out on points whose ranks are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simages.evaluation.leave_one_out import leave_one_out
from simages.evaluation.retrieval_metrics import (
    average_precision,
    mean_average_precision,
    precision_at_k,
    summarise,
)


def test_precision_at_k_counts_relevant_among_the_first_k() -> None:
    ranking = [True, False, True, True, False]
    assert precision_at_k(ranking, 1) == 1.0
    assert precision_at_k(ranking, 2) == 0.5
    assert precision_at_k(ranking, 3) == pytest.approx(2 / 3)
    assert precision_at_k(ranking, 5) == pytest.approx(3 / 5)
    # Fewer results than k: the missing ones are not relevant results.
    assert precision_at_k(ranking, 10) == pytest.approx(3 / 10)
    with pytest.raises(ValueError):
        precision_at_k(ranking, 0)


def test_average_precision_hand_worked() -> None:
    # Relevant at ranks 1, 3 and 6: (1/1 + 2/3 + 3/6) / 3.
    assert average_precision([True, False, True, False, False, True]) == pytest.approx((1 + 2 / 3 + 0.5) / 3)
    # A perfect ranking scores 1 whatever follows the relevant items.
    assert average_precision([True, True, False, False]) == 1.0
    # Relevant items only at the end.
    assert average_precision([False, False, True]) == pytest.approx(1 / 3)
    # A relevant item that was never retrieved still counts in the denominator.
    assert average_precision([True, False, True], total_relevant=4) == pytest.approx((1 + 2 / 3) / 4)
    assert math.isnan(average_precision([False, False]))


def test_mean_average_precision_skips_keys_without_relevant_items() -> None:
    assert mean_average_precision([[True, False], [False, True]]) == pytest.approx((1 + 0.5) / 2)
    assert mean_average_precision([[True, False], [False, False]]) == 1.0
    assert math.isnan(mean_average_precision([[False]]))


def test_vectorised_summary_agrees_with_the_scalar_definitions() -> None:
    rng = np.random.default_rng(3)
    relevant = rng.random((40, 30)) < 0.3
    relevant[0] = False  # a key with no relevant item is left out of every mean
    scores = summarise(relevant, ks=(1, 5, 10))
    counted = [row for row in relevant if row.any()]
    assert scores.keys == len(counted)
    assert scores.mean_ap == pytest.approx(mean_average_precision(counted))
    for k in (1, 5, 10):
        assert scores.precision[k] == pytest.approx(np.mean([precision_at_k(row, k) for row in counted]))


def test_leave_one_out_on_points_with_known_rankings() -> None:
    # On a line at 0, 1, 3, 7 with classes a, b, a, b every key's nearest neighbour is of the other class:
    # key 0 ranks (1, 3, 7) -> F T F, AP 1/2;  key 1 ranks (0, 3, 7) -> F F T, AP 1/3;
    # key 3 ranks (1, 0, 7) -> F T F, AP 1/2;  key 7 ranks (3, 1, 0) -> F T F, AP 1/2.
    vectors = np.array([[0.0], [1.0], [3.0], [7.0]], np.float32)
    scores = leave_one_out(vectors, ["a", "b", "a", "b"], "euclidean", ks=(1, 2))
    assert scores.precision[1] == 0.0
    assert scores.precision[2] == pytest.approx((0.5 + 0 + 0.5 + 0.5) / 4)
    assert scores.mean_ap == pytest.approx((0.5 + 1 / 3 + 0.5 + 0.5) / 4)


def test_leave_one_out_never_returns_the_key_itself() -> None:
    # Each key is its own nearest vector; were it counted, P@1 would be 1.
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]], np.float32)
    scores = leave_one_out(vectors, ["x", "y", "y", "x"], "cosine", ks=(1,))
    assert scores.precision[1] == 0.0


def test_cosine_ignores_length_but_euclidean_does_not() -> None:
    # Same directions per class, very different lengths: cosine is perfect, Euclidean groups by length.
    vectors = np.array([[1, 0], [50, 0], [0, 1], [0, 50]], np.float32)
    labels = ["a", "a", "b", "b"]
    assert leave_one_out(vectors, labels, "cosine").mean_ap == 1.0
    assert leave_one_out(vectors, labels, "euclidean").mean_ap < 1.0
