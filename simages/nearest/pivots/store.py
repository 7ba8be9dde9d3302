"""Pivot tables kept beside the feature store, so a new process does not select pivots again.

`features/.pivots/<set>.<space>.npz` holds the pivots' rows and the n x p distance table of one set in one
space (euclidean, or cosine = unit-length vectors), with what it was built from: the store file's identity
(the same (mtime_ns, size, inode) the descriptor cache checks), the descriptor the joins applied and the
number of images. Any difference means the store changed, and the table is built again and replaced
(atomically, simages/store/atomic.py). Farthest-first pivots are incremental, so one file serves every
number of pivots up to the largest asked for so far; asking for more extends it.

A table is derived data: a missing, stale or unreadable file is rebuilt, never an error.
"""

from __future__ import annotations

import io
import json
import logging
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from simages.naming import derived_name
from simages.nearest.core.set_index import SetIndex
from simages.nearest.pivots import DEFAULT_PIVOTS
from simages.nearest.pivots.table import PivotIndex, PivotTable, select_pivots, space_of, space_points
from simages.settings import Settings
from simages.store.atomic import write_atomically
from simages.store.cache_files import CacheWriter

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAX_PIVOTS = 1024


def default_pivot_count(images: int) -> int:
    """The number of pivots used when none is asked for, from the set's size `images` (n): about sqrt(n)
    (rounded), at most DEFAULT_PIVOTS (32, what Corel-1k's n = 1,000 gives; more pivots prune little
    more there, docs/teaching.md), at least 1 and fewer than n when n >= 2, so some images are left for
    the table to rule out (9 images: 3 pivots, where 32 would make every image a pivot)."""
    if images < 2:
        return 1
    return max(1, min(DEFAULT_PIVOTS, round(math.sqrt(images)), images - 1))


def pivot_path(settings: Settings, set_name: str, space: str) -> Path:
    return settings.features / ".pivots" / derived_name(set_name, f".{space}.npz")


def _expected_meta(index: SetIndex, space: str) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "set": index.set_name,
        "space": space,
        "source": list(index.source) if index.source is not None else None,
        "applied": index.applied,
        "images": len(index),
    }


def load_table(path: Path, index: SetIndex, space: str) -> PivotTable | None:
    """The stored table if it was built from exactly this index's store and descriptor, else None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("exhausted") is None:
                return None
            exhausted = bool(meta.pop("exhausted"))
            if meta != _expected_meta(index, space):
                return None
            rows = np.asarray(data["rows"], dtype=np.int64)
            distances = np.ascontiguousarray(data["distances"], dtype=np.float32)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError):
        return None
    fits = distances.shape == (len(index), len(rows))
    if not fits or (len(rows) and not 0 <= rows.min() <= rows.max() < len(index)):
        return None
    return PivotTable(space, rows, distances, exhausted)


def written_by_newer(path: Path) -> bool:
    """Whether the table at `path` was written by a newer SIMages (left as it is: ours stays in memory)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            version = json.loads(str(data["meta"])).get("format")
    except (OSError, KeyError, ValueError, AttributeError, zipfile.BadZipFile, json.JSONDecodeError):
        return False
    return isinstance(version, int) and version > FORMAT_VERSION


def save_table(path: Path, index: SetIndex, table: PivotTable, writer: CacheWriter | None = None) -> bool:
    """Write the table atomically with the identity of what it was built from. With `writer`, a folder
    that cannot be written is not an error (False; the table stays in memory with the index)."""
    meta = {**_expected_meta(index, table.space), "exhausted": table.exhausted}
    buffer = io.BytesIO()
    np.savez(buffer, rows=table.rows, distances=table.distances, meta=np.array(json.dumps(meta)))
    # Not durable: a table lost in a power cut is rebuilt in a moment.
    if writer is not None:
        return writer.write(path, buffer.getvalue())
    write_atomically(path, lambda stream: stream.write(buffer.getvalue()), durable=False)
    return True


def check_pivot_count(pivots: int) -> int:
    """`pivots` if it is a usable number of pivots, else ValueError with a message for users."""
    if isinstance(pivots, bool) or not isinstance(pivots, int) or not 1 <= pivots <= MAX_PIVOTS:
        raise ValueError(f"the number of pivots must be an integer from 1 to {MAX_PIVOTS}, got {pivots!r}")
    return pivots


def pivot_table(index: SetIndex, space: str, pivots: int, settings: Settings | None = None) -> PivotTable:
    """The first `pivots` farthest-first pivots of the set in `space` (fewer when the set has fewer
    distinct images). Remembered with the index; with `settings`, also read from and written to
    `features/.pivots/` when the index was read from a store (SetIndex.source)."""
    check_pivot_count(pivots)
    memo_key = ("pivot-table", space)
    table: PivotTable | None = index.memo.get(memo_key)
    persistent = settings is not None and index.source is not None
    path = pivot_path(settings, index.set_name, space) if persistent else None
    if (table is None or not table.covers(pivots)) and path is not None:
        stored = load_table(path, index, space)
        if stored is not None and (table is None or stored.count > table.count):
            table = stored
    if table is None or not table.covers(pivots):
        points = space_points(index, space)
        table = select_pivots(points, pivots, index.name_rank, space, start=table)
        if path is not None and not written_by_newer(path):
            writer = index.memo.setdefault(("pivot-writer",), CacheWriter(log, "the pivot table cache"))
            save_table(path, index, table, writer)
    index.memo[memo_key] = table
    return table.first(pivots)


def pivot_index(
    index: SetIndex, metric: str, pivots: int = DEFAULT_PIVOTS, settings: Settings | None = None
) -> PivotIndex:
    """A PivotIndex answering `metric` queries on the set with (up to) `pivots` pivots; see pivot_table.
    Remembered with the index, so a set join or a page refresh builds it once."""
    space = space_of(metric)
    table = pivot_table(index, space, pivots, settings)
    memo_key = ("pivot-index", space, table.count)
    found = index.memo.get(memo_key)
    if found is None or found.table.count != table.count:
        found = PivotIndex(index, table)
        index.memo[memo_key] = found
    return found
