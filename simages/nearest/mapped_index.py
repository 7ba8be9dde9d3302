"""A SetIndex written to, and opened from, the memory-mappable copy of its store (`store.mmap_store`).

Opening gives a SetIndex whose arrays are memory maps: no decompression, no PCA to learn, no projection;
only the names are decoded and the name -> row map is built (about 0.5 s per million images).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simages.extraction.postprocess import Whitening
from simages.nearest.set_index import SetIndex
from simages.store.mmap_store import mmap_path, open_mmap_copy, source_version, write_mmap_copy


def write_mapped(index: SetIndex, store_path: Path) -> Path | None:
    """Write the copy of `index`, read from `store_path`; None (nothing written) when the store changed
    or vanished since, so a copy is never tied to a version it was not made from."""
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
    path = mmap_path(store_path.parent, index.set_name)
    write_mmap_copy(path, source, index.names, arrays,
                    {"descriptor": index.descriptor, "applied": index.applied})
    return path


def open_mapped(
    set_name: str, store_path: Path, identity: tuple[int, int, int]
) -> SetIndex | None:
    """The SetIndex of the store version `identity` ((mtime_ns, size, inode)) from its memory-mapped
    copy, or None when there is no matching copy."""
    copy = open_mmap_copy(mmap_path(store_path.parent, set_name), identity[:2])
    if copy is None:
        return None
    a = copy.arrays
    whitening = None
    if "whitening_mean" in a:
        whitening = Whitening(np.asarray(a["whitening_mean"]), np.asarray(a["whitening_projection"]))
    derived = {key: a[key] for key in ("vectors", "inv_norms", "sq_norms", "name_rank")}
    return SetIndex(set_name, copy.names, a["raw"], copy.strings["descriptor"], whitening, identity,
                    copy.strings["applied"], store_path, derived)
