"""The collection's duplicates space: one whitening for every set, so the same pair gets the same score and
level in a set of 10 images and in one of 1,000, and the threshold has no small-set rule."""

from __future__ import annotations

import numpy as np
import pytest

from simages.copies.levels import level_of
from simages.copies.space import MIN_IMAGES_TO_LEARN, RELEARN_GROWTH, load_space, space_path
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.duplicates.exact import DUPLICATE_COSINE, duplicate_pairs, duplicate_threshold
from simages.nearest.sets.cache import DescriptorCache
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store


def vectors(seed: int, n: int, d: int = 64) -> np.ndarray:
    x = np.abs(np.random.default_rng(seed).standard_normal((n, d))).astype(np.float32) ** 3
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def edited(vector: np.ndarray, seed: int, strength: float = 0.1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(vector.shape).astype(np.float32)
    near = np.abs(vector * (1 + strength * noise))
    return near / np.linalg.norm(near)


def write_set(settings: Settings, name: str, rows: np.ndarray) -> list[str]:
    names = [f"{name}_{i:04d}.jpg" for i in range(len(rows))]
    (settings.image_sets / name).mkdir(parents=True, exist_ok=True)
    meta = {"descriptor": "gap+l2", "descriptor_spec": "gap+l2+pca128+qe10"}
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), np.asarray(rows, np.float32), meta)
    save_store(settings.store_path(name), store)
    return names


@pytest.fixture
def collection(tmp_path) -> tuple[Settings, np.ndarray]:
    """A 1,000-image set and a 10-image set that both hold one photo and its edited copy."""
    settings = Settings(root=tmp_path)
    photo = vectors(7, 1)[0]
    copy = edited(photo, 1)
    big = vectors(1, 1000)
    other = vectors(8, 1)[0]  # an unrelated photo in both sets too
    big[10], big[20], big[11] = photo, copy, other
    small = vectors(2, 10)
    small[3], small[4], small[5] = photo, copy, other
    write_set(settings, "big", big)
    write_set(settings, "small", small)
    return settings, photo


def pair_score(settings: Settings, name: str, a: int, b: int) -> float:
    """The duplicates score of rows a and b of set `name`, as its joins compute it (cosine of the rows of
    its join space)."""
    index = DescriptorCache().get(settings, name, DUPLICATES)
    return float(index.vectors[a] @ index.vectors[b] * index.inv_norms[a] * index.inv_norms[b])


def test_the_same_copy_pair_gets_the_same_score_and_level_in_a_10_and_a_1000_image_set(collection) -> None:
    settings, _ = collection
    in_big = pair_score(settings, "big", 10, 20)
    in_small = pair_score(settings, "small", 3, 4)
    assert in_small == pytest.approx(in_big, abs=1e-5)
    assert level_of(in_small) is level_of(in_big)
    # A pair of unrelated photos scores the same in both too.
    unrelated_big = pair_score(settings, "big", 10, 11)
    unrelated_small = pair_score(settings, "small", 3, 5)
    assert unrelated_small == pytest.approx(unrelated_big, abs=1e-5)
    # And the self-joins list the pair with that score in both.
    for name, a, b in (("big", 10, 20), ("small", 3, 4)):
        index = DescriptorCache().get(settings, name, DUPLICATES)
        pairs = {(p.a, p.b): p.score for p in duplicate_pairs(index)}
        key = (f"{name}/{index.names[a]}", f"{name}/{index.names[b]}")
        assert pairs[key] == pytest.approx(in_big, abs=1e-5)


def test_a_small_set_has_no_rule_of_its_own(collection) -> None:
    settings, _ = collection
    small = DescriptorCache().get(settings, "small", DUPLICATES)
    big = DescriptorCache().get(settings, "big", DUPLICATES)
    assert duplicate_threshold("cosine", small) == duplicate_threshold("cosine", big) == DUPLICATE_COSINE
    np.testing.assert_array_equal(small.whitening.projection, big.whitening.projection)


def test_the_space_is_kept_and_relearned_only_when_the_collection_has_grown(collection) -> None:
    settings, _ = collection
    DescriptorCache().get(settings, "small", DUPLICATES)
    kept = load_space(space_path(settings, "gap+l2"))
    assert kept is not None and kept.images == 1010 and kept.sets == 2
    write_set(settings, "more", vectors(3, 200))  # +20%: the meaning of scores stays
    index = DescriptorCache().get(settings, "small", DUPLICATES)
    assert load_space(space_path(settings, "gap+l2")).fingerprint == kept.fingerprint
    np.testing.assert_array_equal(index.whitening.projection, kept.whitening.projection)
    write_set(settings, "lots", vectors(4, int(RELEARN_GROWTH * 1010)))
    DescriptorCache().get(settings, "small", DUPLICATES)
    relearned = load_space(space_path(settings, "gap+l2"))
    assert relearned.fingerprint != kept.fingerprint and relearned.images > 2 * 1010


def test_a_collection_too_small_to_learn_keeps_no_space(tmp_path) -> None:
    settings = Settings(root=tmp_path)
    write_set(settings, "tiny", vectors(5, MIN_IMAGES_TO_LEARN - 1))
    index = DescriptorCache().get(settings, "tiny", DUPLICATES)
    assert load_space(space_path(settings, "gap+l2")) is None
    assert index.whitening is None  # compared on square-rooted vectors, with the unwhitened threshold


def test_the_memory_mapped_duplicates_copy_is_made_in_the_collection_space(collection) -> None:
    from simages.copies.space import in_space
    from simages.jobs.derived import refresh_derived
    from simages.nearest.sets.mapped_index import open_mapped

    settings, _ = collection
    refresh_derived(settings, "small", build_ann=False)  # both copies are written in one run
    spaces = DescriptorCache().duplicates_spaces(settings)
    path = settings.store_path("small")
    stat = path.stat()
    copy = open_mapped("small", path, (stat.st_mtime_ns, stat.st_size, stat.st_ino), "duplicates")
    assert copy is not None and in_space(copy, spaces)
    index = DescriptorCache().get(settings, "small", DUPLICATES)
    np.testing.assert_array_equal(index.vectors, copy.vectors)  # the cache serves that copy


def test_the_descriptors_line_says_the_whitening_is_the_collections(collection) -> None:
    """Read from the store or from its memory-mapped copy, a duplicates answer's "Descriptors" line says the
    whitening was learned on all the indexed photos, never "on the set searched" (it is not)."""
    from dataclasses import replace

    from simages.jobs.derived import refresh_derived

    settings, _ = collection
    said = DescriptorCache().get(settings, "small", DUPLICATES).explain(False)
    assert "PCA-whitened on all your indexed photos together (the same for every set)" in said
    assert "on the set searched" not in said
    refresh_derived(settings, "small", build_ann=False)
    mapped = DescriptorCache().get(settings, "small", DUPLICATES)
    assert isinstance(mapped.vectors, np.memmap) and mapped.explain(False) == said
    # The similar-images reading still learns on the set searched, and says so.
    from simages.nearest.core.intents import SIMILAR

    assert "learned on the set searched" in DescriptorCache().get(settings, "big", SIMILAR).explain(False)
    kept = load_space(space_path(settings, "gap+l2"))
    copy_aware = replace(kept, method="copy-whitening").whitened_on()
    assert copy_aware.endswith("tuned on edited copies of them to find copies")
