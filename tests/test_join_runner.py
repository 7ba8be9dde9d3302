"""The app's set joins without the GUI: merging several searched sets, the bounded pair collector, the
groups, the sampled score distribution and the background runner (progress, cancel, cache)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from simages.jobs import join_runner
from simages.jobs.join_runner import CANCELLED, DONE, FAILED, JoinRequest, JoinRunner, run_join
from simages.nearest.core.distribution import set_distribution
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.groups import join_groups
from simages.nearest.joins.distribution import join_distribution
from simages.nearest.joins.join import iter_set_join
from simages.nearest.joins.multi import SetMatch, iter_multi_join
from simages.nearest.joins.pairs import JoinPair, JoinPairs, PairCollector
from simages.nearest.sets.cache import DescriptorCache
from tests.gui_fixtures import demo_root, make_images, write_store


def index(name: str, count: int, seed: int, dim: int = 6) -> SetIndex:
    vectors = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return SetIndex(name, [f"{name[0]}{i:03d}.png" for i in range(count)], vectors, "")


def brute_cosines(a: SetIndex, b: SetIndex) -> np.ndarray:
    x = a.vectors / np.linalg.norm(a.vectors, axis=1, keepdims=True)
    y = b.vectors / np.linalg.norm(b.vectors, axis=1, keepdims=True)
    return x @ y.T


def test_one_searched_set_is_exactly_the_set_join():
    a, b = index("a", 20, 1), index("b", 15, 2)
    spec = QuerySpec.parse("cosine", "knn", "4")
    single = [(key, [(m.image, m.score) for m in ms]) for key, ms in iter_set_join(a, b, spec)]
    multi = [(key, [(m.image, m.score) for m in ms]) for key, ms in iter_multi_join(a, [b], spec)]
    assert single == multi


@pytest.mark.parametrize(("predicate", "param"), [("knn", "5"), ("range", "0.3")])
def test_several_sets_merge_to_the_best_over_all(predicate, param):
    a, b, c = index("a", 12, 1), index("b", 9, 2), index("c", 14, 3)
    spec = QuerySpec.parse("cosine", predicate, param)
    rows = dict(iter_multi_join(a, [b, c], spec))
    scores = np.hstack([brute_cosines(a, b), brute_cosines(a, c)])
    names = [("b", n) for n in b.names] + [("c", n) for n in c.names]
    for i, key in enumerate(a.names):
        order = np.argsort(-scores[i], kind="stable")
        expected = [names[j] for j in order if predicate == "knn" or scores[i, j] >= 0.3]
        if predicate == "knn":
            expected = expected[:5]
        assert [(m.set, m.image) for m in rows[key]] == expected
        values = [m.score for m in rows[key]]
        assert values == sorted(values, reverse=True)


def test_no_searched_set_is_an_error():
    with pytest.raises(ValueError, match="at least one set"):
        list(iter_multi_join(index("a", 3, 1), [], QuerySpec.parse("cosine", "knn", "1")))


def test_collector_keeps_the_best_and_counts_all():
    rng = np.random.default_rng(0)
    collector = PairCollector(higher_is_better=True, keep=7)
    everything = []
    for i in range(50):
        matches = [SetMatch("b", f"b{j}", float(s)) for j, s in enumerate(rng.random(5))]
        collector.add(f"a{i:02d}", matches)
        everything += [(-m.score, f"a{i:02d}", m.set, m.image) for m in matches]
    best = collector.best()
    assert collector.passed == 250
    assert [(-p.score, p.a, p.b_set, p.b) for p in best] == sorted(everything)[:7]


def test_groups_are_the_connected_components_of_the_pairs():
    rng = np.random.default_rng(5)
    nodes = [f"i{i:02d}" for i in range(40)]
    edges = [(nodes[i], nodes[j]) for i, j in rng.integers(0, 40, size=(25, 2)) if i != j]
    pairs = JoinPairs("s", ("s",), True, nodes, [JoinPair(x, "s", y, 0.9) for x, y in edges], len(edges),
                      40 * 39, self_join=True)
    # Reference: grow each component by flooding.
    neighbours: dict[str, set[str]] = {}
    for x, y in edges:
        neighbours.setdefault(x, set()).add(y)
        neighbours.setdefault(y, set()).add(x)
    seen, expected = set(), []
    for start in sorted(neighbours):
        if start in seen:
            continue
        stack, group = [start], set()
        while stack:
            n = stack.pop()
            if n not in group:
                group.add(n)
                stack.extend(neighbours[n] - group)
        seen |= group
        expected.append(sorted(f"s/{n}" for n in group))
    groups = join_groups(pairs)
    assert sorted(groups) == sorted(expected)
    assert [len(g) for g in groups] == sorted((len(g) for g in groups), reverse=True)
    assert join_groups(JoinPairs("s", ("s",), True, nodes, [], 0, 40 * 39)) == []


def test_join_distribution_samples_the_pairs_of_the_join():
    a, b = index("a", 30, 1), index("b", 20, 2)
    assert join_distribution(a, [a], "cosine").counts == set_distribution(a, "cosine").counts
    cross = join_distribution(a, [b], "cosine")
    assert cross.count == 600 and sum(cross.counts) == 600
    assert cross.maximum == pytest.approx(float(brute_cosines(a, b).max()), abs=1e-5)
    pooled = join_distribution(a, [b, index("c", 10, 3)], "euclidean")
    assert pooled.count == 900 and pooled.minimum >= 0


@pytest.fixture
def runner(tmp_path):
    settings, _ = demo_root(tmp_path)
    return settings, JoinRunner(settings, DescriptorCache())


def test_runner_joins_in_the_background_and_caches(runner):
    settings, joins = runner
    request = JoinRequest("animals", ("animals",), QuerySpec.parse("cosine", "knn", "3"))
    job = run_join(joins, request, 30)
    assert job.state == DONE and job.done == job.total == 12 and job.fraction == 1
    outcome = job.outcome
    assert outcome.pairs.passed == 36 and outcome.pairs.total == 12 * 11 and outcome.pairs.complete
    assert joins.start(request) is job and joins.started == 1  # cached
    names = list(outcome.pairs.keys)
    write_store(settings, "animals", names, np.random.default_rng(9).normal(size=(12, 8)).astype(np.float32))
    again = run_join(joins, request, 30)
    assert again is not job and joins.started == 2  # a new store version: joined again
    assert again.outcome.pairs.pairs != outcome.pairs.pairs


def test_runner_cancel_is_not_cached(runner, monkeypatch):
    _, joins = runner
    gate, real = threading.Event(), join_runner.iter_multi_join

    def slow(a, bs, spec):
        for row in real(a, bs, spec):
            gate.wait(10)
            yield row

    monkeypatch.setattr(join_runner, "iter_multi_join", slow)
    request = JoinRequest("animals", ("plants",), QuerySpec.parse("euclidean", "range", "1"))
    job = joins.start(request)
    assert joins.start(request) is job  # a second tab shares the running join
    job.cancel()
    gate.set()
    assert job.wait(10) and job.state == CANCELLED and job.outcome is None
    assert joins.start(request) is not job


def test_runner_reports_what_cannot_run(runner, tmp_path):
    settings, joins = runner
    names = make_images(tmp_path, "other", 4, prefix="oth")
    write_store(settings, "other", names, np.ones((4, 8), np.float32), descriptor="gap+l2")
    job = run_join(joins, JoinRequest("animals", ("other",), QuerySpec.parse("cosine", "knn", "1")), 30)
    assert job.state == FAILED and "re-index one of them" in job.error
    job = run_join(joins, JoinRequest("animals", ("nothere",), QuerySpec.parse("cosine", "knn", "1")), 30)
    assert job.state == FAILED and "nothere" in job.error


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_range_join_skipping_rows_without_candidates_changes_nothing(metric, monkeypatch):
    """Rows whose keys all miss the cut-off are answered empty without per-row work: the answers must be
    those of the per-row path, also for thresholds exactly at a pair's score."""
    from simages.nearest.joins import join as joins

    a, b = index("a", 40, 1, dim=16), index("b", 50, 2, dim=16)
    every = QuerySpec.parse(metric, "knn", "50")
    scores_ab = sorted(m.score for _, ms in iter_set_join(a, b, every) for m in ms)
    for threshold in (scores_ab[-1], scores_ab[-3], scores_ab[len(scores_ab) // 2]):  # on pair scores
        spec = QuerySpec.parse(metric, "range", repr(float(threshold)))
        for left, right in ((a, b), (a, a)):
            fast = list(iter_set_join(left, right, spec))
            with monkeypatch.context() as patch:
                every_row = lambda _index, _queries, keys, _spec: np.ones(len(keys), bool)  # noqa: E731
                patch.setattr(joins, "_rows_with_candidates", every_row)
                slow = list(iter_set_join(left, right, spec))
            assert fast == slow
            assert any(ms for _, ms in fast) or right is a
