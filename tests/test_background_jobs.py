"""Indexing in spawned worker processes, observed through statuses; folders are watched."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from imagegen import photo, save, write_set

from simages.cli import main
from simages.extraction.image_errors import UnreadableImage
from simages.extraction.network import TinyNetwork
from simages.jobs import status as st
from simages.jobs.manager import IndexManager
from simages.settings import Settings
from simages.store.npz_store import load_store


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_manager_indexes_every_set_in_a_worker_process(settings: Settings) -> None:
    write_set(settings.image_sets / "a", 5)
    write_set(settings.image_sets / "b", 3, start_seed=20)
    manager = IndexManager(settings, network_factory=TinyNetwork, watch=False)
    manager.start()
    try:
        assert manager.wait_until_idle(120)
        states = {s.name: (s.state, s.count) for s in manager.statuses()}
        assert states == {"a": (st.INDEXED, 5), "b": (st.INDEXED, 3)}
        assert manager._indexer is not None and manager._indexer.process.pid != os.getpid()
    finally:
        manager.stop()


def test_progress_is_reported_while_indexing(settings: Settings) -> None:
    write_set(settings.image_sets / "big", 80)
    manager = IndexManager(settings.with_(batch_size=4), network_factory=TinyNetwork, watch=False)
    seen: set[tuple[int, int]] = set()
    manager.start()
    try:

        def finished() -> bool:
            status = manager.status("big")
            if status.state == st.INDEXING and status.total:
                seen.add((status.done, status.total))
            return status.state == st.INDEXED

        assert _wait_for(finished, 120)
    finally:
        manager.stop()
    assert any(0 < done < total for done, total in seen), f"no intermediate progress seen: {sorted(seen)}"


def test_dropped_folder_and_changed_files_are_indexed_without_asking(settings: Settings) -> None:
    write_set(settings.image_sets / "first", 2)
    manager = IndexManager(settings, network_factory=TinyNetwork, watch=True, debounce_ms=300)
    manager.start()
    try:
        assert manager.wait_until_idle(120)
        staging = settings.root / "staging"
        write_set(staging, 3, start_seed=40)
        shutil.move(staging, settings.image_sets / "dropped")
        assert _wait_for(
            lambda: manager.status("dropped").state == st.INDEXED and manager.status("dropped").count == 3
        )
        save(photo(77), settings.image_sets / "first" / "added.png")
        (settings.image_sets / "first" / "img_000.png").unlink()
        assert _wait_for(
            lambda: (
                "added.png" in load_store(settings.store_path("first")).names
                and "img_000.png" not in load_store(settings.store_path("first")).names
            )
        )
        shutil.rmtree(settings.image_sets / "dropped")
        assert _wait_for(lambda: "dropped" not in {s.name for s in manager.statuses()})
    finally:
        manager.stop()


def test_uploads_are_described_in_the_background(settings: Settings, tmp_path: Path) -> None:
    manager = IndexManager(settings, network_factory=TinyNetwork, watch=False)
    manager.start([])
    try:
        upload = save(photo(3), tmp_path / "upload.png")
        vector = manager.describe_upload_sync(upload, timeout=120)
        assert vector.shape == (512,) and np.isclose(np.linalg.norm(vector), 1.0, atol=1e-4)
        text = tmp_path / "upload.jpg"
        text.write_text("hello")
        with pytest.raises(UnreadableImage, match="not an image"):
            manager.describe_upload_sync(text, timeout=120)
    finally:
        manager.stop()


def test_cli_index_summarises_and_reports_unreadable(
    root: Path, capsys, monkeypatch, weights_path: Path
) -> None:
    write_set(root / "image_sets" / "s", 3)
    (root / "image_sets" / "s" / "broken.jpg").write_text("nope")
    assert main(["--root", str(root), "--weights", str(weights_path), "index", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "s: 3 images; 4 new, 0 changed, 0 removed; 1 unreadable" in out
    assert "unreadable: broken.jpg" in out
    assert main(["--root", str(root), "--weights", str(weights_path), "index", "s"]) == 0
    assert "s: up to date, 3 images" in capsys.readouterr().out


def test_cli_index_rejects_unknown_set(root: Path, capsys) -> None:
    assert main(["--root", str(root), "index", "../etc"]) == 2
    assert "sub-folders of" in capsys.readouterr().err



def test_small_sets_are_indexed_before_big_ones(settings: Settings) -> None:
    write_set(settings.image_sets / "a_big", 30)
    write_set(settings.image_sets / "z_small", 2, start_seed=50)
    manager = IndexManager(settings.with_(batch_size=2), network_factory=TinyNetwork, watch=False)
    finished: list[str] = []
    manager.start()
    try:

        def record() -> bool:
            for status in manager.statuses():
                if status.state == st.INDEXED and status.name not in finished:
                    finished.append(status.name)
            return len(finished) == 2

        assert _wait_for(record, 120)
    finally:
        manager.stop()
    assert finished == ["z_small", "a_big"]


def test_without_weights_indexing_and_uploads_say_what_is_missing(root: Path, tmp_path: Path) -> None:
    settings = Settings(root=root, weights=root / "missing.h5")
    write_set(settings.image_sets / "s", 2)
    manager = IndexManager(settings, watch=False)
    manager.start()
    try:
        assert _wait_for(lambda: manager.status("s").state == st.FAILED, 120)
        assert "SIMAGES_WEIGHTS" in manager.status("s").message
        upload = save(photo(1), tmp_path / "key.png")
        with pytest.raises(UnreadableImage, match="weights file not found"):
            manager.describe_upload_sync(upload, timeout=120)
    finally:
        manager.stop()


def test_the_apps_indexer_keeps_an_atlas_map_and_a_one_shot_index_does_not(settings: Settings) -> None:
    from simages.atlas.cache import load_map, map_path

    write_set(settings.image_sets / "a", 5)
    for build_atlas in (False, True):
        manager = IndexManager(settings, network_factory=TinyNetwork, watch=False, build_atlas=build_atlas)
        manager.start()
        try:
            assert manager.wait_until_idle(120)
            wanted = "atlas map" if build_atlas else ""
            # The atlas comes after the search files; the derived message names it once it is kept.
            assert _wait_for(lambda m=manager, w=wanted: (d := m.derived("a")) is not None and w in d, 60)
        finally:
            manager.stop()  # the worker has ended: nothing more can be written
        found = load_map(map_path(settings.features, "a"))
        assert (found is not None and len(found) == 5) if build_atlas else found is None
