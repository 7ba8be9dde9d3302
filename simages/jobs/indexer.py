"""Bringing one set's store up to date with its folder: compute what is new or changed, drop what is gone.

The expensive part, the network, is created only when at least one image needs computing, so checking an
unchanged set costs a folder listing and reading the store's metadata and names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simages.extraction.image_errors import NOT_AN_IMAGE, VANISHED
from simages.extraction.images import claims_image
from simages.extraction.network import Network
from simages.jobs.batch_times import StageTimes
from simages.jobs.checkpoints import CheckpointWriter, clear_checkpoints, read_checkpoints
from simages.jobs.distributor import Distributor, open_distributor
from simages.jobs.summary import IndexSummary, Progress
from simages.jobs.writer import CHECKPOINT_IMAGES, CHECKPOINT_SECONDS, BatchWriter, write_store
from simages.naming import is_inside, set_dir
from simages.settings import Settings
from simages.store.atomic import remove_stale_temporaries
from simages.store.content_hash import file_digest
from simages.store.fingerprint import Fingerprint, same_version
from simages.store.lock import set_lock
from simages.store.npz_store import (
    FeatureStore,
    StoreError,
    StoreFromNewerVersion,
    StoreNotReadable,
    expected_meta,
    is_compatible,
    load_store,
)
from simages.store.reuse import donor_stores, find_vectors, live_digests
from simages.store.scan import scan_set
from simages.store.vanished import forget_vanished, retire_vanished, vanished_dir

ProgressCallback = Callable[[Progress], None]
NetworkFactory = Callable[[], Network]

# CHECKPOINT_IMAGES / CHECKPOINT_SECONDS (from writer.py) are read from this module at each run, so a
# test can make checkpoints frequent.
__all__ = ["CHECKPOINT_IMAGES", "CHECKPOINT_SECONDS", "index_folder", "index_set"]


@dataclass
class Known:
    """Vectors already computed for this set with the current settings, by image name."""

    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    failed: dict[str, tuple[Fingerprint, str]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)  # name -> whole-file digest, when known

    def absorb(self, store: FeatureStore) -> None:
        for row, (name, fingerprint) in enumerate(zip(store.names, store.fingerprints, strict=True)):
            self.fingerprints[name] = fingerprint
            self.vectors[name] = store.vectors[row]
            self.failed.pop(name, None)
            if name in store.digests:
                self.digests[name] = store.digests[name]
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


def make_plan(
    files: dict[str, Fingerprint],
    stored: dict[str, Fingerprint],
    known: Known,
    folder: Path | None = None,
) -> Plan:
    """Which images to keep, compute or report unreadable again. With `folder`, a file whose change time
    moved is compared by content (see store.fingerprint), and `files` gets each kept or computed file's
    completed fingerprint; without it, nothing is read and such a file is computed again."""
    keep, compute, unreadable = [], [], {}
    new = changed = 0
    for name, fingerprint in list(files.items()):
        path = folder / name if folder is not None else None
        same = same_version(fingerprint, known.fingerprints.get(name), path)
        again = None if name not in known.failed else same_version(fingerprint, known.failed[name][0], path)
        if same is not None:
            files[name] = same
            keep.append(name)
        elif again is not None:
            files[name] = again
            unreadable[name] = (again, known.failed[name][1])
        else:
            if path is not None:
                files[name] = fingerprint = fingerprint.with_content(path)
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
    except (StoreNotReadable, StoreFromNewerVersion):
        raise  # another user's store, or a newer SIMages': replacing it is not ours to do
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
    set_name: str | None = None,
) -> IndexSummary:
    """Update `store_path` to describe every image below `folder`; safe against concurrent runs and kills.
    `set_name` names the run's checkpoints, lock and summary (default: the store's file name)."""
    started = time.monotonic()
    set_name = set_name or store_path.stem
    summary = IndexSummary(set_name)
    spec = settings.descriptor
    expected = expected_meta(spec.extraction_key(), settings.weights_id())
    checkpoint_dir = settings.partial_dir(set_name)
    with set_lock(settings.locks, set_name, on_wait):
        previous, summary.rebuilt_because = _load_previous(store_path, expected)
        known = Known()
        stored: dict[str, Fingerprint] = {}
        if previous is not None:
            known.absorb(previous)
            stored = previous.entries()
            stored.update({name: fp for name, (fp, _) in previous.failed.items()})
        inside_sets = is_inside(folder.resolve(), settings.image_sets.resolve())
        # A set linked in from elsewhere: links inside it may point within its own real folder.
        listing = scan_set(folder, settings.image_sets if inside_sets else folder.resolve())
        summary.skipped = listing.skipped
        chunks = read_checkpoints(checkpoint_dir, expected)
        before = dict(known.fingerprints)
        for chunk in chunks:
            known.absorb(chunk)
        plan = make_plan(listing.files, stored, known, folder)
        summary.resumed = sum(1 for name in plan.keep if before.get(name) != known.fingerprints[name])
        summary.new, summary.changed, summary.removed = plan.new, plan.changed, plan.removed
        summary.unchanged = len(plan.keep) - summary.resumed
        failed = dict(plan.still_unreadable)
        # Kept entries take the listing's fingerprint: a new change time, or the sample an older store lacked.
        upgraded = [name for name in plan.keep if listing.files[name] != known.fingerprints[name]]
        for name in plan.keep:
            known.fingerprints[name] = listing.files[name]
        summary.reused = _reuse_by_content(folder, plan, known, settings, store_path, expected)
        plan.compute = [(name, fp) for name, fp in plan.compute if known.fingerprints.get(name) != fp]

        if plan.compute:
            # A missing weights file already failed above, in settings.weights_id(), with its message.
            fingerprints = dict(plan.compute)
            with open_distributor(settings, network_factory) as distributor:
                writer = BatchWriter(
                    CheckpointWriter(checkpoint_dir, expected),
                    fingerprints,
                    spec.dimension,
                    CHECKPOINT_IMAGES,
                    CHECKPOINT_SECONDS,
                )
                times, summary.network = _compute(
                    folder, fingerprints, distributor, settings, writer, progress, set_name
                )
                summary.distributor = distributor.description
            computed = writer.result(expected)
            known.absorb(computed)
            failed.update(computed.failed)
            summary.computed = len(plan.compute)
            summary.stages = dict(times.seconds)
        elif progress and summary.reused:
            progress(Progress(set_name, summary.reused, summary.reused))

        vanished = {name for name, (_, reason) in failed.items() if reason == VANISHED}
        for name in vanished:
            failed.pop(name)
        names = sorted(
            name
            for name in listing.files
            if name in known.vectors and name not in failed and name not in vanished
        )
        for name, (_, reason) in sorted(failed.items()):
            # A file that is no image at all (notes, sidecars) is skipped with a word, not "unreadable".
            # (By its name: a cluster worker decodes bytes and cannot know whether the name claims an image.)
            skip = reason.startswith(NOT_AN_IMAGE) and not claims_image(name)
            (summary.skipped if skip else summary.unreadable)[name] = reason
        summary.total = len(names)
        if (
            not summary.nothing_to_do
            or upgraded
            or previous is None
            or failed.keys() != previous.failed.keys()
            or previous.meta.get("descriptor_spec") != spec.key()
        ):
            ran = summary.network or (previous.meta.get("network") if previous else None)
            meta = {**expected, "descriptor_spec": spec.key(), "updated": time.time(), "network": ran}
            write_store(
                store_path, names, known.fingerprints, known.vectors, failed, meta, spec.dimension,
                known.digests,
            )
        clear_checkpoints(checkpoint_dir)
    summary.seconds = time.monotonic() - started
    return summary


def _reuse_by_content(
    folder: Path,
    plan: Plan,
    known: Known,
    settings: Settings,
    store_path: Path,
    expected: dict[str, Any],
) -> int:
    """Give the images to compute a vector found by content: in this set under another name (a file
    renamed or moved inside it) or in another store, live or retired (a renamed set, a file moved between
    sets). Returns how many were reused; the others keep their digest for the store."""
    digests: dict[str, str] = {}
    for name, _ in plan.compute:
        try:
            digests[name] = file_digest(folder / name)
        except OSError:
            continue  # unreadable or gone: the decoder will say why
    if not digests:
        return 0
    by_digest = {
        digest: known.vectors[name] for name, digest in known.digests.items() if name in known.vectors
    }
    missing = set(digests.values()) - by_digest.keys()
    if missing:
        by_digest.update(find_vectors(donor_stores(settings.features, store_path), missing, expected))
    reused = 0
    fingerprints = dict(plan.compute)
    for name, digest in digests.items():
        known.digests[name] = digest
        if digest in by_digest:
            known.vectors[name] = by_digest[digest]
            known.fingerprints[name] = fingerprints[name]
            known.failed.pop(name, None)
            reused += 1
    return reused


def _compute(
    folder: Path,
    fingerprints: dict[str, Fingerprint],
    distributor: Distributor,
    settings: Settings,
    writer: BatchWriter,
    progress: ProgressCallback | None,
    set_name: str,
) -> tuple[StageTimes, str | None]:
    """Run the mappers over the images to compute and hand their batches to the writer; the stage
    times and the network's description."""
    done = 0
    total = len(fingerprints)
    times = StageTimes()
    network: str | None = None
    if progress:
        progress(Progress(set_name, 0, total))
    reader = distributor.reader(folder, list(fingerprints), settings.batch_size, fingerprints)
    try:
        for batch in distributor.map(reader, settings.descriptor, settings.max_image_pixels):
            network = network or batch.network
            times.add(batch, writer.add(batch))
            done += len(batch.names) + len(batch.failures)
            if progress:
                progress(Progress(set_name, done, total))
    finally:
        # Also when a run fails or is interrupted: what came back is kept for the next run.
        writer.flush()
    return times, network


def index_set(
    settings: Settings,
    set_name: str,
    progress: ProgressCallback | None = None,
    network_factory: NetworkFactory | None = None,
    on_wait: Callable[[], None] | None = None,
) -> IndexSummary:
    """Index `image_sets/<set_name>` into `features/<set_name>.npz`.

    Stores of sets whose folder is gone are retired first (never served again, kept for reuse by
    content, see store.vanished)."""
    folder = set_dir(settings.image_sets, set_name)
    remove_stale_temporaries(settings.features)  # half-written stores of killed runs
    retire_vanished(settings.features, settings.image_sets)
    store_path = settings.store_path(set_name)
    summary = index_folder(folder, store_path, settings, progress, network_factory, on_wait, set_name)
    if any(vanished_dir(settings.features).glob("*.npz")):
        forget_vanished(settings.features, live_digests(settings.features))
    return summary
