"""Near-duplicates through the ANN kNN graph: the exact self-join's pairs and groups on a small set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simages.nearest.ann import index as ann
from simages.nearest.core.set_index import SetIndex
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore
from tests.requirements import import_or_missing

import_or_missing("faiss", "the ANN extra (faiss-cpu) is not installed")
import simages.nearest.duplicates.exact as duplicates  # noqa: E402 - after the FAISS check


def photos_with_copies(n: int = 400, d: int = 32, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Distinct photos, a few edited copies (small noise) and one photo with three copies."""
    rng = np.random.default_rng(seed)
    x = np.abs(rng.standard_normal((n, d))).astype(np.float32)
    for original, copy in ((0, 10), (1, 11), (2, 12), (2, 13), (2, 14), (50, 300)):
        x[copy] = x[original] + 0.02 * np.abs(rng.standard_normal(d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return [f"p{i:04d}.jpg" for i in range(n)], x


@pytest.fixture
def large_set(settings, monkeypatch) -> str:
    """Set "s": `photos_with_copies` stored as an indexed set that counts as large (ANN-searched), with no
    ANN index yet (tests build it with refresh_derived when they want one)."""
    from simages.store.npz_store import save_store

    monkeypatch.setattr(ann, "AUTO_MIN_IMAGES", 0)  # the test set counts as large
    ann.default_registry.clear()
    names, vectors = photos_with_copies()
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), vectors,
                         {"descriptor": "gap+l2", "descriptor_spec": "gap+l2+pca16+qe3"})
    save_store(settings.store_path("s"), store)
    (settings.image_sets / "s").mkdir()
    return "s"


def test_graph_join_finds_the_exact_pairs_and_groups():
    from simages.nearest.duplicates.ann_graph import graph_duplicates

    names, vectors = photos_with_copies()
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), vectors,
                         {"descriptor": "gap+l2", "descriptor_spec": "gap+l2+pca16+qe3"})
    stored = SetIndex("s", names, vectors, "gap+l2")
    searched = SetIndex.from_store("s", store)  # PCA vectors: the index's space differs from the scores'
    index = ann.build(searched.vectors, "hnsw")
    threshold = 0.95
    exact = duplicates.find_duplicates([stored], threshold)
    graph = graph_duplicates(stored, searched, index, threshold, k=5)
    assert [(p.a, p.b) for p in graph.pairs] == [(p.a, p.b) for p in exact.pairs]
    assert [p.score for p in graph.pairs] == pytest.approx([p.score for p in exact.pairs], abs=1e-6)
    assert graph.groups == exact.groups
    assert ["s/p0002.jpg", "s/p0012.jpg", "s/p0013.jpg", "s/p0014.jpg"] in graph.groups


def test_graph_join_refuses_readings_of_different_store_versions():
    from simages.nearest.duplicates.ann_graph import graph_duplicate_pairs

    names, vectors = photos_with_copies(400)
    stored = SetIndex("s", names, vectors, "gap+l2")
    other = SetIndex("s", names[::-1], vectors[::-1], "gap+l2")
    with pytest.raises(ValueError, match="different versions"):
        graph_duplicate_pairs(stored, other, ann.build(other.vectors, "hnsw"), 0.9)


def test_join_command_finds_duplicates_of_a_large_set_through_the_graph(settings, large_set, capsys):
    from simages.cli import main
    from simages.jobs.derived import refresh_derived

    command = ["--root", str(settings.root), "join", "s", "s", "--intent", "duplicates", "--range", "0.95",
               "--output", "-"]

    assert main([*command, "--exact"]) == 0
    exact = capsys.readouterr().out
    assert main(command) == 0  # no index yet: the exact join, and why
    captured = capsys.readouterr()
    assert captured.out == exact and "no ANN index" in captured.err

    refresh_derived(settings, "s")
    assert main(command) == 0
    captured = capsys.readouterr()
    assert "through the ANN index" in captured.err
    assert captured.out == exact and "p0002.jpg,p0012.jpg" in exact
    ann.default_registry.clear()


def test_app_join_of_duplicates_goes_through_the_graph_with_the_same_pairs(settings, monkeypatch):
    from simages.jobs.derived import refresh_derived
    from simages.jobs.join_runner import DONE, JoinRequest, JoinRunner, run_join
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.sets.cache import DescriptorCache
    from simages.store.npz_store import save_store

    names, vectors = photos_with_copies()
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), vectors,
                         {"descriptor": "gap+l2", "descriptor_spec": "gap+l2+pca16+qe3"})
    save_store(settings.store_path("s"), store)
    (settings.image_sets / "s").mkdir()
    request = JoinRequest("s", ("s",), QuerySpec.parse("cosine", "range", "0.95"), "duplicates")
    exact = run_join(JoinRunner(settings, DescriptorCache()), request, 60)
    assert exact.state == DONE and "ANN index" not in exact.outcome.explain

    monkeypatch.setattr(ann, "AUTO_MIN_IMAGES", 0)
    ann.default_registry.clear()
    refresh_derived(settings, "s")
    graph = run_join(JoinRunner(settings, DescriptorCache()), request, 60)
    assert graph.state == DONE and "through the set's ANN index" in graph.outcome.explain
    assert graph.outcome.pairs.pairs == exact.outcome.pairs.pairs
    assert graph.outcome.groups == exact.outcome.groups
    assert graph.done == graph.total == len(names)
    ann.default_registry.clear()


def test_duplicates_command_uses_the_graph_on_a_large_set_and_exact_on_request(settings, large_set, capsys):
    from simages.cli import main
    from simages.jobs.derived import refresh_derived

    refresh_derived(settings, "s")
    command = ["--root", str(settings.root), "duplicates", "s", "--threshold", "0.9"]
    assert main([*command, "--format", "json", "--exact"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert main([*command, "--format", "json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert (exact.pop("index"), graph.pop("index")) == ("brute", "ann")  # the search used, named
    assert graph == exact and "s/p0002.jpg" in {p["a"] for p in exact["pairs"]}
    assert main(command) == 0
    assert "each image's 10 nearest (ANN index)" in capsys.readouterr().out
    ann.default_registry.clear()
