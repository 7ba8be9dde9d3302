"""A set's map, kept in `features/.atlas/` beside its store and recomputed only when the set changed.

`features/.atlas/<set>.npz` holds the names, their 2-D coordinates, the method ("umap" or "pca"), a key
of the mapped content (names and descriptor rows) and one digest per row; `<set>.umap.pkl` holds the fitted
UMAP model, so that images added later are placed on the map (`UmapMap.place`, UMAP's transform) instead
of refitting it. Refreshing after an indexing run:

- same content: nothing is computed (the map is reused as it is);
- some images removed: their points are dropped, the others stay where they were;
- images added or changed, while the placed ones stay under `MAX_PLACED_SHARE` of the map: they are placed
  with the stored model; beyond that, or without a usable model, the map is fitted again.

The model file is a pickle (umap-learn offers no other format). Unpickling runs code, so it is only read
when this user owns it and nobody else may write it (a shared `features/` folder cannot slip a file in);
otherwise the map is fitted again. Files are written atomically, through a `MapCache` the caller holds: a
`features/` that cannot be written (read-only, full, `.atlas` blocked by a file) is not an error, the map and
model are kept in that cache's memory instead and the log says so once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simages.atlas.projection import MIN_UMAP_IMAGES, UmapMap, pca_map, umap_available, umap_map
from simages.naming import derived_name
from simages.store.cache_files import CacheWriter
from simages.wording import plural

FORMAT_VERSION = 1
log = logging.getLogger(__name__)

# Placed points are good approximations, not a fit: past this share of the map, fit again.
MAX_PLACED_SHARE = 0.2


@dataclass
class SetMap:
    """Coordinates (n, 2) float32 of the images `names`, made by `method` ("umap" or "pca") from the rows
    whose content key is `content`; `placed` of them were placed on an earlier fit (UMAP's transform)."""

    names: list[str]
    coords: np.ndarray
    method: str
    content: str
    digests: np.ndarray  # (n,) uint64, one per row: which rows are unchanged since the fit
    placed: int = 0
    seconds: float = 0.0  # what computing (or updating) it took

    def __len__(self) -> int:
        return len(self.names)


def atlas_folder(features: Path) -> Path:
    return features / ".atlas"


def map_path(features: Path, set_name: str) -> Path:
    return atlas_folder(features) / derived_name(set_name, ".npz")


def model_path(features: Path, set_name: str) -> Path:
    return atlas_folder(features) / derived_name(set_name, ".umap.pkl")


def row_digests(names: list[str], rows: np.ndarray) -> np.ndarray:
    """(n,) uint64: a digest of each image's name and descriptor row (a changed image gets a new one)."""
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    out = np.empty(len(names), dtype=np.uint64)
    for i, (name, row) in enumerate(zip(names, rows, strict=True)):
        digest = hashlib.blake2b(name.encode("utf-8", "surrogateescape") + b"\0", digest_size=8)
        digest.update(row.tobytes())
        out[i] = int.from_bytes(digest.digest(), "little")
    return out


def content_key(names: list[str], rows: np.ndarray) -> str:
    """A key of the mapped content: the same names and rows, in any order, give the same key."""
    return _key(row_digests(names, rows), np.asarray(rows).shape[1])


def _key(digests: np.ndarray, dimension: int) -> str:
    return hashlib.sha256(np.sort(digests).tobytes() + str(dimension).encode()).hexdigest()[:24]


def load_map(path: Path) -> SetMap | None:
    """The stored map, or None when there is none or it cannot be read (it is then computed again)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                return None
            names = [str(n) for n in data["names"]]
            coords = np.asarray(data["coords"], dtype=np.float32)
            digests = np.asarray(data["digests"], dtype=np.uint64)
    except (OSError, ValueError, KeyError, json.JSONDecodeError, EOFError):
        return None
    if coords.shape != (len(names), 2) or len(digests) != len(names):
        return None
    return SetMap(names, coords, str(meta.get("method")), str(meta.get("content")), digests,
                  int(meta.get("placed", 0)), float(meta.get("seconds", 0.0)))


def _map_bytes(found: SetMap) -> bytes:
    meta = {"format": FORMAT_VERSION, "method": found.method, "content": found.content,
            "placed": found.placed, "seconds": round(found.seconds, 3)}
    names = np.array(found.names, dtype=str) if found.names else np.zeros(0, dtype="<U1")
    buffer = io.BytesIO()
    np.savez(buffer, names=names, coords=found.coords, digests=found.digests, meta=np.array(json.dumps(meta)))
    return buffer.getvalue()


class MapCache:
    """The atlas maps one caller keeps (the app's context, a CLI run, a background job): files in
    `features/.atlas/` written through a CacheWriter, and in memory those that could not be written, so a
    read-only `features/` still gives a map (computed once per cache) with one warning in the log."""

    def __init__(self) -> None:
        self.writer = CacheWriter(log, "the atlas map cache")
        self.maps: dict[Path, SetMap] = {}  # only maps whose file could not be written
        self.models: dict[Path, UmapMap] = {}

    def load(self, path: Path, key: str | None = None) -> SetMap | None:
        """The map at `path`: the one kept in memory when it has content `key` (or no key is asked),
        else the file's, else the memory's (an out-of-date map is still a base for an update)."""
        memory = self.maps.get(path)
        if memory is not None and (key is None or memory.content == key):
            return memory
        stored = load_map(path)
        return stored if stored is not None else memory

    def save(self, path: Path, found: SetMap) -> bool:
        """Keep the map: in its file, or in memory when the file cannot be written (False)."""
        if self.writer.write(path, _map_bytes(found)):
            self.maps.pop(path, None)
            return True
        self.maps[path] = found
        return False

    def load_model(self, path: Path) -> UmapMap | None:
        memory = self.models.get(path)
        return memory if memory is not None else load_model(path)

    def save_model(self, path: Path, fitted: UmapMap) -> bool:
        kept = {"format": FORMAT_VERSION, "reduction": fitted.reduction, "model": fitted.model}
        payload = pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
        if self.writer.write(path, payload):
            self.models.pop(path, None)
            return True
        self.models[path] = UmapMap(np.zeros((0, 2), np.float32), fitted.reduction, fitted.model)
        return False

    def drop_model(self, path: Path) -> None:
        self.models.pop(path, None)
        # A folder that cannot be written keeps the stale model: it is read only to update a UMAP map
        # fitted with it, and the map that replaces it here is not one.
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _trusted(path: Path) -> bool:
    """Whether a pickle at `path` may be read: a regular file this user owns that no one else may write."""
    try:
        stat = path.lstat()
    except OSError:
        return False
    import stat as kinds

    return kinds.S_ISREG(stat.st_mode) and stat.st_uid == os.getuid() and not stat.st_mode & 0o022


def load_model(path: Path) -> UmapMap | None:
    """The stored UMAP model (coordinates left empty), or None when absent, untrusted or unreadable."""
    if not _trusted(path):
        return None
    try:
        with open(path, "rb") as stream:
            payload = pickle.load(stream)  # our own file, checked by _trusted
        if payload.get("format") != FORMAT_VERSION:
            return None
        return UmapMap(np.zeros((0, 2), np.float32), payload["reduction"], payload["model"])
    except Exception:  # any unreadable pickle means: fit again
        return None


def cached_map(features: Path, set_name: str, names: list[str], rows: np.ndarray,
               cache: MapCache | None = None) -> SetMap | None:
    """The stored map (in `cache`'s memory or its file) when it was made from exactly these names and rows
    (any method), else None."""
    key = content_key(names, rows)
    found = (cache or MapCache()).load(map_path(features, set_name), key)
    if found is None or found.content != key:
        return None
    return found


def compute_map(names: list[str], rows: np.ndarray, *, method: str = "auto") -> tuple[SetMap, UmapMap | None]:
    """A fresh map of these rows: UMAP when asked ("umap") or available ("auto") and the set is large
    enough, else PCA. ImportError for "umap" without umap-learn."""
    started = time.perf_counter()
    rows = np.asarray(rows, dtype=np.float32)
    digests = row_digests(names, rows)
    key = _key(digests, rows.shape[1])
    use_umap = method == "umap" or (method == "auto" and umap_available())
    if use_umap and len(rows) >= MIN_UMAP_IMAGES:
        fitted = umap_map(rows)
        return SetMap(list(names), fitted.coords, "umap", key, digests, 0,
                      time.perf_counter() - started), fitted
    coords = pca_map(rows) if len(rows) else np.zeros((0, 2), np.float32)
    return SetMap(list(names), coords, "pca", key, digests, 0, time.perf_counter() - started), None


def refresh_map(features: Path, set_name: str, names: list[str], rows: np.ndarray,
                cache: MapCache | None = None) -> tuple[SetMap, str]:
    """Bring the set's stored map up to date with these names and rows (see the module's docstring); the
    map and what was done, in words ("" when the stored map was current). Kept through `cache` (a fresh
    one when None): a map that cannot be written is kept in its memory, never an error."""
    cache = cache if cache is not None else MapCache()
    rows = np.asarray(rows, dtype=np.float32)
    path, model_file = map_path(features, set_name), model_path(features, set_name)
    digests = row_digests(names, rows)
    key = _key(digests, rows.shape[1])
    old = cache.load(path, key)
    if old is not None and old.content == key:
        return old, ""
    wanted_umap = umap_available() and len(rows) >= MIN_UMAP_IMAGES
    if old is not None and old.method == "umap" and wanted_umap:
        updated = _updated(old, cache.load_model(model_file), names, rows, digests, key)
        if updated is not None:
            cache.save(path, updated)
            return updated, (f"atlas map updated: {plural(updated.placed - old.placed, 'image')} placed, "
                             f"{len(old) - _kept(old, digests):,} removed, in {updated.seconds:.1f} s")
    fresh, fitted = compute_map(names, rows)
    if fitted is not None:
        cache.save_model(model_file, fitted)
    else:
        cache.drop_model(model_file)
    cache.save(path, fresh)
    return fresh, (f"atlas map ({fresh.method.upper()}) of {plural(len(fresh), 'image')} "
                   f"in {fresh.seconds:.1f} s")


def _kept(old: SetMap, digests: np.ndarray) -> int:
    return int(np.isin(old.digests, digests).sum())


def _updated(old: SetMap, stored_model: UmapMap | None, names: list[str], rows: np.ndarray,
             digests: np.ndarray, key: str) -> SetMap | None:
    """The old map with removed images dropped and new or changed ones placed, or None when a new fit is
    due (too many placed, or no usable model)."""
    started = time.perf_counter()
    where = {int(d): i for i, d in enumerate(old.digests)}
    old_rows = np.array([where.get(int(d), -1) for d in digests])
    new = np.flatnonzero(old_rows < 0)
    # Conservative: a removed point is not assumed to have been a placed one.
    placed = min(old.placed, int(len(names) - len(new))) + len(new)
    if placed > MAX_PLACED_SHARE * len(names):
        return None
    model = stored_model if len(new) else None
    if len(new) and model is None:
        return None
    coords = np.empty((len(names), 2), np.float32)
    kept = old_rows >= 0
    coords[kept] = old.coords[old_rows[kept]]
    if len(new):
        assert model is not None
        coords[new] = model.place(rows[new])
    return SetMap(list(names), coords, "umap", key, digests, placed, time.perf_counter() - started)
