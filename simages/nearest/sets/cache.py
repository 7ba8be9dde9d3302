"""Descriptors loaded once per process and reused until their store file changes.

Every `get` costs one `os.stat`: the store is identified by (mtime_ns, size, inode), and because stores
are replaced by an atomic rename a rewrite always changes the inode, even within one mtime tick.
A store with a fresh memory-mappable copy (`store.mmap_store`, written after indexing) is opened from
it (no decompression, nothing to learn); otherwise the `.npz` is read.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from simages.copies.space import (
    CollectionSpace,
    collection_spaces,
    in_space,
    inputs_identity,
    stored_kind,
)
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.naming import validate_set_name
from simages.nearest.core.intents import Intent
from simages.nearest.core.set_index import SetIndex
from simages.nearest.sets.mapped_index import mapped_reading, open_mapped
from simages.settings import Settings
from simages.store.npz_store import FeatureStore, check_not_newer, load_store
from simages.training.registry import head_version


class NotIndexed(LookupError):
    """A set without a feature store; the message tells the user how to build one."""

    def __init__(self, set_name: str, exists: bool = True, settings: Settings | None = None) -> None:
        if exists:
            index = settings.command(f"index {set_name}") if settings else f"simages index {set_name}"
            message = f"set {set_name!r} is not indexed yet; run `{index}` first"
        else:
            message = f"there is no image set {set_name!r}: sets are the sub-folders of image_sets/"
        super().__init__(message)
        self.set_name = set_name


def _identity(path: Path) -> tuple[int, int, int]:
    stat = os.stat(path)
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class DescriptorCache:
    """Thread-safe map from (store file, descriptor asked for) to its SetIndex. Loads of different sets may
    run in parallel; concurrent requests for the same set wait for a single load."""

    # A file replaced while being read is read again; more changes than this in a row is an error.
    _MAX_RELOADS = 5

    def __init__(self) -> None:
        # Keyed by the store file and the descriptor key asked for (None: the store's own descriptor).
        self._entries: dict[tuple[Path, str | None], SetIndex] = {}
        self._guard = threading.Lock()
        self._path_locks: dict[Path, threading.Lock] = {}
        self.loads = 0  # how many times a store was actually read; lets tests and benchmarks see reuse
        # The collection's duplicates spaces (simages.copies.space), valid while no store changes.
        self._spaces: tuple[tuple, dict[str, CollectionSpace]] | None = None

    def _lock_for(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._path_locks.setdefault(path, threading.Lock())

    def get(
        self, settings: Settings, set_name: str, descriptor: DescriptorSpec | Intent | None = None
    ) -> SetIndex:
        """The join-ready index of a set, with the store's own descriptor, with `descriptor` (which may
        differ from it only in PCA, whitening or query expansion, see SetIndex.from_store), or with what an
        intent makes of the store's descriptor (`Intent.descriptor`). InvalidName for a bad name,
        NotIndexed when there is no store, StoreError when the store cannot be read, DescriptorMismatch
        when `descriptor` needs other stored vectors."""
        validate_set_name(set_name)
        path = settings.store_path(set_name)
        if not (settings.image_sets / set_name).is_dir():
            # A renamed or removed set: its old store may linger until the next indexing run retires it
            # (store.vanished), but answers about a set that no longer exists are never given.
            self.forget(path)
            raise NotIndexed(set_name, exists=False, settings=settings)
        if isinstance(descriptor, Intent) and descriptor.keeps_learned_parts:
            descriptor = None  # the similar intent reads a store with its own descriptor
        spaces: dict[str, CollectionSpace] = {}
        if isinstance(descriptor, Intent):
            wanted: str | None = f"intent:{descriptor.name}"
            if descriptor.collection_space:
                spaces = self.duplicates_spaces(settings)
                # Another space (relearned) is another reading: entries of the old one are not reused.
                wanted += "@" + "+".join(space.fingerprint for _, space in sorted(spaces.items()))
        else:
            wanted = descriptor.key() if descriptor is not None else None
            if descriptor is not None and descriptor.head is not None:
                # A head retrained under the same name is another descriptor: its file identity counts.
                wanted += f"@{head_version(settings.features, descriptor.head)}"
        identity, cached = self._current(settings, path, set_name, wanted)
        if cached is not None:
            if spaces and cached.whitened_on:  # the collection may have grown since: say it as it is now
                kept = spaces.get(stored_kind(cached.descriptor, cached.root))
                cached.whitened_on = kept.whitened_on() if kept is not None else cached.whitened_on
            return cached
        with self._lock_for(path):
            for _ in range(self._MAX_RELOADS):
                identity, cached = self._current(settings, path, set_name, wanted)
                if cached is not None:
                    return cached  # another thread loaded it while we waited
                # A newer SIMages' store is refused even when a copy of it could be opened.
                check_not_newer(path)
                # Copies are kept of the store's own descriptor and of the intents' readings.
                reading = mapped_reading(wanted)
                mapped = open_mapped(set_name, path, identity, reading) if reading is not None else None
                if mapped is not None and spaces and not in_space(mapped, spaces):
                    mapped = None  # a copy made in an earlier duplicates space: read the store instead
                if mapped is not None and spaces:  # in the collection's space (checked just above)
                    kept = spaces.get(stored_kind(mapped.descriptor, mapped.root))
                    mapped.whitened_on = kept.whitened_on() if kept is not None else ""
                if mapped is not None and _identity_or_none(path) == identity:
                    with self._guard:
                        self.loads += 1
                        self._entries[(path, wanted)] = mapped
                    return mapped
                try:
                    store = load_store(path)
                except FileNotFoundError:
                    self.forget(path)
                    raise NotIndexed(set_name, settings=settings) from None
                with self._guard:  # loads of different sets run in parallel: `+=` alone could lose a count
                    self.loads += 1
                # Unchanged across the read means the arrays belong to exactly this file version.
                if _identity_or_none(path) == identity:
                    resolved = _resolve(descriptor, store)
                    space = spaces.get(stored_kind(_stored_descriptor(store), False)) if spaces else None
                    index = SetIndex.from_store(
                        set_name,
                        store,
                        source=identity,
                        descriptor=resolved,
                        features=settings.features,
                        whitening=space.whitening if space is not None else None,
                    )
                    index.store_path = path
                    if space is not None and index.whitening is space.whitening:
                        index.whitened_on = space.whitened_on()
                    with self._guard:
                        self._entries[(path, wanted)] = index
                    return index
            raise RuntimeError(f"feature store of set {set_name!r} keeps changing while being read")

    def _current(
        self, settings: Settings, path: Path, set_name: str, wanted: str | None = None
    ) -> tuple[tuple[int, int, int], SetIndex | None]:
        """The store file's identity, and the cached index if it was read from exactly that file."""
        try:
            identity = _identity(path)
        except FileNotFoundError:
            self.forget(path)
            raise NotIndexed(set_name, (settings.image_sets / set_name).is_dir(), settings) from None
        cached = self._entries.get((path, wanted))
        return identity, cached if cached is not None and cached.source == identity else None

    def duplicates_spaces(self, settings: Settings) -> dict[str, CollectionSpace]:
        """The collection's duplicates space per kind of stored vectors (simages.copies.space), learned or
        read from features/.cache when a store of the collection has changed since the last call."""
        identity = (settings.features, inputs_identity(settings))
        with self._guard:
            if self._spaces is not None and self._spaces[0] == identity:
                return self._spaces[1]
        spaces = collection_spaces(settings)
        with self._guard:
            self._spaces = (identity, spaces)
        return spaces

    def forget(self, path: Path) -> None:
        """Drop every index read from the store file `path` (whatever descriptor it was asked with)."""
        with self._guard:
            for key in [key for key in self._entries if key[0] == path]:
                del self._entries[key]

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()


def _stored_descriptor(store: FeatureStore) -> str:
    return str(store.meta.get("descriptor_spec") or store.meta.get("descriptor", ""))


def _resolve(descriptor: DescriptorSpec | Intent | None, store: FeatureStore) -> DescriptorSpec | None:
    """The descriptor to apply to `store`: an intent's reading of the store's own descriptor, or as given."""
    if not isinstance(descriptor, Intent):
        return descriptor
    stored = str(store.meta.get("descriptor_spec") or store.meta.get("descriptor", ""))
    try:
        return descriptor.descriptor(stored) if stored else None
    except ValueError:
        return None


def _identity_or_none(path: Path) -> tuple[int, int, int] | None:
    try:
        return _identity(path)
    except FileNotFoundError:
        return None


def store_version(settings: Settings, set_name: str) -> tuple[int, int, int] | None:
    """The identity of a set's store file (mtime_ns, size, inode), None without one: what a result
    computed from the store must be remembered with (a re-indexed set has a new identity)."""
    return _identity_or_none(settings.store_path(validate_set_name(set_name)))


# The process-wide cache used by the CLI and the GUI.
default_cache = DescriptorCache()


def get_set_index(
    settings: Settings, set_name: str, descriptor: DescriptorSpec | Intent | None = None
) -> SetIndex:
    return default_cache.get(settings, set_name, descriptor)
