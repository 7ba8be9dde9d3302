"""Checkpoints of a run in progress, so that a killed indexer loses at most one chunk of work.

Each chunk is a small store of freshly computed vectors, written atomically next to the real store
(`features/.partial/<set>/chunk-NNNNN.npz`). The next run for the set reads the chunks whose settings
match and reuses every vector whose file is unchanged; a finished run merges them and deletes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, StoreError, is_compatible, load_store, save_store


class CheckpointWriter:
    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        self.folder = folder
        self.meta = meta
        existing = sorted(folder.glob("chunk-*.npz")) if folder.is_dir() else []
        self._next = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0

    def write(
        self,
        names: list[str],
        fingerprints: list[Fingerprint],
        vectors: np.ndarray,
        failed: dict[str, tuple[Fingerprint, str]],
    ) -> None:
        if not names and not failed:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        chunk = FeatureStore(list(names), list(fingerprints), vectors, dict(self.meta), dict(failed))
        save_store(self.folder / f"chunk-{self._next:05d}.npz", chunk)
        self._next += 1


def read_checkpoints(folder: Path, expected: dict[str, Any]) -> list[FeatureStore]:
    """Chunks written with the same settings; damaged or foreign ones are ignored (and recomputed)."""
    if not folder.is_dir():
        return []
    chunks = []
    for path in sorted(folder.glob("chunk-*.npz")):
        try:
            chunk = load_store(path)
        except (StoreError, OSError):
            continue
        if is_compatible(chunk.meta, expected):
            chunks.append(chunk)
    return chunks


def clear_checkpoints(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
