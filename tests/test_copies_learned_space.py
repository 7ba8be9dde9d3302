"""The duplicates space learned from synthetic edits of the collection's own photos
(simages.copies.learned_space, simages.copies.copy_pairs): copies stay above the threshold where plain
whitening loses them, look-alikes stay below, the threshold keeps its meaning (the collection's distinct
pairs spread 0.05 whatever the collection), the same pair gets the same score in a 10- and a 1,000-image
set, and the app learns it in the background after indexing."""

from __future__ import annotations

import time

import numpy as np
import pytest
from imagegen import photo, save

from simages.copies.learned_space import (
    MIN_PAIRS,
    MIN_PHOTOS_TO_HOLD_OUT,
    TARGET_SPREAD,
    CopyPairs,
    learn_copy_whitening,
    load_pairs,
    pairs_fingerprint,
    pairs_path,
    save_pairs,
    spread,
)
from simages.copies.levels import EDITED_COSINE, level_of
from simages.copies.space import in_space, load_space, space_path
from simages.extraction.postprocess import learn_whitening
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.sets.cache import DescriptorCache
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


EDIT_DIRECTIONS = 8


def look_alike_collection(seed: int, clusters: int = 120, per: int = 5, d: int = 512,
                          fall: float = 0.05) -> np.ndarray:
    """Square-rooted unit rows of `clusters` groups of `per` look-alikes (same scene, not copies): photos
    vary most along the first directions, hardly along the last EDIT_DIRECTIONS."""
    rng = np.random.default_rng(seed)
    scale = np.linspace(1.0, fall, d)
    centres = rng.standard_normal((clusters, d)) * scale
    return unit(np.repeat(centres, per, 0) + 0.6 * rng.standard_normal((clusters * per, d)) * scale)


def edit(rows: np.ndarray, seed: int) -> np.ndarray:
    """Edited copies: moved along the last EDIT_DIRECTIONS directions (where photos hardly differ, so a
    plain whitening amplifies the move), plus a little noise."""
    rng = np.random.default_rng(seed)
    d = rows.shape[1]
    moves = np.zeros((len(rows), d))
    moves[:, d - EDIT_DIRECTIONS:] = 0.25 * rng.standard_normal((len(rows), EDIT_DIRECTIONS))
    return unit(rows + moves + 0.01 * rng.standard_normal(rows.shape))


def scores_in(whitening, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    project = lambda x: unit((x - whitening.mean) @ whitening.projection)  # noqa: E731
    return project(a) @ project(b).T


def test_copies_of_photos_never_edited_in_learning_pass_where_plain_whitening_loses_them():
    photos = look_alike_collection(0)
    n = len(photos)
    rng = np.random.default_rng(1)
    learned_from = rng.choice(n, 100, replace=False)
    originals = np.repeat(photos[learned_from], 2, axis=0)
    copy_space = learn_copy_whitening(photos, originals, edit(originals, 2))
    plain = learn_whitening(photos.astype(np.float32))
    others = np.setdiff1d(np.arange(n), learned_from)
    copies = edit(photos[others], 3)
    same_scene = np.equal.outer(np.arange(n) // 5, np.arange(n) // 5) & ~np.eye(n, dtype=bool)
    found, look_alikes = {}, {}
    for name, space in (("copy", copy_space), ("plain", plain)):
        found[name] = np.mean(np.diag(scores_in(space, copies, photos[others])) >= EDITED_COSINE)
        look_alikes[name] = np.mean(scores_in(space, photos, photos)[same_scene] >= EDITED_COSINE)
    assert found["copy"] >= 0.97 and found["plain"] <= 0.9
    assert look_alikes["copy"] <= 0.03 < look_alikes["plain"]


@pytest.mark.parametrize(("seed", "clusters", "fall"), [(0, 120, 0.05), (4, 200, 0.2), (5, 60, 0.02)])
def test_new_photos_spread_the_target_against_the_collection_whatever_the_collection(seed, clusters, fall):
    photos = look_alike_collection(seed, clusters=clusters, fall=fall)
    assert len(photos) >= MIN_PHOTOS_TO_HOLD_OUT
    new = look_alike_collection(seed + 100, clusters=40, fall=fall)  # other scenes: uploads
    originals = np.repeat(photos[:60], 2, axis=0)
    space = learn_copy_whitening(photos, originals, edit(originals, seed + 10))
    project = lambda x: unit((x - space.mean) @ space.projection)  # noqa: E731
    assert TARGET_SPREAD * 0.9 <= spread(project(new), project(photos)) <= TARGET_SPREAD * 1.15
    assert space.projection.shape[1] < photos.shape[1]  # calibrated, not every direction kept


@pytest.mark.parametrize(("seed", "clusters", "fall"), [(6, 20, 0.05), (7, 24, 0.2)])
def test_a_collection_too_small_to_hold_photos_out_is_calibrated_on_its_own_pairs(seed, clusters, fall):
    photos = look_alike_collection(seed, clusters=clusters, fall=fall)
    assert len(photos) < MIN_PHOTOS_TO_HOLD_OUT
    originals = np.repeat(photos[:60], 2, axis=0)
    space = learn_copy_whitening(photos, originals, edit(originals, seed + 10))
    measured = spread(unit((photos - space.mean) @ space.projection))
    assert TARGET_SPREAD <= measured <= TARGET_SPREAD * 1.06


def test_too_few_photos_or_pairs_are_refused():
    photos = look_alike_collection(0, clusters=10)
    originals = np.repeat(photos[:10], 4, axis=0)
    with pytest.raises(ValueError, match="edited pairs"):
        learn_copy_whitening(photos, originals[: MIN_PAIRS - 1], edit(originals[: MIN_PAIRS - 1], 1))
    with pytest.raises(ValueError, match="photos"):
        learn_copy_whitening(photos[:5], np.repeat(photos[:5], 10, 0), edit(np.repeat(photos[:5], 10, 0), 1))
    with pytest.raises(ValueError, match="shapes"):
        learn_copy_whitening(photos, originals, edit(originals, 1)[:-1])


# --- the collection's space, from stores and kept pairs --------------------------------------------------


def stored_rows(rooted: np.ndarray) -> np.ndarray:
    """Stored gap+l2 vectors whose signed square root is `rooted` (the duplicates intent roots them)."""
    return unit(np.sign(rooted) * rooted**2).astype(np.float32)


def write_set(settings: Settings, name: str, rows: np.ndarray) -> list[str]:
    names = [f"{name}_{i:04d}.jpg" for i in range(len(rows))]
    (settings.image_sets / name).mkdir(parents=True, exist_ok=True)
    meta = {"descriptor": "gap+l2", "descriptor_spec": "gap+l2+pca128+qe10"}
    save_store(settings.store_path(name), FeatureStore(names, [Fingerprint(1, 1)] * len(names), rows, meta))
    return names


def keep_pairs(settings: Settings, photos: np.ndarray, seed: int) -> CopyPairs:
    originals = np.repeat(photos[:100], 2, axis=0)
    first, edits = stored_rows(originals), stored_rows(edit(originals, seed))
    pairs = CopyPairs("gap+l2", first, edits, len(photos), 100, pairs_fingerprint(first, edits))
    save_pairs(pairs_path(settings, "gap+l2"), pairs)
    return pairs


def score(settings: Settings, name: str, a: int, b: int, cache: DescriptorCache | None = None) -> float:
    index = (cache or DescriptorCache()).get(settings, name, DUPLICATES)
    return float(index.vectors[a] @ index.vectors[b] * index.inv_norms[a] * index.inv_norms[b])


def test_the_space_is_learned_from_kept_pairs_and_a_copy_pair_scores_alike_in_10_and_1000(tmp_path):
    settings = Settings(root=tmp_path)
    photos = look_alike_collection(0, clusters=200, d=256)  # 1,000 photos
    copy = edit(photos[500:501], 9)[0]
    big = photos.copy()
    big[999] = copy  # a copy of photo 500 in the big set
    small = np.vstack([photos[500:505], copy[None], photos[600:604]])  # ... and in a 10-image set
    write_set(settings, "big", stored_rows(big))
    write_set(settings, "small", stored_rows(small))
    cache = DescriptorCache()
    plain = cache.duplicates_spaces(settings)["gap+l2"]
    assert plain.method == "whitening" and plain.pairs == ""
    pairs = keep_pairs(settings, photos, seed=1)
    learned = cache.duplicates_spaces(settings)["gap+l2"]  # the same cache sees the new pairs
    assert learned.method == "copy-whitening" and learned.pairs == pairs.fingerprint
    assert learned.fingerprint != plain.fingerprint
    assert load_space(space_path(settings, "gap+l2")).fingerprint == learned.fingerprint
    in_big, in_small = score(settings, "big", 500, 999, cache), score(settings, "small", 0, 5, cache)
    assert in_small == pytest.approx(in_big, abs=1e-5)
    assert level_of(in_big) is level_of(in_small)
    assert in_big >= EDITED_COSINE  # found as an edited copy in both
    # Look-alikes of the same scene (rows 500-504) are not called copies.
    assert max(score(settings, "small", 0, j, cache) for j in range(1, 5)) < EDITED_COSINE
    # New pairs (the collection doubled, say): the space is learned again from them.
    again = keep_pairs(settings, photos[::-1].copy(), seed=2)
    relearned = DescriptorCache().duplicates_spaces(settings)["gap+l2"]
    assert relearned.pairs == again.fingerprint and relearned.fingerprint != learned.fingerprint


def test_damaged_or_missing_pairs_are_made_again_not_trusted(tmp_path):
    settings = Settings(root=tmp_path)
    path = pairs_path(settings, "gap+l2")
    assert load_pairs(path) is None
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz")
    assert load_pairs(path) is None
    kept = keep_pairs(settings, look_alike_collection(0, clusters=30), seed=1)
    read = load_pairs(path)
    assert read is not None and read.fingerprint == kept.fingerprint and read.photos == 100
    np.testing.assert_array_equal(read.edits, kept.edits)


# --- after indexing, in the app's background ------------------------------------------------------------


def test_the_app_learns_the_space_from_edited_copies_of_the_users_photos_after_indexing(settings):
    from simages.copies.calibration import status
    from simages.extraction.network import TinyNetwork
    from simages.jobs.manager import IndexManager
    from simages.nearest.sets.mapped_index import open_mapped

    for i in range(24):
        save(photo(300 + i), settings.image_sets / "holidays" / f"p{i:03d}.jpg")
    manager = IndexManager(settings, network_factory=TinyNetwork, watch=False, build_atlas=False)
    manager.start(["holidays"])
    try:
        assert manager.wait_until_idle(120)
        deadline = time.monotonic() + 120
        while manager.calibrations_ended() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert manager.calibration() == ("done", "")
    finally:
        manager.stop()
    stored = next(iter(DescriptorCache().duplicates_spaces(settings)))
    pairs = load_pairs(pairs_path(settings, stored))
    assert pairs is not None and pairs.photos == 24 and len(pairs.edits) == 24 * 4
    space = DescriptorCache().duplicates_spaces(settings)[stored]
    assert space.method == "copy-whitening" and space.pairs == pairs.fingerprint
    # The threshold's estimate was measured in that space, and the set's memory-mapped duplicates copy
    # was made again in it.
    assert status(settings, DescriptorCache()).calibration.space == space.fingerprint
    path = settings.store_path("holidays")
    stat = path.stat()
    copy = open_mapped("holidays", path, (stat.st_mtime_ns, stat.st_size, stat.st_ino), "duplicates")
    assert copy is not None and in_space(copy, {stored: space})


def test_when_the_edited_copies_cannot_be_made_the_plain_space_is_still_calibrated(settings):
    import queue

    from simages.copies.calibration import status
    from simages.extraction.network import TinyNetwork
    from simages.jobs.manager import IndexManager
    from simages.jobs.worker import _calibrate

    for i in range(24):
        save(photo(300 + i), settings.image_sets / "holidays" / f"p{i:03d}.jpg")
    manager = IndexManager(settings, network_factory=TinyNetwork, watch=False, build_atlas=False,
                           calibrate=False)
    manager.start(["holidays"])
    try:
        assert manager.wait_until_idle(120)
    finally:
        manager.stop()
    calls = []

    def network_failing_once():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the engine crashed")
        return TinyNetwork()

    events = queue.Queue()
    _calibrate(settings, events, network_failing_once)
    assert [events.get_nowait() for _ in range(2)] == [("calibration", "running", ""),
                                                       ("calibration", "done", "")]
    space = next(iter(DescriptorCache().duplicates_spaces(settings).values()))
    assert space.method == "whitening"  # no pairs were kept
    assert status(settings, DescriptorCache()).calibration.space == space.fingerprint
