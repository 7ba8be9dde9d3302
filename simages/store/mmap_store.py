"""A derived, memory-mappable copy of a store, so a million-image set is ready for queries in about a second.

`features/<set>.npz` stays the portable store (compressed: 1M x 512 descriptors decompress in ~25 s, and
a learned PCA over them costs more). Beside it, `features/.mmap/<set>.simm` holds what the joins need,
uncompressed and already transformed: the raw vectors, the join-space vectors (after the set's PCA or
whitening), their norms, the name order, the learned transform and the names. Opening it maps the
arrays (no copy: pages are read when touched and may be dropped again by the kernel, so resident memory
stays bounded by what queries touch) and decodes only the names.

It is derived data: written after indexing (`simages.jobs.derived`), keyed by the (mtime_ns, size) of
the `.npz` it came from, and simply not used when it does not match (the `.npz` is read instead), so a
stale, missing or damaged copy costs time, never a wrong answer. Delete `features/.mmap/` at any time.

File layout: 8 bytes little-endian header length, a JSON header (format, source version, descriptor
strings, and for each array its dtype, shape and offset), then each array at a 64-byte aligned offset.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from simages.naming import derived_name
from simages.store.atomic import write_atomically

FORMAT = "simages-mmap-1"
_ALIGN = 64
# Image names never contain NUL (no file system allows it), so it separates them unambiguously.
_SEPARATOR = "\0"


def mmap_path(features: Path, set_name: str, reading: str = "") -> Path:
    """The copy of a set's store as read with its own descriptor (`reading` ""), or as another reading of
    the same store (e.g. "duplicates": see nearest/core/intents.py), each in its own folder."""
    folder = features / ".mmap" / reading if reading else features / ".mmap"
    return folder / derived_name(set_name, ".simm")


def source_version(store_path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of the `.npz` store, the version a copy is tied to; None if it is gone."""
    try:
        stat = os.stat(store_path)
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def write_mmap_copy(
    path: Path,
    source: tuple[int, int],
    names: list[str],
    arrays: dict[str, np.ndarray],
    strings: dict[str, str],
) -> None:
    """Write a copy atomically. `arrays`: name -> array (any numeric dtype; the joins' names are `raw`,
    `vectors`, `inv_norms`, `sq_norms`, `name_rank`, and `whitening_mean` / `whitening_projection` when
    the set has a learned transform); `strings`: short texts such as the descriptor."""
    # surrogateescape: a name that is not UTF-8 is kept as its own bytes (see naming.py) and read back as-is.
    blob = np.frombuffer(_SEPARATOR.join(names).encode("utf-8", "surrogateescape"), dtype=np.uint8)
    parts = {**{k: np.ascontiguousarray(v) for k, v in arrays.items()}, "names_utf8": blob}
    layout: dict[str, Any] = {}
    offset = 0
    for key, array in parts.items():
        layout[key] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        offset = _aligned(offset + array.nbytes)
    header = {"format": FORMAT, "source": list(source), "count": len(names), "strings": strings,
              "arrays": layout}
    header_bytes = json.dumps(header, sort_keys=True).encode()
    start = _aligned(8 + len(header_bytes))

    def write(stream: BinaryIO) -> None:
        stream.write(struct.pack("<Q", len(header_bytes)))
        stream.write(header_bytes)
        position = 8 + len(header_bytes)
        for key, array in parts.items():
            target = start + layout[key]["offset"]
            stream.write(b"\0" * (target - position))
            # Written through a memoryview: a 2 GB array is not copied into a bytes object first.
            stream.write(memoryview(array).cast("B"))
            position = target + array.nbytes

    write_atomically(path, write)


def _aligned(offset: int) -> int:
    return (offset + _ALIGN - 1) // _ALIGN * _ALIGN


def _read_header(path: Path) -> tuple[dict[str, Any], int]:
    with open(path, "rb") as stream:
        (length,) = struct.unpack("<Q", stream.read(8))
        if length > 1 << 24:
            raise ValueError("not a SIMages memory-mapped store")
        header = json.loads(stream.read(length))
    if header.get("format") != FORMAT:
        raise ValueError(f"unknown memory-mapped store format {header.get('format')!r}")
    return header, length


def written_by_newer(path: Path) -> bool:
    """Whether the file at `path` is a copy in a newer format ("simages-mmap-N", N above ours): a newer
    SIMages' copy is left as it is, not replaced by ours."""
    try:
        with open(path, "rb") as stream:
            (length,) = struct.unpack("<Q", stream.read(8))
            header = json.loads(stream.read(min(length, 1 << 24)))
        prefix, _, number = str(header.get("format", "")).rpartition("-")
        return prefix == FORMAT.rpartition("-")[0] and int(number) > int(FORMAT.rpartition("-")[2])
    except (OSError, ValueError, AttributeError, struct.error):
        return False


def read_source(path: Path) -> tuple[int, int] | None:
    """The store version a copy was made from (reads its header only), or None without a readable copy."""
    try:
        header, _ = _read_header(path)
        return (int(header["source"][0]), int(header["source"][1]))
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error):
        return None


class MmapCopy:
    """An opened copy: `names`, `strings`, `source`, and the arrays (read-only memory maps) by name."""

    def __init__(self, path: Path) -> None:
        header, length = _read_header(path)
        self.source = tuple(header["source"])
        self.strings: dict[str, str] = dict(header["strings"])
        start = _aligned(8 + length)
        size = os.path.getsize(path)
        self.arrays: dict[str, np.ndarray] = {}
        for key, spec in header["arrays"].items():
            dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            offset = start + int(spec["offset"])
            if offset + nbytes > size:
                raise ValueError("memory-mapped store is truncated")
            if nbytes == 0:
                self.arrays[key] = np.zeros(shape, dtype)
            else:
                self.arrays[key] = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
        text = bytes(self.arrays.pop("names_utf8")).decode("utf-8", "surrogateescape")
        self.names = text.split(_SEPARATOR) if header["count"] else []
        if len(self.names) != header["count"]:
            raise ValueError("memory-mapped store names do not match its count")


def open_mmap_copy(path: Path, source: tuple[int, int] | None) -> MmapCopy | None:
    """The copy at `path` if it exists, is readable and was made from the store version `source`; else
    None (the caller reads the `.npz`)."""
    if source is None:
        return None
    try:
        copy = MmapCopy(path)
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None
    return copy if copy.source == tuple(source) else None
