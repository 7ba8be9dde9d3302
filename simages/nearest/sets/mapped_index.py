"""A SetIndex written to, and opened from, the memory-mappable copy of its store (`store.mmap_store`).

Opening gives a SetIndex whose arrays are memory maps: no decompression, no PCA to learn, no projection;
only the names are decoded and the name -> row map is built (about 0.5 s per million images).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simages.extraction.postprocess import Whitening
from simages.nearest.core.set_index import SetIndex
from simages.store.mmap_store import mmap_path, open_mmap_copy, source_version, write_mmap_copy


def mapped_reading(wanted: str | None) -> str | None:
    """The copy that serves a DescriptorCache request for `wanted` (None: the store's own descriptor;
    "intent:NAME": an intent's reading): "" for the store's own, the intent's name for another intent,
    None when no copy is kept (an explicitly given descriptor)."""
    if wanted is None or wanted == "intent:similar":
        return ""
    if wanted.startswith("intent:"):
        # "intent:duplicates@<space>": one copy per set; the cache checks it was made in that space.
        return wanted.removeprefix("intent:").split("@", 1)[0]
    return None


def write_mapped(index: SetIndex, store_path: Path, reading: str = "") -> Path | None:
    """Write the copy of `index`, read from `store_path` as `reading` says (see `mapped_reading`); None
    (nothing written) when the store changed or vanished since, so a copy is never tied to a version it
    was not made from."""
    source = source_version(store_path)
    if source is None or index.source is None or tuple(index.source[:2]) != source:
        return None
    arrays = {
        "raw": index.raw,
        "vectors": index.vectors,
        "inv_norms": index.inv_norms,
        "sq_norms": index.sq_norms,
        "name_rank": index.name_rank,
    }
    if index.whitening is not None:
        arrays["whitening_mean"] = index.whitening.mean
        arrays["whitening_projection"] = index.whitening.projection
    path = mmap_path(store_path.parent, index.set_name, reading)
    strings = {"descriptor": index.descriptor, "applied": index.applied, "root": "1" if index.root else ""}
    write_mmap_copy(path, source, index.names, arrays, strings)
    return path


def open_mapped(
    set_name: str, store_path: Path, identity: tuple[int, int, int], reading: str = ""
) -> SetIndex | None:
    """The SetIndex of the store version `identity` ((mtime_ns, size, inode)) from its memory-mapped
    copy for `reading`, or None when there is no matching copy."""
    copy = open_mmap_copy(mmap_path(store_path.parent, set_name, reading), identity[:2])
    if copy is None:
        return None
    a = copy.arrays
    whitening = None
    if "whitening_mean" in a:
        whitening = Whitening(np.asarray(a["whitening_mean"]), np.asarray(a["whitening_projection"]))
    derived = {key: a[key] for key in ("vectors", "inv_norms", "sq_norms", "name_rank")}
    return SetIndex(set_name, copy.names, a["raw"], copy.strings["descriptor"], whitening, identity,
                    copy.strings["applied"], store_path, derived, root=bool(copy.strings.get("root")))
