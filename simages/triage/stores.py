"""The feature stores follow the files a triage moves: nothing is described again.

After an apply, each moved image's row (vector, fingerprint, digest) leaves its set's store and is kept
in ROOT/quarantine/<plan id>/stores/<set>.npz; after an undo the restored images get their rows back,
with fingerprints read from the restored files (a move changes the inode's change time) and the digest
that the undo checked. Each store is rewritten atomically under its set's indexing lock
(store.lock.set_lock), so the app's indexer never sees a half-updated store.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.lock import set_lock
from simages.store.npz_store import FeatureStore, StoreError, load_store, save_store
from simages.triage.plan import Move


def _kept_path(settings: Settings, plan_id: str, set_name: str) -> Path:
    tag = hashlib.blake2b(os.fsencode(set_name), digest_size=8).hexdigest()
    return settings.root / "quarantine" / plan_id / "stores" / f"{tag}.npz"


def drop_moved(settings: Settings, plan_id: str, moved: Iterable[Move]) -> list[str]:
    """Take the moved images out of their sets' stores, keeping their rows with the plan. Returns the sets
    whose store changed (a set without a store is left alone)."""
    by_set: dict[str, set[str]] = {}
    for move in moved:
        by_set.setdefault(move.set, set()).add(move.image)
    changed = []
    for set_name, images in sorted(by_set.items()):
        path = settings.store_path(set_name)
        with set_lock(settings.locks, set_name):
            try:
                store = load_store(path)
            except (FileNotFoundError, StoreError):
                continue
            rows = [i for i, name in enumerate(store.names) if name in images]
            if not rows:
                continue
            kept_path = _kept_path(settings, plan_id, set_name)
            kept = _subset(store, rows)
            if kept_path.exists():
                kept = _merge(load_store(kept_path), kept)
            save_store(kept_path, kept)
            rest = [i for i in range(len(store.names)) if i not in set(rows)]
            save_store(path, _subset(store, rest))
            changed.append(set_name)
    return changed


def restore_moved(settings: Settings, plan_id: str, restored: Iterable[Move]) -> list[str]:
    """Give the restored images their rows back in their sets' stores. Returns the sets changed."""
    by_set: dict[str, list[Move]] = {}
    for move in restored:
        by_set.setdefault(move.set, []).append(move)
    changed = []
    for set_name, moves in sorted(by_set.items()):
        kept_path = _kept_path(settings, plan_id, set_name)
        path = settings.store_path(set_name)
        with set_lock(settings.locks, set_name):
            try:
                kept, store = load_store(kept_path), load_store(path)
            except (FileNotFoundError, StoreError):
                continue
            present = set(store.names)
            rows = {name: i for i, name in enumerate(kept.names)}
            names, prints, vectors = list(store.names), list(store.fingerprints), [store.vectors]
            for move in moves:
                if move.image in present or move.image not in rows:
                    continue
                file = settings.image_sets / set_name / Path(*move.image.split("/"))
                try:
                    stat = os.stat(file)
                except OSError:
                    continue
                names.append(move.image)
                prints.append(Fingerprint.of(stat, file))
                vectors.append(kept.vectors[rows[move.image]][None, :])
                store.digests[move.image] = move.digest
            if len(names) == len(store.names):
                continue
            # Rows in name order, as indexing writes them: every list of the set's images (the app's grid,
            # joins, maps) keeps one order, not the restored images last.
            order = sorted(range(len(names)), key=names.__getitem__)
            stacked = np.vstack(vectors).astype(np.float32)[order]
            save_store(path, FeatureStore([names[i] for i in order], [prints[i] for i in order], stacked,
                                          store.meta, store.failed, store.digests))
            changed.append(set_name)
    return changed


def _subset(store: FeatureStore, rows: list[int]) -> FeatureStore:
    names = [store.names[i] for i in rows]
    vectors = store.vectors[rows] if rows else np.zeros((0, store.dimension), np.float32)
    return FeatureStore(names, [store.fingerprints[i] for i in rows], vectors, store.meta,
                        {n: f for n, f in store.failed.items() if n in names},
                        {n: store.digests[n] for n in names if n in store.digests})


def _merge(a: FeatureStore, b: FeatureStore) -> FeatureStore:
    keep = [i for i, name in enumerate(a.names) if name not in set(b.names)]
    first = _subset(a, keep)
    return FeatureStore(first.names + b.names, first.fingerprints + b.fingerprints,
                        np.vstack([first.vectors, b.vectors]), b.meta, {}, {**first.digests, **b.digests})
