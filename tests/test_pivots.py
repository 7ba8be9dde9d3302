"""The pivot table (LAESA) answers exactly what brute force answers, and reports what it cost."""

from __future__ import annotations

import numpy as np
import pytest

from simages.nearest import DescriptorCache, QuerySpec, SetIndex, key_join
from simages.nearest.joins.join import iter_set_join
from simages.nearest.pivots.store import load_table, pivot_index, pivot_path
from simages.nearest.pivots.table import PivotIndex, select_pivots
from simages.nearest.teaching.intrinsic_dim import intrinsic_dimensionality
from simages.nearest.teaching.query_cost import IndexChoice, explained_key_join, explained_set_join
from simages.nearest.teaching.reduced import reduced_index
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, empty_store, save_store

METRICS = ("cosine", "euclidean")


def as_pairs(result):
    return [(m.image, m.score) for m in result.matches]


def tied_index(n: int = 150, d: int = 12, seed: int = 0, descriptor: str = "gap+l2") -> SetIndex:
    """Random vectors with many exact ties: duplicated rows, and small-integer vectors whose distances
    repeat; names in an order unrelated to the rows."""
    rng = np.random.default_rng(seed)
    vectors = rng.integers(-2, 3, size=(n, d)).astype(np.float32)
    vectors[n // 2 : n // 2 + 20] = vectors[:20]  # exact duplicates under other names
    vectors[-5:] = 0.0  # zero rows: cosine 0 with everything
    names = [f"img_{i:04d}.jpg" for i in rng.permutation(n)]
    return SetIndex("tied", names, vectors, descriptor)


def gaussian_index(n: int = 300, d: int = 24, seed: int = 1, descriptor: str = "gap+l2") -> SetIndex:
    rng = np.random.default_rng(seed)
    names = [f"g_{i:04d}.jpg" for i in rng.permutation(n)]
    return SetIndex("gauss", names, rng.normal(size=(n, d)).astype(np.float32), descriptor)


def specs_for(index: SetIndex, metric: str) -> list[QuerySpec]:
    n = len(index)
    out = [QuerySpec(metric, "knn", k) for k in (1, 3, 10, n - 1, n, n + 7)]
    if metric == "cosine":
        out += [QuerySpec(metric, "range", t) for t in (1.0, 0.9, 0.5, 0.0, -1.0)]
    else:
        out += [QuerySpec(metric, "range", t) for t in (0.0, 1.0, 2.5, 4.0, 1e6)]
    return out


@pytest.mark.parametrize("make", [tied_index, gaussian_index])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("pivots", [1, 4, 16])
def test_key_queries_match_brute_force_to_the_bit(make, metric, pivots):
    index = make()
    pivot = pivot_index(index, metric, pivots)
    rng = np.random.default_rng(5)
    keys = [(index.names[r], index.raw[r]) for r in rng.choice(len(index), 6, replace=False)]
    keys.append(("outside", rng.normal(size=index.dimension).astype(np.float32)))
    keys.append(("zero", np.zeros(index.dimension, np.float32)))
    for spec in specs_for(index, metric):
        for name, vector in keys:
            exclude = name if name in index else None
            brute = key_join(index, vector, spec, exclude=exclude)
            choice = IndexChoice("pivots", pivots)
            got, cost = explained_key_join(index, vector, spec, choice, exclude=exclude)
            assert as_pairs(got) == as_pairs(brute), (spec, name)
            assert got.passed == brute.passed and got.total == brute.total
            # The key never serves as its own pivot: brute force leaves it out, and so does the table.
            own_pivot = exclude is not None and index.row_of(name) in pivot.table.rows
            assert cost.pivots == pivot.pivots - own_pivot
            assert cost.total == len(index) - (exclude is not None) == got.total
            assert cost.pivots <= cost.computed <= cost.total


def test_an_empty_range_and_k_above_the_set_size():
    index = gaussian_index(n=40)
    key = index.names[0]
    empty, cost = explained_key_join(index, index.raw_vector(key), QuerySpec("euclidean", "range", 0.0),
                                     IndexChoice("pivots", 8), exclude=key)
    assert empty.matches == [] and empty.passed == 0
    assert cost.computed < cost.total  # a threshold of 0 rules almost everything out
    everything, cost = explained_key_join(index, index.raw_vector(key), QuerySpec("cosine", "knn", 100),
                                          IndexChoice("pivots", 8), exclude=key)
    assert len(everything.matches) == 39 and key not in {m.image for m in everything.matches}
    assert cost.computed == cost.total == 39  # fewer images than k: every distance is needed


def test_brute_force_reports_every_distance_computed():
    index = gaussian_index(n=50)
    _, cost = explained_key_join(index, index.raw[0], QuerySpec("cosine", "knn", 5), IndexChoice())
    assert (cost.computed, cost.total, cost.pivots, cost.pruned) == (50, 50, 0, 0)
    _, cost = explained_key_join(index, index.raw[0], QuerySpec("cosine", "knn", 5), IndexChoice(),
                                 exclude=index.names[0])
    assert (cost.computed, cost.total) == (49, 49)  # the key itself is not searched
    assert set(cost.to_json()) >= {"computed", "total", "pivots", "ms"}


def line_index() -> SetIndex:
    """Ten points 0, 1, ..., 9 on a line (2-d vectors [x, 0]), named p0..p9."""
    vectors = np.array([[x, 0.0] for x in range(10)], np.float32)
    return SetIndex("line", [f"p{x}" for x in range(10)], vectors, "")


def test_cost_counts_on_a_hand_made_example():
    index = line_index()
    pivot = pivot_index(index, "euclidean", 2)
    # Farthest-first: p0 and p9 are both farthest from the centroid 4.5 (p0 wins by name), then p9.
    assert pivot.table.rows.tolist() == [0, 9]
    key = np.array([3.2, 0.0], np.float32)
    # Pivots: d(q, p0) = 3.2, d(q, p9) = 5.8, so LB(x) = |3.2 - x|. 1-NN visits p3 (LB 0.2, d 0.2) and
    # stops at p4 (LB 0.8 > 0.2): 2 pivot distances + 1 = 3 computed, 7 pruned.
    result, cost = explained_key_join(index, key, QuerySpec("euclidean", "knn", 1), IndexChoice("pivots", 2))
    assert [m.image for m in result.matches] == ["p3"]
    assert (cost.computed, cost.total, cost.pruned, cost.pivots) == (3, 10, 7, 2)
    # 3-NN: p3, p4, p2 (d 1.2), then p5 (LB 1.8 > 1.2) stops the visit: 2 + 3 = 5 computed.
    result, cost = explained_key_join(index, key, QuerySpec("euclidean", "knn", 3), IndexChoice("pivots", 2))
    assert [m.image for m in result.matches] == ["p3", "p4", "p2"]
    assert cost.computed == 5
    # Range 1.0: only p3 and p4 have LB <= 1; with the pivots that is 4 computed.
    result, cost = explained_key_join(index, key, QuerySpec("euclidean", "range", 1.0),
                                      IndexChoice("pivots", 2))
    assert [m.image for m in result.matches] == ["p3", "p4"]
    assert cost.computed == 4
    found = pivot.search(key, QuerySpec("euclidean", "knn", 1))
    assert np.allclose(found.lower_bounds, np.abs(3.2 - np.arange(10)), atol=1e-5)
    assert found.verified.tolist() == [True, False, False, True, False, False, False, False, False, True]


def test_lower_bounds_never_exceed_true_distances_and_pruned_images_are_beyond_the_cutoff():
    index = gaussian_index()
    pivot = pivot_index(index, "euclidean", 8)
    query = index.vectors[3]
    found = pivot.search(query, QuerySpec("euclidean", "knn", 10), exclude_row=3)
    true = np.linalg.norm(index.vectors.astype(np.float64) - query, axis=1)
    others = np.arange(len(index)) != 3
    assert np.all(found.lower_bounds[others] <= true[others] + 1e-5)
    assert np.all(found.lower_bounds[~found.verified & others] > found.cutoff)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("predicate,param", [("knn", 4), ("range", 0.6)])
def test_set_joins_match_brute_force(metric, predicate, param):
    a = tied_index(n=60, seed=3)
    b = gaussian_index(n=90, d=12, seed=4)
    if metric == "euclidean" and predicate == "range":
        param = 4.0
    spec = QuerySpec(metric, predicate, param)
    for left, right in ((a, a), (b, b), (a, b)):
        groups, tally = explained_set_join(left, right, spec, IndexChoice("pivots", 6))
        got = {k: [(m.image, m.score) for m in v] for k, v in groups}
        expected = {k: [(m.image, m.score) for m in v] for k, v in iter_set_join(left, right, spec)}
        assert list(got) == list(expected) and got == expected
        assert tally.cost.total == len(left) * (len(right) - (left is right))
        assert 0 < tally.cost.computed <= tally.cost.total


def test_query_expansion_is_counted_apart_and_answers_still_match():
    """With a `qe` descriptor an image scores the better of the key's own score and its expanded key's
    (simages.nearest.core.query_rows): an exact copy of the key scores 1 and ranks first, which the expanded
    key alone would not give. The table must bound both forms."""
    rng = np.random.default_rng(8)
    vectors = rng.normal(size=(120, 12)).astype(np.float32)
    vectors[100] = vectors[7]  # an exact copy under another name
    names = [f"q_{i:03d}.jpg" for i in rng.permutation(120)]
    index = SetIndex("qe", names, vectors, "gap+l2+qe5")
    copy_name = names[100]
    for spec in (QuerySpec("cosine", "knn", 8), QuerySpec("euclidean", "knn", 8),
                 QuerySpec("cosine", "range", 0.6), QuerySpec("euclidean", "range", 3.0)):
        for row in (7, 3, 50, 100):
            key = names[row]
            brute = key_join(index, index.raw_vector(key), spec, exclude=key)
            got, cost = explained_key_join(index, index.raw_vector(key), spec, IndexChoice("pivots", 8),
                                           exclude=key)
            assert as_pairs(got) == as_pairs(brute) and got.expansion == 5, (spec, key)
            assert cost.expansion == len(index)
    top = key_join(index, index.raw_vector(names[7]), QuerySpec("cosine", "knn", 1), exclude=names[7])
    assert top.matches[0].image == copy_name  # the plain form matters here


def test_a_key_that_is_a_pivot_does_not_serve_as_one():
    index = line_index()
    pivot = pivot_index(index, "euclidean", 2)
    found = pivot.search(index.vectors[0], QuerySpec("euclidean", "knn", 1), exclude_row=0)
    assert found.pivots == 1 and found.rows.tolist() == [1]
    assert found.computed + found.pruned == 9 and not found.verified[0]


def test_pivots_prune_more_in_low_dimension():
    """The lesson itself: the same set, 4 dimensions vs 128, computes far fewer distances."""
    rng = np.random.default_rng(0)
    low = SetIndex("low", [f"x{i}" for i in range(400)], rng.normal(size=(400, 4)).astype(np.float32), "")
    high = SetIndex("high", [f"x{i}" for i in range(400)], rng.normal(size=(400, 128)).astype(np.float32), "")
    shares = []
    for index in (low, high):
        pivot = pivot_index(index, "euclidean", 16)
        computed = [pivot.search(index.vectors[r], QuerySpec("euclidean", "knn", 10), r).computed
                    for r in range(0, 400, 20)]
        shares.append(np.mean(computed) / 400)
    assert shares[0] < 0.3 and shares[1] > 0.7
    assert intrinsic_dimensionality(low.vectors).rho < intrinsic_dimensionality(high.vectors).rho


def test_farthest_first_is_incremental_and_stops_on_duplicates():
    index = tied_index()
    points = index.vectors
    eight = select_pivots(points, 8, index.name_rank, "euclidean")
    three = select_pivots(points, 3, index.name_rank, "euclidean")
    extended = select_pivots(points, 8, index.name_rank, "euclidean", start=three)
    assert eight.rows.tolist()[:3] == three.rows.tolist() and extended.rows.tolist() == eight.rows.tolist()
    same = SetIndex("same", ["a", "b", "c"], np.ones((3, 4), np.float32), "")
    table = select_pivots(same.vectors, 3, same.name_rank, "euclidean")
    assert table.count == 1 and table.exhausted


def test_a_table_that_does_not_fit_the_set_is_refused():
    index = line_index()
    other = select_pivots(np.zeros((4, 2), np.float32), 2, np.arange(4), "euclidean")
    with pytest.raises(ValueError, match="does not fit"):
        PivotIndex(index, other)


def test_index_choice_parsing():
    assert IndexChoice.parse("pivots:64") == IndexChoice("pivots", 64)
    assert IndexChoice.parse("brute").kind == "brute"
    for bad in ("pivot", "pivots:0", "pivots:x", "brute:3", "faiss"):
        with pytest.raises(ValueError, match="pivots"):
            IndexChoice.parse(bad)


def write_store(settings, name, names, vectors):
    store = FeatureStore(names=list(names), fingerprints=[Fingerprint(1, 1)] * len(names),
                         vectors=vectors, meta=empty_store({"descriptor": "gap+l2"}, vectors.shape[1]).meta)
    save_store(settings.store_path(name), store)
    (settings.image_sets / name).mkdir(parents=True, exist_ok=True)  # a store is served only with its set


def test_pivot_table_is_kept_beside_the_store_and_rebuilt_when_it_changes(settings):
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    names = [f"i{k:02d}.jpg" for k in range(50)]
    write_store(settings, "s", names, vectors)
    cache = DescriptorCache()
    first = cache.get(settings, "s")
    pivot_index(first, "cosine", 6, settings)
    path = pivot_path(settings, "s", "cosine")
    assert path.is_file() and load_table(path, first, "cosine").count == 6
    # A new process reads it instead of choosing pivots again (same rows).
    again = DescriptorCache().get(settings, "s")
    assert load_table(path, again, "cosine") is not None

    added = np.vstack([vectors, rng.normal(size=(1, 8)).astype(np.float32)])
    write_store(settings, "s", [*names, "new.jpg"], added)
    second = cache.get(settings, "s")
    assert load_table(path, second, "cosine") is None  # stale: built from the old store
    pivot = pivot_index(second, "cosine", 6, settings)
    assert pivot.table.distances.shape == (51, 6)
    assert load_table(path, second, "cosine").distances.shape == (51, 6)
    key = second.raw_vector("new.jpg")
    spec = QuerySpec("cosine", "knn", 51)
    got, _ = explained_key_join(second, key, spec, IndexChoice("pivots", 6), settings=settings)
    assert as_pairs(got) == as_pairs(key_join(second, key, spec))

    path.write_bytes(b"not a table")  # a damaged file is rebuilt, never an error
    third = DescriptorCache().get(settings, "s")
    assert pivot_index(third, "cosine", 6, settings).table.count == 6
    assert load_table(path, third, "cosine") is not None


def test_reduced_index_keeps_answers_exact_and_has_the_asked_dimension():
    index = gaussian_index(n=200, d=24, descriptor="gap+l2+qe5")
    small = reduced_index(index, 4)
    assert small.vectors.shape == (200, 4) and small.expansion == 0
    key = small.names[0]
    spec = QuerySpec("euclidean", "knn", 10)
    got, cost = explained_key_join(small, small.raw_vector(key), spec, IndexChoice("pivots", 8), exclude=key)
    assert as_pairs(got) == as_pairs(key_join(small, small.raw_vector(key), spec, exclude=key))
    assert cost.computed < 0.5 * cost.total


def test_a_cost_answered_by_an_approximate_index_counts_nothing_and_says_so():
    from simages.nearest.teaching.query_cost import QueryCost

    cost = QueryCost(None, 100_000, 0, 1.5, 0, "hnsw")
    assert cost.pruned is None and cost.to_json()["approximate"] == "hnsw"
    assert cost.to_json()["computed"] is None and "does not count" in cost.describe()
    assert IndexChoice.parse("brute") != IndexChoice() and IndexChoice().kind == "default"


@pytest.mark.parametrize("metric", METRICS)
def test_set_joins_with_query_expansion_match_brute_force(metric):
    a = gaussian_index(n=70, d=10, seed=5, descriptor="gap+l2+qe5")
    b = gaussian_index(n=90, d=10, seed=6, descriptor="gap+l2+qe5")
    for spec in (QuerySpec(metric, "knn", 3), QuerySpec(metric, "range", 0.5 if metric == "cosine" else 3.5)):
        for left, right in ((b, b), (a, b)):
            groups, _ = explained_set_join(left, right, spec, IndexChoice("pivots", 6))
            got = [(k, [(m.image, m.score) for m in v]) for k, v in groups]
            expected = [(k, [(m.image, m.score) for m in v]) for k, v in iter_set_join(left, right, spec)]
            assert got == expected
