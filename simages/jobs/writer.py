"""The writer: the only code that writes a set's store, and it runs only in the indexing client.

While a run goes on, it collects the mappers' batches (in whatever order they finish) and checkpoints
them to `features/.partial/<set>/` every so often, so a killed run loses at most one checkpoint's worth;
at the end the indexer has it replace the store atomically. The caller holds the set's lock throughout.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from simages.jobs.checkpoints import CheckpointWriter
from simages.jobs.mapper import MappedBatch
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

# A checkpoint every this many computed images or seconds, whichever comes first: a kill loses little,
# and the extra writes stay a small fraction of the work.
CHECKPOINT_IMAGES = 256
CHECKPOINT_SECONDS = 20.0


class BatchWriter:
    """Collects mapped batches of one run and checkpoints them; `result()` is everything computed."""

    def __init__(
        self,
        checkpoints: CheckpointWriter,
        fingerprints: dict[str, Fingerprint],
        dimension: int,
        every_images: int | None = None,
        every_seconds: float | None = None,
    ) -> None:
        self.checkpoints = checkpoints
        self.fingerprints = fingerprints  # of every image the run computes, as listed before the run
        self.dimension = dimension
        self.every_images = every_images if every_images is not None else CHECKPOINT_IMAGES
        self.every_seconds = every_seconds if every_seconds is not None else CHECKPOINT_SECONDS
        self.vectors: dict[str, np.ndarray] = {}
        self.failed: dict[str, tuple[Fingerprint, str]] = {}
        self._pending_names: list[str] = []
        self._pending_vectors: list[np.ndarray] = []
        self._pending_failed: dict[str, tuple[Fingerprint, str]] = {}
        self._last = time.monotonic()

    def add(self, batch: MappedBatch) -> float:
        """Take one batch (checkpointing when one is due); the seconds it took."""
        started = time.perf_counter()
        for name, reason in batch.failures:
            self._pending_failed[name] = self.failed[name] = (self.fingerprints[name], reason)
        for name, vector in zip(batch.names, batch.vectors, strict=True):
            self.vectors[name] = vector
        if batch.names:
            self._pending_names.extend(batch.names)
            self._pending_vectors.append(batch.vectors)
        if (
            len(self._pending_names) >= self.every_images
            or time.monotonic() - self._last > self.every_seconds
        ):
            self.flush()
        return time.perf_counter() - started

    def flush(self) -> None:
        """Write what is pending as one checkpoint chunk (nothing if nothing is pending)."""
        if self._pending_names or self._pending_failed:
            vectors = (
                np.concatenate(self._pending_vectors)
                if self._pending_vectors
                else np.zeros((0, self.dimension), np.float32)
            )
            names = self._pending_names
            fingerprints = [self.fingerprints[name] for name in names]
            self.checkpoints.write(names, fingerprints, vectors, self._pending_failed)
        self._pending_names, self._pending_vectors, self._pending_failed = [], [], {}
        self._last = time.monotonic()

    def result(self, meta: dict[str, Any]) -> FeatureStore:
        """Everything computed so far as a store-shaped value (not written), to merge into the set's."""
        names = sorted(self.vectors)
        vectors = (
            np.stack([self.vectors[n] for n in names]).astype(np.float32, copy=False)
            if names
            else np.zeros((0, self.dimension), np.float32)
        )
        return FeatureStore(names, [self.fingerprints[n] for n in names], vectors, meta, dict(self.failed))


def write_store(
    store_path: Path,
    names: list[str],
    fingerprints: dict[str, Fingerprint],
    vectors: dict[str, np.ndarray],
    failed: dict[str, tuple[Fingerprint, str]],
    meta: dict[str, Any],
    dimension: int,
    digests: dict[str, str] | None = None,
) -> None:
    """Replace the store atomically with `names` (in that order) and the unreadable files `failed`;
    `digests` (name -> whole-file digest) lets later runs reuse these vectors by content."""
    stacked = (
        np.stack([vectors[name] for name in names]).astype(np.float32, copy=False)
        if names
        else np.zeros((0, dimension), np.float32)
    )
    known_digests = {name: digests[name] for name in names if name in (digests or {})}
    store = FeatureStore(names, [fingerprints[name] for name in names], stacked, meta, failed, known_digests)
    save_store(store_path, store)
