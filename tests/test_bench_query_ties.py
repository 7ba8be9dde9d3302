"""`simages bench query` compares answers up to near-ties, and still catches a wrong answer."""

from __future__ import annotations

import numpy as np

from simages.bench.query_bench import same_answers


def test_a_near_tie_in_another_order_agrees_and_a_wrong_image_does_not():
    key = np.array([1.0, 0.0, 0.0], np.float32)
    vectors = np.array([[1, 0.5, 0], [1, 0, 0.5 + 1e-7], [0, 1, 0], [1, 0.1, 0]], np.float32)
    names = ["a", "b", "c", "d"]
    # a and b score the same to 1e-7: float32 rounding decides their order, either order is right
    assert same_answers(names, vectors, key, ["d", "a", "b"], ["d", "b", "a"])
    assert not same_answers(names, vectors, key, ["d", "a", "c"], ["d", "a", "b"])
    assert not same_answers(names, vectors, key, ["d", "a"], ["d", "a", "b"])
