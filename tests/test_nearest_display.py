"""What is shown is what is compared: a threshold typed from any shown score keeps that image."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simages.nearest import QuerySpec, SetIndex, key_join
from simages.nearest.core.display import format_score, format_score_short, passes, shown_value


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_a_threshold_equal_to_any_shown_score_keeps_that_image(metric):
    rng = np.random.default_rng(0)
    raw = rng.standard_normal((300, 16)).astype(np.float32)
    index = SetIndex("s", [f"{i:03d}.jpg" for i in range(300)], raw, "gap")
    key = rng.standard_normal(16).astype(np.float32)
    ranked = key_join(index, key, QuerySpec(metric, "knn", 300)).matches
    for rank, match in enumerate(ranked[:60]):
        for text in (format_score(match.score, metric), format_score_short(match.score, metric),
                     json.dumps(match.to_json()["score"])):
            threshold = float(text.replace(",", ""))
            result = key_join(index, key, QuerySpec.parse(metric, "range", threshold))
            assert match.image in [m.image for m in result.matches], (rank, text, match.score)
            assert result.passed >= rank + 1


def test_similarities_are_shown_rounded_down_and_distances_up():
    assert format_score(0.8691716, "cosine") == "0.869171"
    assert format_score(0.8691716, "euclidean") == "0.869172"
    assert format_score_short(0.8699, "cosine") == "0.869"
    assert format_score_short(12.41, "euclidean") == "12.5"
    assert format_score_short(1234.2, "euclidean") == "1,235"
    assert format_score(1.0, "cosine") == "1.000000" and format_score(0.0, "euclidean") == "0.000000"
    assert format_score(-1e-9, "euclidean") == "0.000000"  # never "-0.000000"


def test_passes_compares_exactly():
    scores = np.array([0.5, 0.7, 0.9], np.float32)
    assert passes(scores, float(scores[1]), "cosine").tolist() == [False, True, True]
    assert passes(scores, float(scores[1]), "euclidean").tolist() == [True, True, False]
    assert passes(0.7, 0.7, "cosine") and not passes(0.7, 0.69, "euclidean")
    with pytest.raises(ValueError):
        shown_value(float("nan"), "cosine")
