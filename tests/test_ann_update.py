"""The ANN index after images are added, removed or changed: patched (not rebuilt) by the refresh that
follows indexing, searched in its frozen space, never returning a removed image; rebuilt when the set
drifted too far; and a sidecar that does not match its index means exact search, with the reason."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simages.jobs.derived import refresh_derived
from simages.nearest.ann import index as ann
from simages.nearest.ann import update as ann_update
from simages.nearest.ann.search import knn_graph, shares_space
from simages.nearest.ann.space import FrozenSpace
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import key_join
from simages.nearest.sets.cache import DescriptorCache
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, load_store, save_store
from tests.requirements import import_or_missing

import_or_missing("faiss", "the ANN extra (faiss-cpu) is not installed")

# PCA learned on the set (so the frozen space differs from the current one after a change) + expansion.
LEARNED = "gap+l2+pca16+qe3"
# Nothing learned on the set: frozen and current spaces are the same, so the ANN answer must be exact.
PLAIN = "gap+l2+qe3"
SPEC = QuerySpec("cosine", "knn", 10)


def clustered(n: int, d: int = 24, seed: int = 0) -> np.ndarray:
    """Unit-length vectors like photo descriptors: clusters (subjects) in a space whose variance decays
    over its principal directions, so a PCA learned on a few hundred of them is stable, as it is for real
    descriptors at the sizes an ANN index serves. (With flat, isotropic clusters a PCA-16 learned on 400
    vectors turns when 40 are added, and no frozen space could keep the exact neighbours.) Every seed
    samples the same collection."""
    base = np.random.default_rng(0)
    spectrum = 0.8 ** np.arange(d)
    basis = np.linalg.qr(base.standard_normal((d, d)))[0]
    centres = base.standard_normal((40, d)) * spectrum
    rng = np.random.default_rng(seed + 1)
    z = centres[rng.integers(0, 40, n)] + 0.5 * rng.standard_normal((n, d)) * spectrum
    x = 3.0 + z @ basis.T
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def write(settings, names: list[str], vectors: np.ndarray, descriptor: str = LEARNED,
          mtimes: dict[str, int] | None = None) -> None:
    """The set's store as the indexer writes it: each image with its own file fingerprint."""
    fingerprints = [Fingerprint(1000 + int(name[4:8]), (mtimes or {}).get(name, 1)) for name in names]
    store = FeatureStore(list(names), fingerprints, np.asarray(vectors, np.float32),
                         {"descriptor": "gap+l2", "descriptor_spec": descriptor})
    save_store(settings.store_path("photos"), store)
    (settings.image_sets / "photos").mkdir(exist_ok=True)


def names_of(first: int, count: int) -> list[str]:
    return [f"img_{i:04d}.jpg" for i in range(first, first + count)]


def answer(result) -> list[tuple[str, float]]:
    return [(m.image, m.score) for m in result.matches]


def meta(settings) -> dict:
    return ann.read_meta(settings.features, "photos")


@pytest.fixture(autouse=True)
def ann_everywhere(monkeypatch):
    monkeypatch.setattr(ann, "AUTO_MIN_IMAGES", 0)
    ann.default_registry.clear()
    yield
    ann.default_registry.clear()


def current(settings) -> SetIndex:
    return DescriptorCache().get(settings, "photos")


def test_a_fresh_index_searches_in_exactly_the_sets_own_space(settings):
    vectors = clustered(400)
    write(settings, names_of(0, 400), vectors)
    assert "built" in refresh_derived(settings, "photos")
    index = current(settings)
    loaded = ann.load(settings.features, "photos").index
    assert shares_space(loaded, index)  # so queries use the set's own vectors, as before patching existed
    np.testing.assert_array_equal(FrozenSpace.of(index).project(index.raw), index.vectors)
    assert loaded.space.project(index.raw).tobytes() == np.asarray(index.vectors).tobytes()


def test_added_images_are_patched_in_and_an_added_copy_of_the_key_is_its_top_match(settings):
    vectors = clustered(400)
    write(settings, names_of(0, 400), vectors)
    refresh_derived(settings, "photos")
    built = meta(settings)

    extra = clustered(40, seed=5)
    key = extra[0].copy()  # an outside key; its exact copy is added as img_0400.jpg
    write(settings, names_of(0, 440), np.vstack([vectors, extra]))
    message = refresh_derived(settings, "photos")
    assert "ANN index (hnsw) patched: +40 / -0 images" in message
    after = meta(settings)
    assert after["patches"] == 1 and after["built_at"] == built["built_at"]
    assert (after["count"], after["ntotal"], after["built_count"]) == (440, 440, 400)

    index = current(settings)
    loaded = ann.load(settings.features, "photos").index
    assert not shares_space(loaded, index)  # the set's PCA moved; the index kept the one it was built in
    result = key_join(index, key, SPEC)
    assert result.search == "hnsw"
    assert result.matches[0].image == "img_0400.jpg"
    assert result.matches[0].score == pytest.approx(1.0, abs=1e-5)
    # Scores are the exact ones of the current space (without expansion, whose neighbours the index finds,
    # the key is the same on both paths); only recall could differ.
    plain = QuerySpec("cosine", "knn", 10, expand=False)
    recalls = []
    for row in range(0, 440, 11):
        name = index.names[row]
        approximate = key_join(index, index.raw[row], plain, exclude=name)
        exact = dict(answer(key_join(index, index.raw[row], plain, exclude=name, exact=True)))
        assert approximate.search == "hnsw"
        assert all(exact.get(image, score) == score for image, score in answer(approximate))
        expanded = {m.image for m in key_join(index, index.raw[row], SPEC, exclude=name).matches}
        truth = {m.image for m in key_join(index, index.raw[row], SPEC, exclude=name, exact=True).matches}
        recalls.append(len(expanded & truth) / 10)
    assert np.mean(recalls) >= 0.95


def test_without_a_learned_space_the_patched_index_answers_exactly(settings):
    vectors = clustered(400)
    write(settings, names_of(0, 400), vectors, PLAIN)
    refresh_derived(settings, "photos")
    extra = clustered(30, seed=7)
    keep = [i for i in range(400) if i % 20]  # 20 removed
    names = [names_of(0, 400)[i] for i in keep] + names_of(400, 30)
    write(settings, names, np.vstack([vectors[keep], extra]), PLAIN)
    assert "patched: +30 / -20 images" in refresh_derived(settings, "photos")
    index = current(settings)
    for key in [*vectors[::9], *extra[::5]]:
        approximate = key_join(index, key, SPEC)
        assert approximate.search == "hnsw"
        assert answer(approximate) == answer(key_join(index, key, SPEC, exact=True))


def test_removed_images_are_never_returned_and_a_removal_keeps_the_index_file(settings):
    vectors = clustered(400)
    names = names_of(0, 400)
    write(settings, names, vectors)
    refresh_derived(settings, "photos")
    index_file, _ = ann.index_paths(settings.features, "photos")
    before = index_file.stat()
    removed = set(names[0:400:16])  # 25 images, 6%
    keep = [i for i, name in enumerate(names) if name not in removed]
    write(settings, [names[i] for i in keep], vectors[keep])
    assert "patched: +0 / -25 images" in refresh_derived(settings, "photos")
    # Only ids were hidden: the FAISS index itself is unchanged and was not rewritten.
    assert (index_file.stat().st_ino, index_file.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    index = current(settings)
    for row in range(0, 400, 16):  # each removed image as a key: it used to be its own best match
        result = key_join(index, vectors[row], QuerySpec("cosine", "knn", 30))
        assert result.search == "hnsw" and len(result.matches) == 30
        assert not removed & {m.image for m in result.matches}
    graph_rows, _ = knn_graph(index, ann.load(settings.features, "photos").index, 5)
    assert graph_rows.max() < len(index) and (graph_rows >= 0).all()


@pytest.mark.parametrize("same_fingerprint", [False, True])
def test_an_image_whose_vector_changed_is_replaced(settings, same_fingerprint):
    vectors = clustered(400)
    names = names_of(0, 400)
    write(settings, names, vectors)
    refresh_derived(settings, "photos")
    edited = vectors.copy()
    edited[5] = clustered(1, seed=11)[0]  # img_0005.jpg edited: same name, another picture
    # The vector digest catches a new vector even when the file's fingerprint did not change.
    write(settings, names, edited, mtimes=None if same_fingerprint else {"img_0005.jpg": 2})
    assert "patched: +1 / -1 images" in refresh_derived(settings, "photos")
    assert (meta(settings)["count"], meta(settings)["ntotal"]) == (400, 401)
    index = current(settings)
    new = key_join(index, edited[5], SPEC)
    assert new.search == "hnsw" and new.matches[0].image == "img_0005.jpg"
    assert new.matches[0].score == pytest.approx(1.0, abs=1e-5)
    old = key_join(index, vectors[5], QuerySpec("cosine", "knn", 50))
    assert [m.image for m in old.matches].count("img_0005.jpg") <= 1  # never twice (old and new id)


@pytest.mark.parametrize("method", ann.METHODS)
def test_each_method_patches_adds_and_removals(settings, method):
    vectors = clustered(400)
    names = names_of(0, 400)
    write(settings, names, vectors, PLAIN)
    refresh_derived(settings, "photos", build_ann=False)
    store_path = settings.store_path("photos")
    assert "built" in ann_update.update(settings.features, "photos", current(settings), store_path,
                                        method=method)
    extra = clustered(20, seed=3)
    keep = list(range(20, 400))
    write(settings, [names[i] for i in keep] + names_of(400, 20), np.vstack([vectors[keep], extra]), PLAIN)
    refresh_derived(settings, "photos", build_ann=False)
    index = current(settings)
    message = ann_update.update(settings.features, "photos", index, store_path, method=method)
    assert f"ANN index ({method}) patched: +20 / -20 images" in message
    removed = set(names[:20])
    for row in range(20):
        result = key_join(index, vectors[row], SPEC)
        assert result.search == method and not removed & {m.image for m in result.matches}
        added = key_join(index, extra[row], SPEC)
        assert added.matches[0].image == names_of(400, 20)[row]


def test_drift_past_the_limit_rebuilds_the_index(settings):
    vectors = clustered(400)
    write(settings, names_of(0, 400), vectors)
    refresh_derived(settings, "photos")
    write(settings, names_of(0, 440), np.vstack([vectors, clustered(40, seed=1)]))
    assert "patched" in refresh_derived(settings, "photos")  # 10% so far
    # 60 more: 100 added since the build of 400 is 25%, past DRIFT_LIMIT.
    write(settings, names_of(0, 500), np.vstack([vectors, clustered(40, seed=1), clustered(60, seed=2)]))
    message = refresh_derived(settings, "photos")
    assert "rebuilt" in message and "more than 20%" in message
    rebuilt = meta(settings)
    assert (rebuilt["patches"], rebuilt["built_count"], rebuilt["ntotal"]) == (0, 500, 500)
    index = current(settings)
    assert shares_space(ann.load(settings.features, "photos").index, index)  # the new space is the set's


def test_a_changed_descriptor_rebuilds_the_index(settings):
    vectors = clustered(400)
    write(settings, names_of(0, 400), vectors)
    refresh_derived(settings, "photos")
    write(settings, names_of(0, 400), vectors, "gap+l2+pca12+qe3")
    message = refresh_derived(settings, "photos")
    assert "rebuilt" in message and "descriptor changed" in message
    assert meta(settings)["dimension"] == 12


def test_a_sidecar_that_does_not_match_its_index_means_exact_search_with_the_reason(settings):
    vectors = clustered(400)
    write(settings, names_of(0, 400), vectors)
    refresh_derived(settings, "photos")
    sidecar = ann.ids_path(settings.features, "photos")
    old_sidecar = sidecar.read_bytes()
    write(settings, names_of(0, 420), np.vstack([vectors, clustered(20, seed=4)]))
    refresh_derived(settings, "photos")
    index = current(settings)
    expected = answer(key_join(index, vectors[1], SPEC, exact=True))

    sidecar.write_bytes(old_sidecar)  # e.g. a patch interrupted between its files, or a copy mixing them
    ann.default_registry.clear()
    mixed = key_join(index, vectors[1], SPEC)
    assert (mixed.search, answer(mixed)) == ("exact", expected)
    assert "do not belong together" in mixed.search_note

    sidecar.write_bytes(old_sidecar[: len(old_sidecar) // 2])  # half-written
    ann.default_registry.clear()
    half = key_join(index, vectors[1], SPEC)
    assert (half.search, answer(half)) == ("exact", expected) and "do not belong together" in half.search_note

    assert "rebuilt" in refresh_derived(settings, "photos")  # and the next refresh repairs it
    assert key_join(current(settings), vectors[1], SPEC).search == "hnsw"


def test_a_store_changed_again_before_the_refresh_is_caught_up_by_the_next(settings):
    vectors = clustered(400)
    write(settings, names_of(0, 400), vectors)
    refresh_derived(settings, "photos")
    cache = DescriptorCache()
    write(settings, names_of(0, 410), np.vstack([vectors, clustered(10, seed=8)]))
    read_before = cache.get(settings, "photos")
    write(settings, names_of(0, 420), np.vstack([vectors, clustered(20, seed=8)]))  # changed meanwhile
    message = ann_update.update(settings.features, "photos", read_before, settings.store_path("photos"))
    assert "not updated" in message and meta(settings)["count"] == 400
    assert "patched: +20 / -0" in refresh_derived(settings, "photos")
    assert load_store(settings.store_path("photos")).names == current(settings).names


def test_update_benchmark_reports_patch_and_rebuild_rows(settings, capsys):
    from simages.cli import main

    rng = np.random.default_rng(0)  # the benchmark's descriptor model is fitted to an indexed set
    real = np.abs(rng.standard_normal((200, 32))).astype(np.float32)
    names = [f"img_{i:04d}.jpg" for i in range(200)]
    save_store(settings.store_path("real"), FeatureStore(names, [Fingerprint(1, 1)] * 200, real,
                                                         {"descriptor": "gap+l2"}))
    assert main(["--root", str(settings.root), "bench", "ann-update", "--size", "1000", "--queries", "5",
                 "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["scenario"], r["index"]) for r in rows] == [
        ("add", "patched"), ("add", "patched"), ("add", "rebuilt"),
        ("remove", "patched"), ("remove", "patched"), ("remove", "rebuilt")]
    assert {r["size"] for r in rows} == {1000, 900} and all(0 <= r["recall_at_10"] <= 1 for r in rows)
    assert [r["overfetch"] for r in rows] == [1, 3, 1, 1, 3, 1]  # each row is the configuration it names


def test_duplicates_of_a_patched_set_come_through_its_graph_like_the_exact_join(settings):
    from simages.nearest.core.intents import DUPLICATES
    from simages.nearest.duplicates.ann_graph import graph_duplicates, graph_join_index
    from simages.nearest.duplicates.exact import find_duplicates

    vectors = clustered(400)
    write(settings, names_of(0, 400), vectors)
    refresh_derived(settings, "photos")
    copy = vectors[7] + 0.002 * np.random.default_rng(3).standard_normal(24).astype(np.float32)
    write(settings, names_of(0, 401), np.vstack([vectors, copy / np.linalg.norm(copy)]))
    assert "patched: +1 / -0" in refresh_derived(settings, "photos")
    stored = DescriptorCache().get(settings, "photos", DUPLICATES)
    chosen = graph_join_index(settings, stored, QuerySpec("cosine", "range", 0.9))
    assert isinstance(chosen, tuple), chosen
    searched, index = chosen
    assert not shares_space(index, searched)  # the graph is searched in the patched index's frozen space
    graph = graph_duplicates(stored, searched, index, 0.9)
    exact = find_duplicates([stored], 0.9)
    assert [(p.a, p.b) for p in graph.pairs] == [(p.a, p.b) for p in exact.pairs]
    assert ("photos/img_0007.jpg", "photos/img_0400.jpg") in {(p.a, p.b) for p in graph.pairs}
