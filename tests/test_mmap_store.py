"""The memory-mappable copy of a store: same answers as the .npz, rebuilt after a change, never misused."""

from __future__ import annotations

import mmap

import numpy as np

from simages.jobs.derived import refresh_derived
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import key_join
from simages.nearest.sets.cache import DescriptorCache
from simages.nearest.sets.mapped_index import write_mapped
from simages.store.fingerprint import Fingerprint
from simages.store.mmap_store import mmap_path, read_source, source_version
from simages.store.npz_store import FeatureStore, load_store, save_store

# Learns a PCA and expands keys, so the copy must carry the learned transform, not just the vectors.
DESCRIPTOR = "gap+l2+pca8+qe3"


def write_set(settings, names: list[str], seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).random((len(names), 24), dtype=np.float32)
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), vectors,
                         {"descriptor": "gap+l2", "descriptor_spec": DESCRIPTOR})
    save_store(settings.store_path("photos"), store)
    (settings.image_sets / "photos").mkdir(parents=True, exist_ok=True)  # a store is served only with its set
    return vectors


def is_mapped(array: np.ndarray) -> bool:
    """Whether the array's memory is a map of a file (not a copy read into memory)."""
    while array is not None:
        if isinstance(array, (np.memmap, mmap.mmap)):
            return True
        array = getattr(array, "base", None)
    return False


def answers(index: SetIndex, keys: np.ndarray) -> list[list[tuple[str, float]]]:
    spec = QuerySpec("cosine", "knn", 5)
    return [[(m.image, m.score) for m in key_join(index, key, spec, exact=True).matches] for key in keys]


def test_the_mapped_copy_round_trips_to_the_same_index_and_answers(settings):
    names = [f"dir/é {i}.jpg" for i in range(60)]  # non-ASCII names and spaces survive
    vectors = write_set(settings, names)
    from_npz = DescriptorCache().get(settings, "photos")
    said = refresh_derived(settings, "photos")
    # What `simages index` prints, in a user's words (it said "duplicates reading written").
    assert "memory-mapped copy written" in said
    assert "memory-mapped copy for finding duplicates written" in said
    assert "reading" not in said
    version = source_version(settings.store_path("photos"))
    assert read_source(mmap_path(settings.features, "photos")) == version

    mapped = DescriptorCache().get(settings, "photos")
    assert is_mapped(mapped.raw) and is_mapped(mapped.vectors)
    assert mapped.names == from_npz.names and mapped.applied == from_npz.applied == DESCRIPTOR
    np.testing.assert_array_equal(mapped.vectors, from_npz.vectors)
    np.testing.assert_array_equal(mapped.whitening.projection, from_npz.whitening.projection)
    np.testing.assert_array_equal(mapped.name_rank, from_npz.name_rank)
    assert answers(mapped, vectors[:10]) == answers(from_npz, vectors[:10])
    outside = np.random.default_rng(9).random((3, 24), dtype=np.float32)  # keys from outside the set
    assert answers(mapped, outside) == answers(from_npz, outside)


def test_a_changed_store_is_read_from_the_npz_until_the_copy_is_rebuilt(settings):
    write_set(settings, [f"{i}.jpg" for i in range(40)])
    refresh_derived(settings, "photos")
    cache = DescriptorCache()
    assert is_mapped(cache.get(settings, "photos").raw)

    new_names = [f"{i}.jpg" for i in range(10, 70)]
    write_set(settings, new_names, seed=1)
    changed = cache.get(settings, "photos")
    assert not is_mapped(changed.raw)  # the old copy is not used for the new store
    assert changed.names == new_names

    refresh_derived(settings, "photos")
    rebuilt = DescriptorCache().get(settings, "photos")
    assert is_mapped(rebuilt.raw) and rebuilt.names == new_names
    np.testing.assert_array_equal(rebuilt.raw, load_store(settings.store_path("photos")).vectors)


def test_a_damaged_copy_is_ignored(settings):
    vectors = write_set(settings, [f"{i}.jpg" for i in range(40)])
    expected = answers(DescriptorCache().get(settings, "photos"), vectors[:5])
    refresh_derived(settings, "photos")
    path = mmap_path(settings.features, "photos")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated
    index = DescriptorCache().get(settings, "photos")
    assert not is_mapped(index.raw)
    assert answers(index, vectors[:5]) == expected
    refresh_derived(settings, "photos")  # and the next refresh repairs it
    assert is_mapped(DescriptorCache().get(settings, "photos").raw)


def test_a_copy_is_never_written_for_a_store_that_changed_since_it_was_read(settings):
    write_set(settings, [f"{i}.jpg" for i in range(40)])
    index = DescriptorCache().get(settings, "photos")
    write_set(settings, [f"{i}.jpg" for i in range(50)], seed=2)
    assert write_mapped(index, settings.store_path("photos")) is None
    assert not mmap_path(settings.features, "photos").exists()


def test_a_removed_store_takes_its_derived_files_along(settings):
    write_set(settings, [f"{i}.jpg" for i in range(40)])
    refresh_derived(settings, "photos")
    settings.store_path("photos").unlink()
    refresh_derived(settings, "photos")
    assert not mmap_path(settings.features, "photos").exists()


def test_the_duplicates_reading_has_its_own_copy_with_the_same_answers(settings):
    from simages.nearest.core.intents import DUPLICATES

    names = [f"{i}.jpg" for i in range(300)]  # enough images to whiten, as the duplicates reading does
    vectors = write_set(settings, names)
    from_npz = DescriptorCache().get(settings, "photos", DUPLICATES)
    refresh_derived(settings, "photos")
    mapped = DescriptorCache().get(settings, "photos", DUPLICATES)
    assert is_mapped(mapped.vectors) and mapped.applied == from_npz.applied and mapped.root == from_npz.root
    np.testing.assert_array_equal(mapped.vectors, from_npz.vectors)
    assert answers(mapped, vectors[:5]) == answers(from_npz, vectors[:5])
    own = DescriptorCache().get(settings, "photos")  # the store's own reading is another copy
    assert is_mapped(own.vectors) and own.applied == DESCRIPTOR != mapped.applied
