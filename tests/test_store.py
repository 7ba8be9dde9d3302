"""The feature store: round trip, atomic replacement, settings recorded and checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import (
    FeatureStore,
    StoreError,
    expected_meta,
    is_compatible,
    load_store,
    read_meta,
    read_names_count,
    save_store,
)


def _store(n: int = 3, d: int = 4) -> FeatureStore:
    names = [f"sub/img {i}#?.jpg" for i in range(n)]
    fps = [Fingerprint(100 + i, 10**18 + i) for i in range(n)]
    vectors = np.arange(n * d, dtype=np.float32).reshape(n, d)
    failed = {"broken.jpg": (Fingerprint(5, 7), "not an image")}
    return FeatureStore(names, fps, vectors, expected_meta("gap+l2", "sha256:abc"), failed)


def test_round_trip_keeps_names_fingerprints_vectors_and_failures(tmp_path: Path) -> None:
    path = tmp_path / "set.npz"
    save_store(path, _store())
    loaded = load_store(path)
    assert loaded.names == _store().names
    assert loaded.fingerprints == _store().fingerprints
    np.testing.assert_array_equal(loaded.vectors, _store().vectors)
    assert loaded.failed == _store().failed
    assert read_meta(path)["descriptor"] == "gap+l2"
    assert read_names_count(path) == 3


def test_store_is_a_compressed_npz_readable_without_pickle(tmp_path: Path) -> None:
    path = tmp_path / "set.npz"
    save_store(path, _store())
    with np.load(path, allow_pickle=False) as data:
        assert {"names", "sizes", "mtimes", "vectors", "meta"} <= set(data.files)


def test_empty_store_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    save_store(path, FeatureStore([], [], np.zeros((0, 512), np.float32), {"format_version": 1}))
    assert len(load_store(path)) == 0


def test_damaged_store_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(StoreError):
        load_store(path)
    assert read_meta(path) is None


def test_other_settings_are_not_compatible() -> None:
    expected = expected_meta("gap+l2", "sha256:abc")
    assert is_compatible(dict(expected, updated=1.0), expected)
    assert not is_compatible(expected_meta("flat", "sha256:abc"), expected)
    assert not is_compatible(expected_meta("gap+l2", "sha256:other"), expected)
    assert not is_compatible(dict(expected, format_version=0), expected)


def test_a_write_killed_midway_leaves_the_previous_store_loadable(tmp_path: Path) -> None:
    path = tmp_path / "set.npz"
    save_store(path, _store(3))
    # A child process starts writing a big store and is killed hard while np.savez_compressed runs.
    script = f"""
import os, signal, threading, numpy as np
from pathlib import Path
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store
n = 20000
store = FeatureStore([f"x{{i}}" for i in range(n)], [Fingerprint(1, 1)] * n,
                     np.random.default_rng(0).random((n, 512), dtype=np.float32), {{}})
threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
save_store(Path({str(path)!r}), store)
"""
    result = subprocess.run([sys.executable, "-c", script], timeout=120)
    assert result.returncode == -9, "the writer was supposed to be killed while writing"
    loaded = load_store(path)
    assert len(loaded) == 3
    leftovers = [p for p in os.listdir(tmp_path) if p != "set.npz"]
    # A temporary file may remain; it is hidden and never mistaken for a store.
    assert all(name.startswith(".") for name in leftovers)
