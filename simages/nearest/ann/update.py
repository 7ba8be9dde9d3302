"""Keeping a set's ANN index up to date after indexing: patched in place, rebuilt only when it must be.

After each indexing run (`simages.jobs.derived.refresh_derived`) the store's images are compared with
what the index holds (per FAISS id: name, store fingerprint (size, mtime_ns), a digest of the stored
vector; see `ann.IdRecord`):

- an image removed, or changed (same name, new fingerprint or vector): its id is marked removed, and the
  search skips it from then on (a FAISS ID selector; the binary method filters its shortlist);
- an image added, or changed: its stored vector is projected in the index's frozen space
  (`ann_space.FrozenSpace`, the set's PCA as it was when the index was built) and added under a new id;
- then the ids are mapped to the rows of the new store version, and the index, its ids sidecar and its
  metadata are saved (metadata last, tied to the other two by tokens: `ann.save`).

The index is rebuilt from scratch instead when there is none or it cannot be read, when the descriptor
the set applies changed (another PCA dimension, expansion switched on...), when it was made by another
format or method, and when the set drifted from the images the frozen space was learned on: images added
plus images removed since the build above `DRIFT_LIMIT` of the build's count. Why 20%: the frozen space
is the PCA of the build's images; while four fifths of the set are those images, the added ones come from
the same photo collection and its principal directions barely move (answers are re-scored exactly in the
current space in any case, so drift can only cost recall). On realistic descriptors recall held even at
50% drift (docs/ann.md); what grows is the cost: removed images stay in the HNSW graph (memory, slower
queries: 0.95 ms vs 0.67 ms after removing half of 100k), and adding many images costs more of a rebuild
(+50k to 50k: 6.0 s vs 9.2 s). At 10% a patch is 6-50x cheaper (1M: +100k in 41 s vs 244 s, -100k in
4.0 s vs 207 s) at the same recall@10 (0.97) and query time within 4-13% (1.55 / 1.71 ms).
`simages bench ann-update` measures it. The rule is on counts, not on
measured recall, so it behaves the same on any collection, and a user can predict it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simages.nearest.ann import index as ann
from simages.nearest.ann.space import FrozenSpace
from simages.nearest.core.set_index import SetIndex
from simages.store.npz_store import read_versions
from simages.wording import plural

# Images added + removed since the build, as a share of the build's count, beyond which it is rebuilt.
DRIFT_LIMIT = 0.2
_DIGEST_CHUNK = 16_384


def vector_digests(raw: np.ndarray) -> np.ndarray:
    """(n,) uint64: a digest of each row's bits of stored vectors (n, d) float32.

    sum_j bits_j * c_j mod 2^64 with fixed odd c_j: integer arithmetic, so the same row always gives the
    same digest (in memory or memory-mapped, any alignment); changing one value always changes it (c_j is
    invertible mod 2^64), several at once with probability 2^-64 of not. Catches a vector re-extracted
    while the file's fingerprint stayed (other weights, another engine)."""
    rows = np.asarray(raw)
    n, d = rows.shape if rows.ndim == 2 else (0, 0)
    draws = np.random.default_rng(20261130).integers(0, 2**63, d, dtype=np.uint64)
    coefficients = draws * np.uint64(2) + np.uint64(1)
    out = np.empty(n, dtype=np.uint64)
    for start in range(0, n, _DIGEST_CHUNK):
        bits = np.ascontiguousarray(rows[start : start + _DIGEST_CHUNK], dtype=np.float32).view(np.uint32)
        out[start : start + len(bits)] = (bits.astype(np.uint64) * coefficients).sum(axis=1, dtype=np.uint64)
    return out


@dataclass(frozen=True)
class Change:
    """How a store version differs from what an index holds: `id_rows` (ntotal,) each existing id's row in
    the new version (-1: removed or changed), `added_rows` the rows to add (new or changed images),
    `removed` how many ids were live and are not any more."""

    id_rows: np.ndarray
    added_rows: np.ndarray
    removed: int


def diff(record: ann.IdRecord, names: list[str], sizes: np.ndarray, mtimes: np.ndarray,
         digests: np.ndarray) -> Change:
    """Compare an index's ids with a store version's images (names, sizes, mtimes, digests: (n,) each, in
    row order). An image is kept when its name, fingerprint and vector digest are unchanged."""
    row_of = {name: row for row, name in enumerate(names)}
    live = record.rows >= 0
    rows = np.fromiter((row_of.get(name, -1) if alive else -1 for name, alive in zip(record.names, live,
                                                                                   strict=True)),
                       dtype=np.int64, count=len(record.names))
    found = rows >= 0
    safe = np.where(found, rows, 0)
    same = found & (record.sizes == sizes[safe]) & (record.mtimes == mtimes[safe])
    same &= record.digests == digests[safe]
    id_rows = np.where(same, rows, -1)
    covered = np.zeros(len(names), dtype=bool)
    covered[id_rows[same]] = True
    return Change(id_rows, np.flatnonzero(~covered), int(np.count_nonzero(live & ~same)))


def record_for(index: SetIndex, sizes: np.ndarray, mtimes: np.ndarray, digests: np.ndarray) -> ann.IdRecord:
    """The ids of a fresh build of `index`: id i is row i."""
    return ann.IdRecord(list(index.names), np.asarray(sizes, np.int64), np.asarray(mtimes, np.int64),
                        np.asarray(digests, np.uint64), np.arange(len(index), dtype=np.int64))


def is_fresh(meta: dict[str, Any] | None, index: SetIndex, source: tuple[int, int]) -> bool:
    """Whether the saved index (its metadata) is for exactly this store version and descriptor."""
    return meta is not None and meta.get("format_version") == ann.FORMAT_VERSION and (
        meta.get("store_version") == list(source) and meta.get("applied") == index.applied
        and meta.get("count") == len(index)
    )


def _rebuild_reason(meta: dict[str, Any] | None, index: SetIndex, method: str) -> str | None:
    """Why the saved index cannot be patched for `index` (None: it can be tried)."""
    if meta is None:
        return "none yet"
    if meta.get("format_version") != ann.FORMAT_VERSION:
        return "made by another version of SIMages"
    if meta.get("applied") != index.applied:
        return f"the set's descriptor changed ({meta.get('applied') or 'none'} -> {index.applied or 'none'})"
    if meta.get("method") != method:
        return f"method {meta.get('method')} -> {method}"
    return None


def update(
    features: Path,
    set_name: str,
    index: SetIndex,
    store_path: Path,
    *,
    method: str = ann.DEFAULT_METHOD,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Bring the set's saved ANN index up to date with `index` (the set as read from the store version at
    `store_path` it has now, `index.source`): nothing when it is fresh, else patch it or rebuild it (see
    the module's docstring). Returns what was done, in words ("" when nothing was needed). Nothing is saved
    when the store changed while this ran (the next run catches up); StoreError when it cannot be read."""
    source = ann.store_version(store_path)
    if source is None or index.source is None or tuple(index.source[:2]) != source:
        return "ANN index not updated: the set changed while it was read; the next indexing updates it"
    meta = ann.read_meta(features, set_name)
    if ann.written_by_newer(meta):
        return "ANN index left as it is: " + ann.NEWER.removeprefix("the set's ANN index ")
    if is_fresh(meta, index, source) and ann.intact(features, set_name, meta):
        return ""
    started = time.perf_counter()
    names, sizes, mtimes = read_versions(store_path)
    if names != index.names:
        return "ANN index not updated: the set changed while it was read; the next indexing updates it"
    digests = vector_digests(index.raw)
    why = _rebuild_reason(meta, index, method)
    if why is None:
        why, patched = _patch(features, set_name, index, store_path, meta, sizes, mtimes, digests)
        if why is None:
            return patched + f" in {time.perf_counter() - started:.1f} s"
    if ann.store_version(store_path) != source:
        return "ANN index not updated: the set changed while it was read; the next indexing updates it"
    built = ann.build(index.vectors, method, progress=progress, space=FrozenSpace.of(index))
    history = {"built_count": len(index), "built_at": time.time(), "patches": 0}
    record = record_for(index, sizes, mtimes, digests)
    ann.save(built, features, set_name, source, index.applied, record, history)
    seconds = time.perf_counter() - started
    if why == "none yet":
        return f"ANN index ({built.method}) of {plural(len(index), 'image')} built in {seconds:.1f} s"
    return f"ANN index ({built.method}) of {plural(len(index), 'image')} rebuilt in {seconds:.1f} s ({why})"


def _patch(
    features: Path,
    set_name: str,
    index: SetIndex,
    store_path: Path,
    meta: dict[str, Any],
    sizes: np.ndarray,
    mtimes: np.ndarray,
    digests: np.ndarray,
) -> tuple[str | None, str]:
    """(None, what was done) after patching and saving the index, or (why it must be rebuilt, "")."""
    loaded = ann.load(features, set_name)
    ids = ann.read_ids(features, set_name, meta) if loaded.index is not None else None
    if loaded.index is None or ids is None:
        return loaded.problem or "its files could not be read", ""
    built, (record, space) = loaded.index, ids
    if space.input_dimension != index.dimension:
        return "the stored vectors changed dimension", ""
    change = diff(record, index.names, sizes, mtimes, digests)
    built_count = max(1, int(meta.get("built_count", built.ntotal)))
    removed_since_build = int(np.count_nonzero(change.id_rows < 0))
    added_since_build = built.ntotal + len(change.added_rows) - built_count
    drift = (removed_since_build + added_since_build) / built_count
    if drift > DRIFT_LIMIT:
        return (f"{plural(added_since_build, 'image')} added and {removed_since_build:,} removed "
                "since it was built "
                f"from {built_count:,}: {drift:.0%}, more than {DRIFT_LIMIT:.0%}"), ""
    added = change.added_rows
    for start in range(0, len(added), 50_000):
        chunk = added[start : start + 50_000]
        built.add(space.project(index.raw[chunk]))
    live = change.id_rows >= 0
    names = [name if alive else "" for name, alive in zip(record.names, live.tolist(), strict=True)]
    names += [index.names[row] for row in added.tolist()]
    patched = ann.IdRecord(
        names,
        np.concatenate([record.sizes, sizes[added]]),
        np.concatenate([record.mtimes, mtimes[added]]),
        np.concatenate([record.digests, digests[added]]),
        np.concatenate([change.id_rows, added.astype(np.int64)]),
    )
    history = {key: meta[key] for key in ("built_count", "built_at") if key in meta}
    history["built_count"] = built_count
    history["patches"] = int(meta.get("patches", 0)) + 1
    source = ann.store_version(store_path)
    if source is None or tuple(index.source[:2]) != source:
        return None, "ANN index not updated: the set changed while it was read; the next indexing updates it"
    ann.save(built, features, set_name, source, index.applied, patched, history, write_index=len(added) > 0)
    return None, (f"ANN index ({built.method}) patched: "
                  f"+{len(added):,} / -{change.removed:,} images")  # plural-ok: the noun counts both sides
