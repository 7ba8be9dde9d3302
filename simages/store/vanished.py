"""Stores of sets whose folder is gone (renamed, moved or deleted): never served, kept a while for reuse.

A store whose set folder no longer exists is moved to `features/.vanished/` (hidden: no query, page or
listing ever opens it). Its descriptors stay available to `store.reuse`, so a renamed set, or images moved
to another set, are not described again. A retired store is deleted once every one of its images is
described again in a live store, or after `KEEP_SECONDS` (a set deleted for good).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from simages.naming import derived_name

VANISHED_DIR = ".vanished"
# A week: long enough to cover a set moved away and back, short enough not to keep a deleted set's
# descriptors (a few MB per thousand images) around for long.
KEEP_SECONDS = 7 * 24 * 3600.0


def vanished_dir(features: Path) -> Path:
    return features / VANISHED_DIR


def retire_vanished(features: Path, image_sets: Path) -> list[str]:
    """Move the store of every set without a folder to `features/.vanished/`; the set names moved."""
    if not features.is_dir():
        return []
    moved = []
    # By the store's file name (naming.derived_name): a long set name's store is not named exactly like it.
    live = {derived_name(entry.name, ".npz") for entry in _folders(image_sets)}
    for path in sorted(features.glob("*.npz")):
        if path.name in live:
            continue
        target = vanished_dir(features) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, target)
            os.utime(target)  # the time it vanished, for KEEP_SECONDS
        except FileNotFoundError:
            continue  # another process retired it first
        moved.append(path.stem)
    return moved


def _folders(image_sets: Path) -> list[os.DirEntry[str]]:
    try:
        return [entry for entry in os.scandir(image_sets) if entry.is_dir()]
    except FileNotFoundError:
        return []


def forget_vanished(features: Path, live_digests: set[str], now: float | None = None) -> list[str]:
    """Delete retired stores whose images all live on in `live_digests`, or older than KEEP_SECONDS."""
    folder = vanished_dir(features)
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for path in sorted(folder.glob("*.npz")):
        try:
            expired = now - path.stat().st_mtime > KEEP_SECONDS
            if not expired:
                with np.load(path, allow_pickle=False) as data:
                    digests = {str(d) for d in data["digests"]} if "digests" in data.files else {""}
                expired = "" not in digests and digests <= live_digests
        except (OSError, ValueError, KeyError):
            expired = True  # unreadable: no use for reuse either
        if expired:
            path.unlink(missing_ok=True)
            removed.append(path.stem)
    return removed
