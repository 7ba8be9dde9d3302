"""ANN search: exact answers where the index is exact, fallbacks the user is told about, updates
(the patching itself: tests/test_ann_update.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simages.cli import main
from simages.jobs.derived import refresh_derived
from simages.nearest.ann import index as ann
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import key_join
from simages.nearest.sets.cache import DescriptorCache
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, load_store, save_store
from tests.requirements import import_or_missing

import_or_missing("faiss", "the ANN extra (faiss-cpu) is not installed")


def clustered(n: int, d: int = 24, seed: int = 0) -> np.ndarray:
    """Unit-length vectors in a few tight clusters, like descriptors of photos of a few subjects."""
    rng = np.random.default_rng(seed)
    centres = rng.random((8, d), dtype=np.float32)
    x = centres[rng.integers(0, 8, n)] + 0.15 * rng.random((n, d), dtype=np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def write_set(settings, name: str, vectors: np.ndarray, descriptor: str = "gap+l2+qe3") -> list[str]:
    names = [f"img_{i:04d}.jpg" for i in range(len(vectors))]
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), vectors,
                         {"descriptor": "gap+l2", "descriptor_spec": descriptor})
    save_store(settings.store_path(name), store)
    (settings.image_sets / name).mkdir(exist_ok=True)
    return names


def answer(result) -> list[tuple[str, float]]:
    return [(m.image, m.score) for m in result.matches]


@pytest.fixture
def ann_everywhere(monkeypatch):
    """Use ANN indexes on sets of any size, so small test sets take the ANN path."""
    monkeypatch.setattr(ann, "AUTO_MIN_IMAGES", 0)
    ann.default_registry.clear()
    yield
    ann.default_registry.clear()


@pytest.mark.parametrize("method", ann.METHODS)
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_ann_search_gives_the_exact_answer_on_a_small_set(method, metric):
    vectors = clustered(300)
    names = [f"img_{i:04d}.jpg" for i in range(300)]
    store = FeatureStore(names, [Fingerprint(1, 1)] * 300, vectors, {"descriptor_spec": "gap+l2+qe3"})
    index = SetIndex.from_store("s", store)
    built = ann.build(index.vectors, method)
    spec = QuerySpec(metric, "knn", 10)
    for row in range(0, 300, 7):
        exact = key_join(index, vectors[row], spec, exclude=names[row], exact=True)
        approximate = key_join(index, vectors[row], spec, exclude=names[row], ann_index=built)
        assert approximate.search == method
        assert answer(approximate) == answer(exact)
        assert names[row] not in {m.image for m in approximate.matches}


def test_index_is_used_only_when_fresh_and_the_user_is_told_otherwise(settings, ann_everywhere):
    cache = DescriptorCache()
    vectors = clustered(400)
    names = write_set(settings, "photos", vectors)
    spec = QuerySpec("cosine", "knn", 5)
    before = key_join(cache.get(settings, "photos"), vectors[3], spec, exclude=names[3])
    assert before.search == "exact"
    assert "no ANN index" in before.search_note

    assert "ANN index" in refresh_derived(settings, "photos")
    with_index = key_join(cache.get(settings, "photos"), vectors[3], spec, exclude=names[3])
    assert with_index.search == ann.DEFAULT_METHOD
    assert answer(with_index) == answer(before)

    # Images added: the index no longer matches the store, so the exact search answers, and says why.
    extra = clustered(20, seed=5)
    write_set(settings, "photos", np.vstack([vectors, extra]))
    stale = key_join(cache.get(settings, "photos"), extra[0], spec)
    assert stale.search == "exact" and "changed since its ANN index was last updated" in stale.search_note
    assert stale.matches[0].image == "img_0400.jpg"

    # Updated after the change: the added image is found through the index.
    assert "patched: +20 / -0 images" in refresh_derived(settings, "photos")
    updated = key_join(cache.get(settings, "photos"), extra[0], spec)
    assert updated.search == ann.DEFAULT_METHOD
    assert answer(updated) == answer(stale)


def test_removed_images_are_never_proposed_after_the_update(settings, ann_everywhere):
    cache = DescriptorCache()
    vectors = clustered(400)
    names = write_set(settings, "photos", vectors)
    refresh_derived(settings, "photos")
    store = load_store(settings.store_path("photos"))
    keep = [i for i in range(400) if i % 2 == 0]
    kept = FeatureStore([store.names[i] for i in keep], [store.fingerprints[i] for i in keep],
                        store.vectors[keep], store.meta)
    save_store(settings.store_path("photos"), kept)
    refresh_derived(settings, "photos")
    index = cache.get(settings, "photos")
    removed = {names[i] for i in range(400) if i % 2}
    for row in range(1, 400, 40):  # keys that were removed: their nearest neighbours used to be each other
        result = key_join(index, vectors[row], QuerySpec("cosine", "knn", 10))
        assert result.search == ann.DEFAULT_METHOD
        assert not removed & {m.image for m in result.matches}
        exact = key_join(index, vectors[row], QuerySpec("cosine", "knn", 10), exact=True)
        assert answer(result) == answer(exact)


def test_small_sets_range_queries_and_exact_requests_search_exactly_without_a_warning(settings, monkeypatch):
    ann.default_registry.clear()
    vectors = clustered(300)
    write_set(settings, "photos", vectors)
    refresh_derived(settings, "photos")  # below the size threshold: no index is built
    index = DescriptorCache().get(settings, "photos")
    for spec, exact in ((QuerySpec("cosine", "knn", 5), False), (QuerySpec("cosine", "range", 0.9), False),
                        (QuerySpec("cosine", "knn", 5), True)):
        result = key_join(index, vectors[0], spec, exact=exact)
        assert (result.search, result.search_note) == ("exact", "")
    assert ann.read_meta(settings.features, "photos") is None


def test_without_faiss_or_with_a_damaged_index_exact_search_answers(settings, ann_everywhere, monkeypatch):
    vectors = clustered(300)
    write_set(settings, "photos", vectors)
    refresh_derived(settings, "photos")
    index = DescriptorCache().get(settings, "photos")
    spec = QuerySpec("cosine", "knn", 5)
    expected = answer(key_join(index, vectors[0], spec, exact=True))

    index_file, _ = ann.index_paths(settings.features, "photos")
    index_file.write_bytes(b"not an index")
    ann.default_registry.clear()
    damaged = key_join(index, vectors[0], spec)
    assert (damaged.search, answer(damaged)) == ("exact", expected)
    assert "cannot be read" in damaged.search_note

    monkeypatch.setattr(ann, "faiss_module", lambda: None)
    missing = key_join(index, vectors[0], spec)
    assert (missing.search, answer(missing)) == ("exact", expected)
    assert "not installed" in missing.search_note


def test_query_command_says_which_search_answered_and_exact_forces_it(settings, ann_everywhere, capsys):
    vectors = clustered(300)
    write_set(settings, "photos", vectors)
    refresh_derived(settings, "photos")
    assert main(["--root", str(settings.root), "query", "photos/img_0001.jpg", "--set", "photos",
                 "--knn", "5", "--format", "json"]) == 0
    approximate = json.loads(capsys.readouterr().out)
    assert approximate["search"] == ann.DEFAULT_METHOD
    assert main(["--root", str(settings.root), "query", "photos/img_0001.jpg", "--set", "photos",
                 "--knn", "5", "--format", "json", "--exact"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["search"] == "exact" and exact["results"] == approximate["results"]
    assert main(["--root", str(settings.root), "query", "photos/img_0001.jpg", "--set", "photos",
                 "--knn", "5"]) == 0
    assert "Search: approximate" in capsys.readouterr().out


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_graph_of_a_small_set_is_the_exact_self_join(metric):
    from simages.nearest.ann.search import knn_graph
    from simages.nearest.joins.join import set_join

    vectors = clustered(300)
    vectors[7] = vectors[3]  # an exact copy under another name pairs with its original
    names = [f"img_{i:04d}.jpg" for i in range(300)]
    index = SetIndex("s", names, vectors, "gap+l2")
    rows, values = knn_graph(index, ann.build(index.vectors, "hnsw"), 5, metric, batch=64)
    exact = set_join(index, index, QuerySpec(metric, "knn", 5, expand=False))
    for row, name in enumerate(names):
        assert [names[r] for r in rows[row]] == [m.image for m in exact.groups[name]]
        assert values[row].tolist() == pytest.approx([m.score for m in exact.groups[name]], abs=1e-6)
    assert names[rows[3][0]] == "img_0007.jpg"
    assert values[3][0] == pytest.approx(1.0 if metric == "cosine" else 0.0)
