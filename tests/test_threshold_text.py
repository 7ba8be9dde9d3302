"""What is shown is what is compared, for thresholds: a threshold made from a score keeps that score
(review finding 1), and a threshold is printed exactly as it was entered (finding 2)."""

from __future__ import annotations

import types

import numpy as np
import pytest

from simages.gui.join.views import summary_text as join_summary
from simages.gui.pages.results import summary_text as results_summary
from simages.gui.widgets.controls import QueryControls
from simages.gui.widgets.histogram import marker_for, set_range_threshold
from simages.nearest import QuerySpec, SetIndex
from simages.nearest.core.display import format_threshold, passes, threshold_from_score
from simages.nearest.core.distribution import default_threshold, key_threshold
from simages.nearest.core.results import KeyResult
from simages.nearest.joins.distribution import join_threshold
from simages.nearest.joins.join import iter_set_join
from simages.nearest.joins.pairs import JoinPair, JoinPairs


def scores_of_every_size(metric: str) -> np.ndarray:
    rng = np.random.default_rng(7)
    values = rng.uniform(-1, 1, 3000) if metric == "cosine" else np.exp(rng.uniform(-6, 9, 3000))
    # Scores as joins compute them (float32), and values that already are thresholds (0.988, 0.7).
    grid = np.round(rng.uniform(-1 if metric == "cosine" else 0, 1, 500), 3)
    return np.concatenate([values.astype(np.float32).astype(np.float64), grid, [0.988844, 0.7, 0.9]])


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_a_threshold_made_from_any_score_keeps_it_and_is_as_tight_as_shown(metric):
    for score in scores_of_every_size(metric):
        text = threshold_from_score(score, metric)
        assert passes(score, float(text), metric), (score, text)
        assert passes(np.float32(score), float(text), metric) or np.float32(score) != score
        # Written again, a threshold stays the same: a click on 0.988 or a suggestion of 0.988 is 0.988.
        assert threshold_from_score(float(text), metric) == text, (score, text)
        # At most one step from the score: the nearest shown value or the next one toward the cut-off.
        decimals = len(text.partition(".")[2])
        assert abs(float(text) - score) <= 10.0 ** -decimals + 1e-12


def test_the_demo_pair_is_kept_by_its_own_threshold():
    assert threshold_from_score(0.988844, "cosine") == "0.988"
    assert threshold_from_score(0.4123401, "euclidean") == "0.4124"
    assert threshold_from_score(12.344, "euclidean") == "12.35"


def test_a_threshold_is_printed_as_entered():
    for typed in ("0.7", "0.9", "0.988", "0.9885", "12.35", "-0.25", "1.0", "0.00001"):
        assert format_threshold(float(typed)) == typed
    assert format_threshold(0.7) != "0.699"


def fake_controls(metric: str, suggestion: float) -> QueryControls:
    """A settings panel without a page: only what suggestions and the histogram pick read."""
    controls = QueryControls.__new__(QueryControls)
    controls.default_threshold = lambda _metric, _expand: suggestion
    controls.metric = types.SimpleNamespace(value=metric)
    controls.predicate = types.SimpleNamespace(value="range")
    controls.param = types.SimpleNamespace(value="")
    controls._initial_expand = True
    return controls


@pytest.mark.parametrize("metric,score", [("cosine", 0.988844), ("cosine", 0.70000005),
                                          ("euclidean", 12.3441), ("euclidean", 0.41234)])
def test_every_place_a_score_becomes_a_threshold_keeps_that_score(metric, score):
    controls = fake_controls(metric, score)
    # The suggestion in the field, the default an empty field stands for, a click on the histogram.
    for text in (controls._suggested(True), controls.effective_param(metric, "range", "", True),
                 set_range_threshold(controls, score)):
        assert passes(score, float(text), metric), text
    # The line on the histogram names the threshold exactly.
    assert marker_for(metric, "range", 0.7, None)[1].endswith(" 0.7")


def demo_like_index(name: str, n: int = 10, near: float = 0.988844, seed: int = 0) -> SetIndex:
    """n unit vectors, two of which (000, 001) have cosine `near`; the others far apart."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, 64))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    other = vectors[1] - (vectors[1] @ vectors[0]) * vectors[0]
    other /= np.linalg.norm(other)
    vectors[1] = near * vectors[0] + np.sqrt(1 - near**2) * other
    return SetIndex(name, [f"{i:03d}.jpg" for i in range(n)], vectors.astype(np.float32), "gap+l2")


def passing(a: SetIndex, b: SetIndex, metric: str, threshold: str) -> int:
    spec = QuerySpec.parse(metric, "range", threshold, expand=False)
    return sum(len(matches) for _, matches in iter_set_join(a, b, spec))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_the_suggested_threshold_lets_through_the_pairs_it_was_computed_from(metric):
    index = demo_like_index("demo")
    text = threshold_from_score(join_threshold(index, [index], metric, expand=False), metric)
    assert passing(index, index, metric, text) >= 1  # the near-duplicate pair, both directions
    text = threshold_from_score(default_threshold(index, metric, expand=False), metric)
    assert passing(index, index, metric, text) >= 1
    key = index.raw_vector("000.jpg")
    text = threshold_from_score(key_threshold(index, key, metric, "000.jpg", expand=False), metric)
    assert passing(SetIndex("k", ["000.jpg"], key[None, :], "gap+l2"), index, metric, text) >= 1


def test_a_new_folder_against_a_collection_gets_a_threshold_from_their_own_pairs():
    rng = np.random.default_rng(1)
    centre = rng.standard_normal(64)
    # A collection of photos much alike (one class), a new folder of other photos.
    collection = SetIndex("collection", [f"c{i:02d}.jpg" for i in range(40)],
                          (centre + 0.3 * rng.standard_normal((40, 64))).astype(np.float32), "gap+l2")
    folder = SetIndex("folder", [f"f{i}.jpg" for i in range(7)],
                      rng.standard_normal((7, 64)).astype(np.float32), "gap+l2")
    from_collection = threshold_from_score(default_threshold(collection, "cosine", expand=False), "cosine")
    assert passing(folder, collection, "cosine", from_collection) == 0  # the old suggestion: 0 pairs
    text = threshold_from_score(join_threshold(folder, [collection], "cosine", expand=False), "cosine")
    assert 1 <= passing(folder, collection, "cosine", text) <= 0.05 * len(folder) * len(collection)


def test_headlines_print_the_threshold_entered():
    result = KeyResult("cats/chelsea.jpg", "demo", "cosine", "range", 0.7, [], 1, 10)
    assert "similarity ≥ 0.7" in results_summary(result) and "0.699" not in results_summary(result)
    result = KeyResult("cats/chelsea.jpg", "demo", "euclidean", "range", 0.9, [], 1, 10)
    assert "distance ≤ 0.9" in results_summary(result) and "0.901" not in results_summary(result)
    pairs = JoinPairs("demo", ("other",), True, ["x.jpg"], [JoinPair("x.jpg", "other", "y.jpg", 0.99)], 1, 10)
    assert join_summary(pairs, QuerySpec.parse("cosine", "range", "0.9885")).endswith("≥ 0.9885")
