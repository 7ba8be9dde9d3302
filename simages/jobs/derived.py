"""Derived files of a set, refreshed after each indexing run: the memory-mappable copy of its store, for a
set large enough to use one its ANN index, and (`refresh_atlas`, last) its atlas map (simages.atlas).

The copy is rewritten from the `.npz` when it changed. The ANN index is patched (images added, removed,
changed) in the space it was built in, or rebuilt when the set drifted too far from the images that space
was learned on (`simages.nearest.ann.update`). Neither is ever required: until they are fresh, queries read
the `.npz` and search exactly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from simages.atlas.cache import MapCache, map_path, model_path, refresh_map
from simages.copies.space import CollectionSpace, collection_spaces, in_space, stored_kind
from simages.nearest.ann import index as ann
from simages.nearest.ann import update as ann_update
from simages.nearest.core.intents import DUPLICATES, intent_named
from simages.nearest.core.set_index import SetIndex
from simages.nearest.sets.mapped_index import open_mapped, write_mapped
from simages.settings import Settings
from simages.store.atomic import remove_stale_temporaries
from simages.store.mmap_store import mmap_path, open_mmap_copy, written_by_newer
from simages.store.npz_store import FeatureStore, load_store, read_names_count


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


# The readings of a store kept as memory-mapped copies: its own descriptor (""), and the duplicates
# intent's (stored vectors square-rooted and whitened on the set), which the join page's duplicates use.
READINGS = ("", DUPLICATES.name)


def _reading_of(
    set_name: str,
    store: FeatureStore,
    identity: tuple[int, int, int],
    reading: str,
    features: Path | None = None,
    spaces: dict[str, CollectionSpace] | None = None,
) -> SetIndex | None:
    """The store read as `reading` says, or None when that reading does not apply to it."""
    if not reading:
        return SetIndex.from_store(set_name, store, source=identity, features=features)
    stored = str(store.meta.get("descriptor_spec") or store.meta.get("descriptor", ""))
    try:
        intent = intent_named(reading)
        descriptor = intent.descriptor(stored)
        space = (spaces or {}).get(stored_kind(stored, False)) if intent.collection_space else None
        return SetIndex.from_store(set_name, store, source=identity, descriptor=descriptor,
                                   whitening=space.whitening if space is not None else None)
    except ValueError:  # no recorded descriptor, or one the intent cannot read
        return None


def refresh_derived(
    settings: Settings,
    set_name: str,
    progress: Callable[[str], None] | None = None,
    *,
    build_ann: bool = True,
) -> str:
    """Bring the set's derived files up to date with its store; what was done, in words ("" when nothing
    was needed). Removes them when the store is gone. StoreError when the store cannot be read.
    `build_ann=False` refreshes only the memory-mapped copy (benchmarks of loading). The atlas map is
    refreshed apart, by `refresh_atlas`."""
    store_path = settings.store_path(set_name)
    features = settings.features
    # What a run killed while writing a copy or an index left behind (an index's can be gigabytes).
    for folder in (ann.ann_dir(features), *{mmap_path(features, set_name, r).parent for r in READINGS}):
        remove_stale_temporaries(folder)
    identity = _identity(store_path)
    if identity is None:
        for reading in READINGS:
            mmap_path(features, set_name, reading).unlink(missing_ok=True)
        ann.remove(features, set_name)
        for stale in (map_path(features, set_name), model_path(features, set_name)):
            stale.unlink(missing_ok=True)
        return ""
    done: list[str] = []
    index: SetIndex | None = None
    store: FeatureStore | None = None
    spaces: dict[str, CollectionSpace] | None = None
    for reading in READINGS:
        # Opening checks the header, the source version and that every array is there (not truncated).
        copy = mmap_path(features, set_name, reading)
        if written_by_newer(copy):
            continue  # a newer SIMages' copy: queries then read the `.npz`, and it is kept
        if reading and intent_named(reading).collection_space:
            spaces = collection_spaces(settings) if spaces is None else spaces
            current = open_mapped(set_name, store_path, identity, reading)
            if current is not None and in_space(current, spaces):
                continue  # fresh, and made in the collection's current duplicates space
        elif open_mmap_copy(copy, identity[:2]) is not None:
            continue  # fresh
        started = time.perf_counter()
        store = store or load_store(store_path)
        read = _reading_of(set_name, store, identity, reading, settings.features, spaces)
        if read is None:
            continue
        read.store_path = store_path
        if not reading:
            index = read
        if write_mapped(read, store_path, reading) is not None:
            # "duplicates reading" meant nothing to a user reading `simages index`'s summary.
            what = f"memory-mapped copy for finding {reading}" if reading else "memory-mapped copy"
            done.append(f"{what} written in {time.perf_counter() - started:.1f} s")
        del read
    del store
    if not build_ann:
        return "; ".join(done)
    count = len(index) if index is not None else read_names_count(store_path)
    if count < ann.AUTO_MIN_IMAGES or ann.faiss_module() is None:
        ann.remove(features, set_name)  # an index the queries would not use is only a stale file
    else:
        index = index or _open(set_name, store_path, identity, features)
        message = ann_update.update(features, set_name, index, store_path, progress=progress)
        if message:
            done.append(message)
    return "; ".join(done)


def refresh_atlas(settings: Settings, set_name: str, progress: Callable[[str], None] | None = None,
                  maps: MapCache | None = None) -> str:
    """After `refresh_derived`: the set's atlas map brought up to date (simages.atlas.cache: reused when
    nothing changed, new images placed, or fitted again), kept in `features/.atlas/`; what was done, in
    words ("" when nothing was needed). The slowest derived file (UMAP), and the one nothing waits for.
    A `features/` that cannot be written is not an error: the map is then kept only in `maps`' memory."""
    store_path = settings.store_path(set_name)
    identity = _identity(store_path)
    if identity is None:
        return ""
    if progress is not None:
        progress("atlas map")
    index = _open(set_name, store_path, identity, settings.features)
    return refresh_map(settings.features, set_name, index.names, index.vectors, maps)[1]


def _open(set_name: str, store_path: Path, identity: tuple[int, int, int], features: Path) -> SetIndex:
    return open_mapped(set_name, store_path, identity) or SetIndex.from_store(
        set_name, load_store(store_path), source=identity, features=features
    )
