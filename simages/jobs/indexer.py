"""Bringing one set's store up to date with its folder: compute what is new or changed, drop what is gone.

The expensive part, the network, is created only when at least one image needs computing, so checking an
unchanged set costs a folder listing and reading the store's metadata and names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simages.extraction.describe import describe_images, network_for
from simages.extraction.images import VANISHED
from simages.extraction.network import Network
from simages.extraction.pipeline import iter_decoded_batches
from simages.jobs.checkpoints import CheckpointWriter, clear_checkpoints, read_checkpoints
from simages.jobs.summary import IndexSummary, Progress
from simages.naming import is_inside, set_dir
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.lock import set_lock
from simages.store.npz_store import (
    FeatureStore,
    StoreError,
    expected_meta,
    is_compatible,
    load_store,
    save_store,
)
from simages.store.scan import scan_set

ProgressCallback = Callable[[Progress], None]
NetworkFactory = Callable[[], Network]

# A checkpoint every this many computed images or seconds, whichever comes first: a kill loses little,
# and the extra writes stay a small fraction of the work.
CHECKPOINT_IMAGES = 256
CHECKPOINT_SECONDS = 20.0


@dataclass
class Known:
    """Vectors already computed for this set with the current settings, by image name."""

    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    failed: dict[str, tuple[Fingerprint, str]] = field(default_factory=dict)

    def absorb(self, store: FeatureStore) -> None:
        for row, (name, fingerprint) in enumerate(zip(store.names, store.fingerprints, strict=True)):
            self.fingerprints[name] = fingerprint
            self.vectors[name] = store.vectors[row]
            self.failed.pop(name, None)
        for name, (fingerprint, reason) in store.failed.items():
            self.failed[name] = (fingerprint, reason)
            self.fingerprints.pop(name, None)
            self.vectors.pop(name, None)


@dataclass
class Plan:
    keep: list[str]
    compute: list[tuple[str, Fingerprint]]
    still_unreadable: dict[str, tuple[Fingerprint, str]]
    new: int
    changed: int
    removed: int


def make_plan(files: dict[str, Fingerprint], stored: dict[str, Fingerprint], known: Known) -> Plan:
    """Which images to keep, compute or report unreadable again; pure, so it is easy to test."""
    keep, compute, unreadable = [], [], {}
    new = changed = 0
    for name, fingerprint in files.items():
        if known.fingerprints.get(name) == fingerprint:
            keep.append(name)
        elif name in known.failed and known.failed[name][0] == fingerprint:
            unreadable[name] = known.failed[name]
        else:
            compute.append((name, fingerprint))
            if name in stored:
                changed += 1
            else:
                new += 1
    removed = sum(1 for name in stored if name not in files)
    return Plan(keep, compute, unreadable, new, changed, removed)


def _load_previous(store_path: Path, expected: dict[str, Any]) -> tuple[FeatureStore | None, str | None]:
    """The current store if it can be reused, else None and why it will be rebuilt."""
    if not store_path.exists():
        return None, None
    try:
        store = load_store(store_path)
    except StoreError as error:
        return None, f"the old store could not be read ({error})"
    if not is_compatible(store.meta, expected):
        changed = [key for key, value in expected.items() if store.meta.get(key) != value]
        return None, "settings changed: " + ", ".join(changed)
    return store, None


def index_folder(
    folder: Path,
    store_path: Path,
    settings: Settings,
    progress: ProgressCallback | None = None,
    network_factory: NetworkFactory | None = None,
    on_wait: Callable[[], None] | None = None,
) -> IndexSummary:
    """Update `store_path` to describe every image below `folder`; safe against concurrent runs and kills."""
    started = time.monotonic()
    set_name = store_path.stem
    summary = IndexSummary(set_name)
    spec = settings.descriptor
    expected = expected_meta(spec.extraction_key(), settings.weights_id())
    checkpoint_dir = settings.partial / set_name
    with set_lock(settings.locks, set_name, on_wait):
        previous, summary.rebuilt_because = _load_previous(store_path, expected)
        known = Known()
        stored: dict[str, Fingerprint] = {}
        if previous is not None:
            known.absorb(previous)
            stored = previous.entries()
            stored.update({name: fp for name, (fp, _) in previous.failed.items()})
        inside_sets = is_inside(folder.resolve(), settings.image_sets.resolve())
        listing = scan_set(folder, settings.image_sets if inside_sets else None)
        summary.skipped = listing.skipped
        chunks = read_checkpoints(checkpoint_dir, expected)
        before = dict(known.fingerprints)
        for chunk in chunks:
            known.absorb(chunk)
        plan = make_plan(listing.files, stored, known)
        summary.resumed = sum(1 for name in plan.keep if before.get(name) != known.fingerprints[name])
        summary.new, summary.changed, summary.removed = plan.new, plan.changed, plan.removed
        summary.unchanged = len(plan.keep) - summary.resumed
        failed = dict(plan.still_unreadable)

        if plan.compute:
            # A missing weights file already failed above, in settings.weights_id(), with its message.
            network = (network_factory or (lambda: network_for(settings.weights, settings.model_cache)))()
            summary.network = network.description
            writer = CheckpointWriter(checkpoint_dir, expected)
            _compute(folder, plan.compute, network, settings, writer, known, failed, progress, set_name)
            summary.computed = len(plan.compute)

        vanished = {name for name, (_, reason) in failed.items() if reason == VANISHED}
        for name in vanished:
            failed.pop(name)
        names = sorted([*plan.keep, *(name for name, _ in plan.compute if name in known.vectors)])
        summary.unreadable = {name: reason for name, (_, reason) in sorted(failed.items())}
        summary.total = len(names)
        if (
            not summary.nothing_to_do
            or previous is None
            or failed.keys() != previous.failed.keys()
            or previous.meta.get("descriptor_spec") != spec.key()
        ):
            dimension = spec.dimension
            vectors = (
                np.stack([known.vectors[name] for name in names]).astype(np.float32, copy=False)
                if names
                else np.zeros((0, dimension), np.float32)
            )
            ran = summary.network or (previous.meta.get("network") if previous else None)
            meta = {**expected, "descriptor_spec": spec.key(), "updated": time.time(), "network": ran}
            store = FeatureStore(names, [known.fingerprints[name] for name in names], vectors, meta, failed)
            save_store(store_path, store)
        clear_checkpoints(checkpoint_dir)
    summary.seconds = time.monotonic() - started
    return summary


def _compute(
    folder: Path,
    items: list[tuple[str, Fingerprint]],
    network: Network,
    settings: Settings,
    writer: CheckpointWriter,
    known: Known,
    failed: dict[str, tuple[Fingerprint, str]],
    progress: ProgressCallback | None,
    set_name: str,
) -> None:
    fingerprints = dict(items)
    pending_names: list[str] = []
    pending_vectors: list[np.ndarray] = []
    pending_failed: dict[str, tuple[Fingerprint, str]] = {}
    last_checkpoint = time.monotonic()
    done = 0
    total = len(items)
    if progress:
        progress(Progress(set_name, 0, total))
    paths: Iterable[tuple[str, Path]] = ((name, folder / name) for name, _ in items)
    for batch in iter_decoded_batches(paths, settings.batch_size, settings.max_image_pixels):
        for name, reason in batch.failures:
            pending_failed[name] = failed[name] = (fingerprints[name], reason)
        if batch.names:
            vectors = describe_images(network, batch.images, settings.descriptor)
            for name, vector in zip(batch.names, vectors, strict=True):
                known.fingerprints[name] = fingerprints[name]
                known.vectors[name] = vector
            pending_names.extend(batch.names)
            pending_vectors.append(vectors)
        done += len(batch.names) + len(batch.failures)
        if progress:
            progress(Progress(set_name, done, total))
        if len(pending_names) >= CHECKPOINT_IMAGES or time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS:
            _flush(writer, pending_names, pending_vectors, pending_failed, fingerprints)
            last_checkpoint = time.monotonic()
    _flush(writer, pending_names, pending_vectors, pending_failed, fingerprints)


def _flush(
    writer: CheckpointWriter,
    names: list[str],
    vectors: list[np.ndarray],
    failed: dict[str, tuple[Fingerprint, str]],
    fingerprints: dict[str, Fingerprint],
) -> None:
    if names or failed:
        writer.write(names, [fingerprints[name] for name in names], np.concatenate(vectors), failed)
    names.clear()
    vectors.clear()
    failed.clear()


def index_set(
    settings: Settings,
    set_name: str,
    progress: ProgressCallback | None = None,
    network_factory: NetworkFactory | None = None,
    on_wait: Callable[[], None] | None = None,
) -> IndexSummary:
    """Index `image_sets/<set_name>` into `features/<set_name>.npz`."""
    folder = set_dir(settings.image_sets, set_name)
    return index_folder(folder, settings.store_path(set_name), settings, progress, network_factory, on_wait)
