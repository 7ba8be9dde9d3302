"""Robustness round 2, files and stores: each test covers a kind of fault, not only the example reported.

Every odd file comes from `tests/imagegen.py`; the stand-in network keeps these tests fast.
"""

from __future__ import annotations

import itertools
import os
import shutil
import warnings
from pathlib import Path

import imagegen
import numpy as np
import pytest
from PIL import Image

from simages.extraction.images import UnreadableImage, load_for_network, open_rgb
from simages.extraction.network import TinyNetwork
from simages.jobs import distributor
from simages.jobs.indexer import index_set
from simages.jobs.summary import Progress
from simages.naming import image_path, list_sets, set_dir, validate_image_name, validate_set_name
from simages.nearest.sets.cache import DescriptorCache, NotIndexed
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, StoreNotReadable, load_store, save_store
from simages.store.vanished import vanished_dir


class CountingNetwork(TinyNetwork):
    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def maps(self, images: np.ndarray) -> np.ndarray:
        self.seen += len(images)
        return super().maps(images)


def index(settings: Settings, set_name: str, network: CountingNetwork | None = None, **kwargs):
    net = network or CountingNetwork()
    return index_set(settings, set_name, network_factory=lambda: net, **kwargs)


# --- 1. A batch holding only unreadable files ------------------------------------------------------------


@pytest.mark.parametrize(
    "layout",
    [
        "only-unreadable",  # a set whose every file is broken
        "unreadable-batch-in-the-middle",  # good, then a whole batch of broken files, then good again
        "one-new-broken-file",  # an indexed set, then a photo still being copied in
    ],
)
def test_a_batch_of_only_unreadable_files_never_fails_the_set(settings: Settings, layout: str) -> None:
    settings = settings.with_(batch_size=2)
    folder = settings.image_sets / "s"
    folder.mkdir()
    good: list[str] = []
    if layout == "unreadable-batch-in-the-middle":
        good = imagegen.write_set(folder, 2, start_seed=0) + imagegen.write_set(folder, 2, start_seed=10)
        broken = ["img_005.png", "img_006.png"]  # sorted between the two groups, i.e. the second batch
    elif layout == "one-new-broken-file":
        good = imagegen.write_set(folder, 3, fmt="jpg")
        index(settings, "s")
        broken = ["img_000b.jpg"]
    else:
        broken = ["a.jpg", "b.jpg", "c.jpg"]
    full = imagegen.save(imagegen.photo(99, (200, 150)), folder / "full.jpg")
    for name in broken:
        imagegen.truncated_copy(full, folder / name)
    (folder / "full.jpg").unlink()
    summary = index(settings, "s")
    assert set(summary.unreadable) == set(broken)
    assert all("truncated" in reason or "damaged" in reason for reason in summary.unreadable.values())
    assert summary.total == len(good)
    assert load_store(settings.store_path("s")).names == sorted(good)
    # The next run reports them again without decoding them again, and still does not fail.
    again = index(settings, "s")
    assert again.nothing_to_do and set(again.unreadable) == set(broken)


# --- 2. Names the file system allows ---------------------------------------------------------------------


@pytest.mark.parametrize("name", imagegen.ODD_NAMES)
def test_every_name_the_file_system_allows_is_an_image_name(settings: Settings, name: str) -> None:
    set_name = "1:1 crops"
    validate_set_name(set_name)
    validate_image_name(name)
    imagegen.save(imagegen.photo(1), settings.image_sets / set_name / name, format="PNG")
    assert list_sets(settings.image_sets) == [set_name]
    path = image_path(settings.image_sets, set_name, name)
    assert os.fsencode(path).endswith(os.fsencode(name))  # the very same bytes on disk
    summary = index(settings, set_name)
    assert summary.total == 1 and not summary.unreadable
    assert load_store(settings.store_path(set_name)).names == [name]


def test_set_folders_with_colons_or_foreign_bytes_are_sets(settings: Settings) -> None:
    for set_name in ("8:30 am", imagegen.non_utf8_name("f", "te"), "C:"):
        imagegen.write_set(settings.image_sets / set_name, 1)
        assert set_dir(settings.image_sets, set_name).is_dir()
        assert index(settings, set_name).total == 1
        assert DescriptorCache().get(settings, set_name).names == ["img_000.png"]


# --- 3. Formats decided by content -----------------------------------------------------------------------


def test_formats_are_decided_by_content_and_non_images_are_reported(settings: Settings) -> None:
    folder = settings.image_sets / "s"
    folder.mkdir()
    imagegen.saved_as(folder / "a.jfif", "JPEG")
    imagegen.saved_as(folder / "b.avif", "AVIF")
    imagegen.saved_as(folder / "c.jp2", "JPEG2000")
    imagegen.heic(folder / "d.HEIC")
    imagegen.saved_as(folder / "e_no_extension", "PNG")
    imagegen.saved_as(folder / "f.JPG_original", "JPEG")  # what exiftool leaves beside an edited photo
    imagegen.text_file(folder / "notes.txt")
    imagegen.text_file(folder / "README")
    (folder / "fake.jpg").write_text("<html>not a photo</html>")
    summary = index(settings, "s")
    assert set(load_store(settings.store_path("s")).names) == {
        "a.jfif", "b.avif", "c.jp2", "d.HEIC", "e_no_extension", "f.JPG_original"
    }
    assert set(summary.skipped) == {"notes.txt", "README"}
    assert all(reason.startswith("not an image file") for reason in summary.skipped.values())
    assert set(summary.unreadable) == {"fake.jpg"}  # claims to be an image: reported as a broken one


def test_a_text_file_is_refused_before_any_network(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImage, match="not an image"):
        load_for_network(imagegen.text_file(tmp_path / "key.txt"))
    with pytest.raises(OSError):  # every caller handling unreadable files (OSError) handles these
        load_for_network(imagegen.text_file(tmp_path / "key.jpg"))


# --- 4. Non-finite pixels --------------------------------------------------------------------------------


def test_float_images_scale_from_their_finite_pixels_without_warnings(tmp_path: Path) -> None:
    first = imagegen.float_tiff_with_nan(tmp_path / "building.tif", seed=1)
    second = imagegen.float_tiff_with_nan(tmp_path / "dinosaur.tif", seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would land inside the progress bar
        a, b = load_for_network(first), load_for_network(second)
    assert a[40:].std() > 10 and b[40:].std() > 10, "the finite part must keep its picture"
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 5, "two different pictures decode alike"
    with pytest.raises(UnreadableImage, match="finite"):
        load_for_network(imagegen.all_nan_tiff(tmp_path / "nodata.tif"))


def test_float_images_with_nan_get_distinct_descriptors(settings: Settings) -> None:
    folder = settings.image_sets / "s"
    folder.mkdir()
    imagegen.float_tiff_with_nan(folder / "building.tif", seed=1)
    imagegen.float_tiff_with_nan(folder / "dinosaur.tif", seed=5)
    index(settings, "s")
    vectors = load_store(settings.store_path("s")).vectors
    assert np.isfinite(vectors).all()
    # Decoded as all black, the two pictures got the very same descriptor (a score of 1.000).
    assert np.abs(vectors[0] - vectors[1]).max() > 1e-3


# --- 10. Colour profiles ---------------------------------------------------------------------------------


def test_embedded_colour_profiles_are_converted_to_srgb(tmp_path: Path) -> None:
    original = imagegen.saturated_photo()
    original.save(tmp_path / "srgb.png")
    original.save(tmp_path / "srgb.jpg", quality=95)
    adobe = imagegen.adobe_rgb_jpeg(tmp_path / "adobe.jpg", original)
    truth = np.asarray(open_rgb(tmp_path / "srgb.png"), np.float32)

    def error(image: Image.Image) -> float:
        return float(np.abs(np.asarray(image, np.float32) - truth).mean())

    jpeg_noise = error(open_rgb(tmp_path / "srgb.jpg"))  # what JPEG compression alone costs
    assert error(open_rgb(adobe)) < jpeg_noise + 1.0
    assert error(Image.open(adobe).convert("RGB")) > error(open_rgb(adobe)) + 3.0  # read as if sRGB


def test_a_damaged_profile_is_ignored_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "bad-profile.jpg"
    imagegen.photo(3).save(path, "JPEG", icc_profile=b"\0" * 200)
    assert open_rgb(path).size == (96, 64)


# --- 8. Content fingerprints -----------------------------------------------------------------------------


def test_an_edit_keeping_size_and_modification_time_is_described_again(settings: Settings) -> None:
    folder = settings.image_sets / "s"
    path = imagegen.save(imagegen.photo(1, (120, 90)), folder / "a.bmp")
    imagegen.save(imagegen.photo(2), folder / "b.bmp")
    index(settings, "s")
    before = load_store(settings.store_path("s"))
    stat = path.stat()
    imagegen.save(imagegen.photo(7, (120, 90)), path)  # same size (uncompressed), other pixels
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as `exiftool -P` or `touch -r` leave it
    assert path.stat().st_size == stat.st_size
    summary = index(settings, "s")
    after = load_store(settings.store_path("s"))
    assert summary.changed == 1 and summary.computed == 1
    assert not np.allclose(before.vectors[0], after.vectors[0])


def test_unchanged_files_are_checked_by_stat_alone_and_a_chmod_costs_no_descriptor(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simages.store import fingerprint

    imagegen.write_set(settings.image_sets / "s", 4)
    index(settings, "s")
    reads: list[object] = []
    real = fingerprint.sample_hash
    monkeypatch.setattr(fingerprint, "sample_hash", lambda path, size: reads.append(path) or real(path, size))
    network = CountingNetwork()
    assert index(settings, "s", network).nothing_to_do and reads == []  # no file was opened
    (settings.image_sets / "s" / "img_001.png").chmod(0o600)  # moves the change time, not the content
    summary = index(settings, "s", network)
    assert network.seen == 0 and summary.changed == 0 and len(reads) == 1


def test_stores_without_content_samples_are_upgraded_without_recomputing(settings: Settings) -> None:
    imagegen.write_set(settings.image_sets / "s", 3)
    index(settings, "s")
    old = load_store(settings.store_path("s"))
    legacy = [Fingerprint(fp.size, fp.mtime_ns) for fp in old.fingerprints]  # as format 1 stored them
    save_store(settings.store_path("s"), FeatureStore(old.names, legacy, old.vectors, old.meta))
    network = CountingNetwork()
    index(settings, "s", network)
    assert network.seen == 0
    assert all(fp.content != 0 for fp in load_store(settings.store_path("s")).fingerprints)


# --- 7. Store permissions --------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077])
def test_store_files_follow_the_umask(settings: Settings, umask: int) -> None:
    imagegen.write_set(settings.image_sets / "s", 1)
    previous = os.umask(umask)
    try:
        index(settings, "s")
        thumbnail_dir = settings.features / "t"
        from simages.store.atomic import write_atomically

        write_atomically(thumbnail_dir / "x.jpg", lambda stream: stream.write(b"x"), durable=False)
    finally:
        os.umask(previous)
    assert settings.store_path("s").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (thumbnail_dir / "x.jpg").stat().st_mode & 0o777 == 0o666 & ~umask


def _refuse_reading(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: refuse the way the OS refuses everyone else
        real_load = np.load

        def refusing_load(file, *args, **kwargs):
            if Path(file) == path:
                raise PermissionError(13, "Permission denied", str(file))
            return real_load(file, *args, **kwargs)

        monkeypatch.setattr(np, "load", refusing_load)


def test_a_store_this_user_may_not_read_is_named_as_such(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    imagegen.write_set(settings.image_sets / "s", 2)
    index(settings, "s")
    store = settings.store_path("s")
    size = store.stat().st_size
    _refuse_reading(monkeypatch, store)
    with pytest.raises(StoreNotReadable, match="not readable by this user") as caught:
        DescriptorCache().get(settings, "s")
    assert "rebuild" not in caught.value.remedy
    with pytest.raises(StoreNotReadable):
        index(settings, "s")  # never replaced by a rebuild: it is not this user's to replace
    assert store.stat().st_size == size


# --- 9. Renamed, moved or removed sets -------------------------------------------------------------------


def test_a_renamed_set_reuses_its_descriptors_and_the_old_name_is_never_served(settings: Settings) -> None:
    imagegen.write_set(settings.image_sets / "holiday", 4)
    index(settings, "holiday")
    vectors = load_store(settings.store_path("holiday")).vectors
    cache = DescriptorCache()
    assert len(cache.get(settings, "holiday")) == 4
    (settings.image_sets / "holiday").rename(settings.image_sets / "holiday 2024")
    with pytest.raises(NotIndexed):
        cache.get(settings, "holiday")  # the folder is gone: not served, even before any re-index
    network = CountingNetwork()
    summary = index(settings, "holiday 2024", network)
    assert network.seen == 0 and summary.reused == 4 and summary.total == 4
    np.testing.assert_array_equal(load_store(settings.store_path("holiday 2024")).vectors, vectors)
    assert not settings.store_path("holiday").exists()
    assert not list(vanished_dir(settings.features).glob("*.npz")), "fully reused: forgotten"


def test_images_moved_between_sets_or_renamed_are_not_described_again(settings: Settings) -> None:
    imagegen.write_set(settings.image_sets / "a", 4)
    index(settings, "a")
    (settings.image_sets / "b").mkdir()
    shutil.move(settings.image_sets / "a" / "img_000.png", settings.image_sets / "b" / "moved.png")
    os.rename(settings.image_sets / "a" / "img_001.png", settings.image_sets / "a" / "renamed.png")
    network = CountingNetwork()
    assert index(settings, "b", network).reused == 1
    summary = index(settings, "a", network)
    assert summary.reused == 1 and summary.removed == 2 and network.seen == 0


def test_a_deleted_sets_store_is_retired_never_served_and_forgotten_later(settings: Settings) -> None:
    for name in ("gone", "kept"):
        imagegen.write_set(settings.image_sets / name, 2, start_seed=10 if name == "gone" else 0)
        index(settings, name)
    shutil.rmtree(settings.image_sets / "gone")
    with pytest.raises(NotIndexed):
        DescriptorCache().get(settings, "gone")
    index(settings, "kept")
    retired = vanished_dir(settings.features) / "gone.npz"
    assert retired.is_file() and not settings.store_path("gone").exists()
    from simages.store.vanished import KEEP_SECONDS, forget_vanished

    assert forget_vanished(settings.features, set()) == []
    later = retired.stat().st_mtime + KEEP_SECONDS + 1
    assert forget_vanished(settings.features, set(), now=later) == ["gone"]


# --- Also: progress per image ----------------------------------------------------------------------------


def test_progress_moves_image_by_image_not_batch_by_batch(settings: Settings) -> None:
    folder = settings.image_sets / "s"
    imagegen.write_set(folder, 10)
    imagegen.truncated_jpeg(folder / "img_004b.jpg")
    seen: list[Progress] = []
    index(settings, "s", progress=seen.append)
    done = [p.done for p in seen]
    assert done[-1] == seen[-1].total == 11
    assert all(0 <= b - a <= distributor.PROGRESS_STEP for a, b in itertools.pairwise(done))
    assert len(set(done)) >= 11 // distributor.PROGRESS_STEP + 1


def test_odd_names_survive_the_memory_mapped_copy(settings: Settings) -> None:
    from simages.jobs.derived import refresh_derived

    for seed, name in enumerate(imagegen.ODD_NAMES):
        imagegen.save(imagegen.photo(seed), settings.image_sets / "s" / name, format="PNG")
    index(settings, "s")
    refresh_derived(settings, "s")
    from simages.store.mmap_store import mmap_path

    assert mmap_path(settings.features, "s").is_file()  # written, not skipped over an encoding error
    assert sorted(DescriptorCache().get(settings, "s").names) == sorted(imagegen.ODD_NAMES)
