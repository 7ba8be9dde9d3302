"""Incremental indexing with a stand-in network: only new or changed images are computed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from imagegen import photo, save, write_set

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.network import TinyNetwork
from simages.jobs.indexer import index_set
from simages.settings import MissingWeightsError, Settings
from simages.store.npz_store import load_store


class CountingNetwork(TinyNetwork):
    """The stand-in network, counting how many images it was asked to describe."""

    instances = 0

    def __init__(self) -> None:
        super().__init__()
        CountingNetwork.instances += 1
        self.seen = 0

    def maps(self, images: np.ndarray) -> np.ndarray:
        self.seen += len(images)
        return super().maps(images)


@pytest.fixture
def network() -> CountingNetwork:
    return CountingNetwork()


def test_first_run_indexes_every_image_with_sub_folders(settings: Settings, network: CountingNetwork) -> None:
    folder = settings.image_sets / "s"
    write_set(folder, 4)
    write_set(folder / "nested" / "deeper", 2, start_seed=10)
    summary = index_set(settings, "s", network_factory=lambda: network)
    store = load_store(settings.store_path("s"))
    assert summary.new == 6 and summary.total == 6 and network.seen == 6
    assert "nested/deeper/img_010.png" in store.names
    assert store.vectors.shape == (6, 512)
    assert store.meta["descriptor"] == settings.descriptor.extraction_key()


def test_second_run_does_not_even_create_the_network(settings: Settings) -> None:
    write_set(settings.image_sets / "s", 3)
    index_set(settings, "s", network_factory=CountingNetwork)
    before = CountingNetwork.instances
    mtime = settings.store_path("s").stat().st_mtime_ns
    summary = index_set(settings, "s", network_factory=CountingNetwork)
    assert summary.nothing_to_do and summary.total == 3
    assert CountingNetwork.instances == before, "the model was loaded although nothing changed"
    assert settings.store_path("s").stat().st_mtime_ns == mtime, "an unchanged store was rewritten"


def test_add_change_remove_recomputes_exactly_the_difference(
    settings: Settings, network: CountingNetwork
) -> None:
    folder = settings.image_sets / "s"
    write_set(folder, 6)
    index_set(settings, "s", network_factory=lambda: network)
    first = load_store(settings.store_path("s"))
    network.seen = 0
    for name in ("img_000.png", "img_001.png", "img_002.png"):
        (folder / name).unlink()
    save(photo(50), folder / "new_a.png")
    save(photo(51), folder / "new_b.png")
    save(photo(99), folder / "img_005.png")  # changed content
    future = time.time() + 5
    os.utime(folder / "img_005.png", (future, future))
    summary = index_set(settings, "s", network_factory=lambda: network)
    assert (summary.new, summary.changed, summary.removed) == (2, 1, 3)
    assert network.seen == 3
    store = load_store(settings.store_path("s"))
    assert store.names == ["img_003.png", "img_004.png", "img_005.png", "new_a.png", "new_b.png"]
    # Unchanged images keep their vectors; the changed one got a new one.
    old = dict(zip(first.names, first.vectors, strict=True))
    new = dict(zip(store.names, store.vectors, strict=True))
    np.testing.assert_array_equal(old["img_003.png"], new["img_003.png"])
    assert not np.allclose(old["img_005.png"], new["img_005.png"])


def test_settings_change_rebuilds_the_store(settings: Settings, network: CountingNetwork) -> None:
    write_set(settings.image_sets / "s", 3)
    index_set(settings, "s", network_factory=lambda: network)
    flat = settings.with_(descriptor=DescriptorSpec.parse("flat"))
    summary = index_set(flat, "s", network_factory=lambda: network)
    assert summary.rebuilt_because and "descriptor" in summary.rebuilt_because
    store = load_store(settings.store_path("s"))
    assert store.meta["descriptor"] == "flat" and store.vectors.shape == (3, 7 * 7 * 512)


def test_older_format_or_damaged_store_is_rebuilt_not_misread(
    settings: Settings, network: CountingNetwork
) -> None:
    write_set(settings.image_sets / "s", 2)
    settings.store_path("s").write_bytes(b"garbage")
    summary = index_set(settings, "s", network_factory=lambda: network)
    assert summary.rebuilt_because and summary.total == 2
    assert len(load_store(settings.store_path("s"))) == 2


def test_unreadable_files_are_skipped_reported_and_not_retried(
    settings: Settings, network: CountingNetwork
) -> None:
    folder = settings.image_sets / "s"
    write_set(folder, 2)
    (folder / "notes.jpg").write_text("not a picture")
    (folder / "empty.png").write_bytes(b"")
    (folder / "readme.txt").write_text("ignored: not an image extension")
    summary = index_set(settings, "s", network_factory=lambda: network)
    assert summary.total == 2
    assert set(summary.unreadable) == {"notes.jpg", "empty.png"}
    network.seen = 0
    again = index_set(settings, "s", network_factory=lambda: network)
    assert again.nothing_to_do and set(again.unreadable) == {"notes.jpg", "empty.png"}
    assert network.seen == 0


def test_missing_weights_file_gives_a_clear_message(root: Path) -> None:
    settings = Settings(root=root, weights=root / "nowhere.h5")
    write_set(settings.image_sets / "s", 1)
    with pytest.raises(MissingWeightsError, match="SIMAGES_WEIGHTS"):
        index_set(settings, "s")


def test_unknown_set_is_a_lookup_error(settings: Settings) -> None:
    with pytest.raises(LookupError, match="no image set"):
        index_set(settings, "nope")


def test_whitening_switch_updates_the_store_without_recomputing(
    settings: Settings, network: CountingNetwork
) -> None:
    write_set(settings.image_sets / "s", 3)
    index_set(settings, "s", network_factory=lambda: network)
    network.seen = 0
    whitened = settings.with_(descriptor=DescriptorSpec.parse(settings.descriptor.key() + "+whiten"))
    summary = index_set(whitened, "s", network_factory=lambda: network)
    assert network.seen == 0 and summary.rebuilt_because is None
    assert DescriptorSpec.parse(load_store(settings.store_path("s")).meta["descriptor_spec"]).whiten
