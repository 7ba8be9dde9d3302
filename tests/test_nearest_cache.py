from __future__ import annotations

import threading

import numpy as np
import pytest

from simages.naming import InvalidName
from simages.nearest import DescriptorCache, NotIndexed, QuerySpec, key_join
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, StoreError, save_store


def write_store(settings, set_name, names, vectors, descriptor="gap+l2"):
    store = FeatureStore(list(names), [Fingerprint(1, 1)] * len(names), np.asarray(vectors, np.float32),
                         {"descriptor": descriptor})
    save_store(settings.store_path(set_name), store)
    (settings.image_sets / set_name).mkdir(parents=True, exist_ok=True)  # a store is served only with its set


@pytest.fixture
def settings(tmp_path):
    return Settings(root=tmp_path)


def test_store_is_read_once_and_reused(settings):
    write_store(settings, "s", ["a.jpg", "b.jpg"], np.eye(2))
    cache = DescriptorCache()
    first = cache.get(settings, "s")
    assert cache.get(settings, "s") is first
    assert cache.loads == 1
    assert first.names == ["a.jpg", "b.jpg"] and first.descriptor == "gap+l2"


def test_rewritten_store_is_reloaded(settings):
    write_store(settings, "s", ["a.jpg", "b.jpg"], [[1, 0], [0, 1]])
    cache = DescriptorCache()
    before = key_join(cache.get(settings, "s"), np.array([1, 0], np.float32), QuerySpec("cosine", "knn", 1))
    assert before.matches[0].image == "a.jpg"
    # Same names, same file size: only the vectors change, as after re-indexing edited images.
    write_store(settings, "s", ["a.jpg", "b.jpg"], [[0, 1], [1, 0]])
    after = key_join(cache.get(settings, "s"), np.array([1, 0], np.float32), QuerySpec("cosine", "knn", 1))
    assert after.matches[0].image == "b.jpg"
    assert cache.loads == 2


def test_missing_store_says_how_to_index(settings):
    cache = DescriptorCache()
    with pytest.raises(NotIndexed, match="no image set 'holidays'"):
        cache.get(settings, "holidays")
    (settings.image_sets / "holidays").mkdir(parents=True)
    with pytest.raises(NotIndexed, match="index holidays` first"):
        cache.get(settings, "holidays")
    write_store(settings, "holidays", ["a.jpg"], [[1.0, 2.0]])
    cache.get(settings, "holidays")
    settings.store_path("holidays").unlink()
    with pytest.raises(NotIndexed):
        cache.get(settings, "holidays")


def test_bad_set_names_are_refused_before_touching_files(settings):
    cache = DescriptorCache()
    for name in ("../etc", "a/b", ".hidden", ""):
        with pytest.raises(InvalidName):
            cache.get(settings, name)


def test_damaged_store_raises_store_error(settings):
    settings.features.mkdir(parents=True)
    (settings.image_sets / "s").mkdir(parents=True)
    settings.store_path("s").write_bytes(b"not a zip file")
    with pytest.raises(StoreError):
        DescriptorCache().get(settings, "s")


def test_concurrent_gets_share_one_load(settings):
    rng = np.random.default_rng(0)
    write_store(settings, "big", [f"{i}.jpg" for i in range(2000)], rng.normal(size=(2000, 64)))
    cache = DescriptorCache()
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(settings, "big"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.loads == 1
    assert all(index is results[0] for index in results)
