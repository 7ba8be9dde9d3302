from __future__ import annotations

import numpy as np
import pytest

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.nearest import QuerySpec, SetIndex, key_join, set_join
from simages.nearest.joins.join import block_rows_for, iter_set_join
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore

METRICS = ("cosine", "euclidean")


def reference(names, vectors, query, metric, predicate, param, exclude_row=None):
    """Brute force in float64 with Python sorting: [(name, score)] best first, ties by name."""
    v = np.asarray(vectors, np.float64)
    q = np.asarray(query, np.float64)
    if metric == "cosine":
        s = v @ q / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
        items = sorted(((names[i], s[i]) for i in range(len(v)) if i != exclude_row),
                       key=lambda t: (-t[1], t[0]))
        return items[:param] if predicate == "knn" else [t for t in items if t[1] >= param]
    s = np.linalg.norm(v - q, axis=1)
    items = sorted(((names[i], s[i]) for i in range(len(v)) if i != exclude_row), key=lambda t: (t[1], t[0]))
    return items[:param] if predicate == "knn" else [t for t in items if t[1] <= param]


def random_index(n: int = 200, d: int = 16, seed: int = 0, name: str = "s", descriptor: str = "gap+l2"):
    rng = np.random.default_rng(seed)
    names = [f"img_{i:04d}.jpg" for i in rng.permutation(n)]  # row order is not name order
    return SetIndex(name, names, rng.normal(size=(n, d)).astype(np.float32), descriptor)


def as_pairs(result):
    return [(m.image, m.score) for m in result.matches]


def assert_same(got, expected):
    assert [n for n, _ in got] == [n for n, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("k", [1, 7, 50])
def test_knn_matches_brute_force(metric, k):
    index = random_index()
    query = np.random.default_rng(9).normal(size=16).astype(np.float32)
    result = key_join(index, query, QuerySpec(metric, "knn", k))
    assert_same(as_pairs(result), reference(index.names, index.raw, query, metric, "knn", k))
    assert result.passed is None and result.total == 200


@pytest.mark.parametrize("metric", METRICS)
def test_range_matches_brute_force_and_counts_passing(metric):
    index = random_index()
    query = np.random.default_rng(3).normal(size=16).astype(np.float32)
    everything = reference(index.names, index.raw, query, metric, "knn", 200)
    # A threshold halfway between the 30th and 31st scores: exactly 30 pass, whatever the rounding.
    threshold = float((everything[29][1] + everything[30][1]) / 2)
    result = key_join(index, query, QuerySpec(metric, "range", threshold))
    assert_same(as_pairs(result), everything[:30])
    assert result.passed == 30


@pytest.mark.parametrize("metric", METRICS)
def test_range_limit_cuts_the_list_but_not_the_count(metric):
    index = random_index()
    query = index.raw[0]
    loose = 1.0 if metric == "euclidean" else -1.0
    spec = QuerySpec(metric, "range", 100.0 if metric == "euclidean" else loose)
    result = key_join(index, query, spec, limit=5)
    assert len(result.matches) == 5
    assert result.passed == 200


@pytest.mark.parametrize("metric", METRICS)
def test_ties_are_broken_by_image_name(metric):
    # Small integer vectors make tied scores exactly equal in float32; rows are stored out of name order.
    base = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]], np.float32)
    names = ["d.jpg", "b.jpg", "e.jpg", "a.jpg", "c.jpg", "f.jpg"]
    vectors = base[[0, 1, 0, 0, 1, 3]]  # d, e, a share a vector; b, c share another
    index = SetIndex("s", names, vectors, "gap")
    query = np.array([1, 0, 0], np.float32)
    top = key_join(index, query, QuerySpec(metric, "knn", 2))
    # Three images tie for the best score: the two alphabetically first win, in name order.
    assert [m.image for m in top.matches] == ["a.jpg", "d.jpg"]
    full = key_join(index, query, QuerySpec(metric, "knn", 6))
    assert [m.image for m in full.matches] == ["a.jpg", "d.jpg", "e.jpg", "b.jpg", "c.jpg", "f.jpg"]


@pytest.mark.parametrize("metric", METRICS)
def test_k_larger_than_the_set_returns_the_whole_set(metric):
    index = random_index(n=12)
    query = np.ones(16, np.float32)
    result = key_join(index, query, QuerySpec(metric, "knn", 1000))
    assert_same(as_pairs(result), reference(index.names, index.raw, query, metric, "knn", 1000))
    assert len(result.matches) == 12


def test_range_with_no_passing_image_is_empty():
    index = random_index()
    result = key_join(index, np.ones(16, np.float32), QuerySpec("cosine", "range", 1.0))
    assert result.matches == [] and result.passed == 0
    result = key_join(index, np.ones(16, np.float32) * 100, QuerySpec("euclidean", "range", 0.5))
    assert result.matches == [] and result.passed == 0


def test_empty_set_answers_nothing():
    index = SetIndex("empty", [], np.zeros((0, 16), np.float32), "gap")
    assert key_join(index, np.ones(16, np.float32), QuerySpec("cosine", "knn", 5)).matches == []
    assert set_join(index, index, QuerySpec("euclidean", "knn", 5)).groups == {}


@pytest.mark.parametrize("metric", METRICS)
def test_key_of_the_set_can_be_left_out(metric):
    index = random_index()
    image = index.names[5]
    result = key_join(index, index.raw_vector(image), QuerySpec(metric, "knn", 3), exclude=image)
    assert image not in [m.image for m in result.matches]
    with_self = key_join(index, index.raw_vector(image), QuerySpec(metric, "knn", 3))
    assert with_self.matches[0].image == image
    assert with_self.matches[0].score == pytest.approx(1.0 if metric == "cosine" else 0.0, abs=1e-5)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("predicate", ["knn", "range"])
def test_self_join_matches_brute_force_and_never_pairs_an_image_with_itself(metric, predicate):
    index = random_index(n=60, d=8)
    param = 4 if predicate == "knn" else (0.5 if metric == "cosine" else 3.0)
    result = set_join(index, index, QuerySpec(metric, predicate, param))
    assert list(result.groups) == sorted(index.names)
    for a, matches in result.groups.items():
        row = index.row_of(a)
        assert a not in [m.image for m in matches]
        expected = reference(index.names, index.raw, index.raw[row], metric, predicate, param, row)
        assert_same([(m.image, m.score) for m in matches], expected)


@pytest.mark.parametrize("metric", METRICS)
def test_self_join_pairs_identical_images_stored_under_different_names(metric):
    vectors = np.array([[1, 2, 3], [1, 2, 3], [3, 0, 1]], np.float32)
    index = SetIndex("s", ["copy.jpg", "original.jpg", "other.jpg"], vectors, "gap")
    result = set_join(index, index, QuerySpec(metric, "knn", 1))
    assert result.groups["copy.jpg"][0].image == "original.jpg"
    assert result.groups["original.jpg"][0].image == "copy.jpg"
    assert result.groups["copy.jpg"][0].score == pytest.approx(1.0 if metric == "cosine" else 0.0, abs=1e-6)


@pytest.mark.parametrize("metric", METRICS)
def test_self_join_with_k_beyond_the_set_returns_every_other_image(metric):
    index = random_index(n=9)
    result = set_join(index, index, QuerySpec(metric, "knn", 50))
    assert all(len(matches) == 8 for matches in result.groups.values())


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("predicate", ["knn", "range"])
def test_blocked_join_equals_unblocked_join(metric, predicate):
    a, b = random_index(n=53, seed=1, name="a"), random_index(n=71, seed=2, name="b")
    param = 5 if predicate == "knn" else (0.3 if metric == "cosine" else 5.0)
    spec = QuerySpec(metric, predicate, param)
    whole = set_join(a, b, spec, block_rows=10_000)
    for rows in (1, 7, 52):
        assert set_join(a, b, spec, block_rows=rows).groups == whole.groups
    # And each group is what a key query of that image would answer.
    for image, matches in whole.groups.items():
        assert key_join(b, a.raw_vector(image), spec).matches == matches


def test_block_size_keeps_a_score_block_near_64_mb():
    rows = block_rows_for(100_000)
    assert rows * 100_000 * 4 <= 64 * 1024 * 1024 < (rows + 1) * 100_000 * 4
    assert block_rows_for(10) > 1_000_000 and block_rows_for(0) >= 1


def test_join_of_sets_with_different_dimensions_is_refused():
    with pytest.raises(ValueError, match="different descriptors"):
        list(iter_set_join(random_index(d=16), random_index(d=8, name="t"), QuerySpec("cosine", "knn", 1)))


def whitened_index(n: int, d: int, seed: int, name: str) -> SetIndex:
    rng = np.random.default_rng(seed)
    # Correlated, uncentred features, like pooled ReLU activations.
    raw = np.abs(rng.normal(size=(n, d)) @ rng.normal(size=(d, d))).astype(np.float32)
    store = FeatureStore([f"{i}.jpg" for i in range(n)], [Fingerprint(1, 1)] * n, raw,
                         {"descriptor": "gap+l2+whiten"})
    return SetIndex.from_store(name, store)


def test_whitening_is_learned_on_the_set_and_applied_to_outside_keys():
    index = whitened_index(400, 12, seed=4, name="w")
    assert index.whitening is not None
    np.testing.assert_allclose(np.linalg.norm(index.vectors, axis=1), 1.0, rtol=1e-5)
    # Whitened (before re-normalisation) coordinates are decorrelated: the set's covariance is diagonal
    # (not the identity: the whitening is shrunk towards PCA, see extraction/postprocess.py).
    cov = np.cov(index.whitening.project(index.raw).T)
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0.0, atol=1e-3)
    # A key taken from the set is projected onto exactly its stored join vector: it finds itself first.
    result = key_join(index, index.raw_vector("7.jpg"), QuerySpec("cosine", "knn", 1))
    assert result.matches[0].image == "7.jpg" and result.matches[0].score == pytest.approx(1.0, abs=1e-5)
    # Another set joined against it is mapped with the searched set's transform.
    other = whitened_index(30, 12, seed=5, name="o")
    joined = set_join(other, index, QuerySpec("euclidean", "knn", 3))
    for image, matches in joined.groups.items():
        assert key_join(index, other.raw_vector(image), QuerySpec("euclidean", "knn", 3)).matches == matches


def test_whitening_a_set_smaller_than_its_dimension_still_ranks():
    index = whitened_index(10, 32, seed=6, name="small")
    result = key_join(index, index.raw_vector("3.jpg"), QuerySpec("cosine", "knn", 10))
    assert result.matches[0].image == "3.jpg" and len(result.matches) == 10


def test_zero_vector_scores_zero_cosine_instead_of_nan():
    index = SetIndex("s", ["blank.jpg", "x.jpg"], np.array([[0, 0], [1, 0]], np.float32), "gap")
    result = key_join(index, np.array([1, 0], np.float32), QuerySpec("cosine", "knn", 2))
    assert [(m.image, m.score) for m in result.matches] == [("x.jpg", 1.0), ("blank.jpg", 0.0)]


def test_results_serialise_to_the_documented_json():
    index = random_index(n=5)
    result = key_join(index, index.raw[0], QuerySpec("cosine", "range", -1.0), key="s/x.jpg")
    data = result.to_json()
    assert set(data) == {"key", "set", "metric", "predicate", "param", "expansion", "search", "results",
                         "passed"}
    assert data["search"] == "exact"  # range queries never use an ANN index
    assert data["passed"] == 5 and set(data["results"][0]) == {"image", "score"}
    assert data["expansion"] == 0  # gap+l2 has no query expansion
    knn = key_join(index, index.raw[0], QuerySpec("cosine", "knn", 2)).to_json()
    assert "passed" not in knn and len(knn["results"]) == 2


def test_query_expansion_scores_each_image_by_the_better_of_key_and_expanded_key():
    from simages.extraction.postprocess import average_query_expansion

    rng = np.random.default_rng(11)
    raw = rng.standard_normal((50, 8)).astype(np.float32)
    names = [f"{i:02d}.jpg" for i in range(50)]
    index = SetIndex("q", names, raw, "gap+l2+qe3")
    assert index.expansion == 3
    spec = QuerySpec("cosine", "knn", 5)
    result = key_join(index, raw[7], spec, exclude="07.jpg")
    expanded = average_query_expansion(index.vectors[[7]], index.vectors, 3, np.array([7]))[0]
    unit = index.vectors / np.linalg.norm(index.vectors, axis=1, keepdims=True)
    sims = np.maximum(unit @ expanded / np.linalg.norm(expanded), unit @ unit[7])
    sims[7] = -np.inf
    expected = [names[i] for i in np.argsort(-sims, kind="stable")[:5]]
    assert [m.image for m in result.matches] == expected
    assert [m.score for m in result.matches] == pytest.approx(np.sort(sims)[::-1][:5], abs=1e-6)
    # Expansion alone would rank differently here: the key's own nearest images keep their own scores.
    only_expanded = unit @ expanded / np.linalg.norm(expanded)
    only_expanded[7] = -np.inf
    assert expected != [names[i] for i in np.argsort(-only_expanded, kind="stable")[:5]]
    # The self-join expands every key the same way, so it agrees with the key joins.
    joined = set_join(index, index, spec)
    assert joined.groups["07.jpg"] == result.matches


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("predicate,param", [("knn", 7), ("range", 0.2)])
def test_expansion_switched_off_equals_the_descriptor_without_qe(metric, predicate, param):
    rng = np.random.default_rng(5)
    raw = rng.standard_normal((60, 8)).astype(np.float32)
    names = [f"{i:02d}.jpg" for i in range(60)]
    with_qe = SetIndex("q", names, raw, "gap+l2+qe4")
    without = SetIndex("q", names, raw, "gap+l2")
    if predicate == "range" and metric == "euclidean":
        param = 2.0  # raw 8-d vectors: distances around 4
    on, off = QuerySpec(metric, predicate, param), QuerySpec(metric, predicate, param, expand=False)
    assert QuerySpec(metric, predicate, param) == QuerySpec(metric, predicate, param, True)  # positional
    plain = key_join(without, raw[3], on, exclude="03.jpg")
    got = key_join(with_qe, raw[3], off, exclude="03.jpg")
    assert got.matches == plain.matches and got.passed == plain.passed
    assert got.expansion == 0 and key_join(with_qe, raw[3], on, exclude="03.jpg").expansion == 4
    assert key_join(with_qe, raw[3], on, exclude="03.jpg").matches != plain.matches
    assert set_join(with_qe, with_qe, off).groups == set_join(without, without, on).groups
    assert set_join(with_qe, with_qe, off).to_json()["expansion"] == 0
    assert set_join(with_qe, with_qe, on).to_json()["expansion"] == 4
    outside = SetIndex("o", ["a.jpg", "b.jpg"], raw[:2] + 0.1, "gap+l2+qe4")
    assert dict(iter_set_join(outside, with_qe, off)) == dict(iter_set_join(outside, without, on))


def test_an_exact_copy_scores_one_with_and_without_expansion():
    rng = np.random.default_rng(2)
    raw = rng.standard_normal((30, 8)).astype(np.float32)
    index = SetIndex("q", [f"{i:02d}.jpg" for i in range(30)], raw, "gap+l2+qe5")
    expanded = key_join(index, raw[4], QuerySpec("cosine", "knn", 2))
    plain = key_join(index, raw[4], QuerySpec("cosine", "knn", 2, expand=False))
    assert plain.matches[0].image == "04.jpg" and plain.matches[0].score == pytest.approx(1.0, abs=1e-6)
    assert expanded.matches[0].image == "04.jpg" and expanded.matches[0].score == pytest.approx(1.0, abs=1e-6)
    # The second image is scored from the expanded key too: expansion never lowers a score.
    assert expanded.matches[1].score >= plain.matches[1].score - 1e-6


def test_query_spec_describes_and_parses_the_expansion_switch():
    assert QuerySpec("cosine", "knn", 5, expand=False).describe() == (
        "5 nearest by cosine similarity, without query expansion")
    assert QuerySpec.parse("cosine", "knn", "5", "0").expand is False
    assert QuerySpec.parse("cosine", "knn", "5").expand is True
    with pytest.raises(ValueError, match="query expansion must be on"):
        QuerySpec.parse("cosine", "knn", "5", "maybe")
    with pytest.raises(ValueError):
        QuerySpec("cosine", "knn", 5, "no")  # type: ignore[arg-type]


def test_small_sets_are_searched_without_what_they_are_too_small_to_learn():
    from simages.nearest.core.set_index import applicable_spec

    default = DescriptorSpec.parse("gap+l2+pca128+qe10")
    assert applicable_spec(default, 1000, 512).key() == "gap+l2+pca128+qe10"
    assert applicable_spec(default, 100, 512).key() == "gap+l2+qe10"  # PCA needs 256 images
    assert applicable_spec(default, 10, 512).key() == "gap+l2"  # and expansion 50
    rng = np.random.default_rng(2)
    raw = np.abs(rng.standard_normal((10, 512))).astype(np.float32)
    store = FeatureStore([f"{i}.jpg" for i in range(10)], [Fingerprint(1, 1)] * 10, raw,
                         {"descriptor": "gap+l2", "descriptor_spec": "gap+l2+pca128+qe10"})
    index = SetIndex.from_store("tiny", store)
    assert index.descriptor == "gap+l2+pca128+qe10" and index.applied == "gap+l2"
    assert index.whitening is None and index.expansion == 0
    # Plain cosine on the stored vectors: an image's own copy would score exactly 1.
    result = key_join(index, raw[3], QuerySpec("cosine", "knn", 1))
    assert result.matches[0].image == "3.jpg" and result.matches[0].score == pytest.approx(1.0, abs=1e-6)
