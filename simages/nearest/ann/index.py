"""Approximate nearest-neighbour (ANN) indexes of a set's join-space vectors, built with FAISS.

An ANN index is derived data: `features/.ann/<set>.faiss` (the FAISS index), `<set>.ids.simm` (per FAISS
id: the image, its store fingerprint, its current row; and the frozen space the index was built in) and
`<set>.json` (what it was built from, written last).
It is never required: a missing, stale or unreadable index, or FAISS not installed, means the exact search
answers, and `AnnLookup.reason` says why in words a user can act on. The index only *proposes* candidate
rows; every answer is re-scored and ordered exactly by the joins (`nearest.joins.join`), so ANN changes
which images can be found (recall), never their scores.

Methods (all from FAISS, Johnson, Douze & Jégou, "Billion-scale similarity search with GPUs", 2019):
  hnsw    graph search, IndexHNSWFlat (Malkov & Yashunin, "Efficient and robust approximate nearest
          neighbor search using Hierarchical Navigable Small World graphs", TPAMI 2018). The default.
  ivf     inverted file on a k-means coarse quantizer, IndexIVFFlat (Jégou et al., "Product quantization
          for nearest neighbor search", TPAMI 2011, section IV).
  binary  coarse-to-fine binary codes: ITQ (Gong & Lazebnik, "Iterative quantization", CVPR 2011) turns
          each vector into a 256-bit code, a Hamming scan (IndexBinaryFlat) keeps a shortlist, and the
          exact re-scoring of the joins ranks it (the 8-bit-code design of seed 004, with longer codes).

The vectors indexed are those the joins score (`SetIndex.vectors`, after PCA) at build time, scaled to
unit length: the index serves cosine kNN, and Euclidean kNN too when the set's vectors are unit-length
already (then both metrics rank alike). Range queries are always exact. The projection of that moment is
kept with the index (`simages.nearest.ann.space.FrozenSpace`), so images added later are projected like the
ones it was built on, and removed images are hidden at search time by a FAISS ID selector
(`simages.nearest.ann.update` patches an index after indexing instead of rebuilding it).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simages.naming import derived_name
from simages.nearest.ann.space import FrozenSpace
from simages.settings import ENV_ANN_THREADS, environment_setting
from simages.store.atomic import write_atomically
from simages.store.mmap_store import MmapCopy, write_mmap_copy
from simages.store.npz_store import newer_format
from simages.wording import plural

METHODS = ("hnsw", "ivf", "binary")
DEFAULT_METHOD = "hnsw"
# 2: the ids sidecar (frozen space, id -> row) and the tokens tying the three files together.
FORMAT_VERSION = 2

# Below this many images exact search is used even with an index: measured with `simages bench ann`
# (docs/ann.md) on a 2-core Xeon, exact kNN over 128-d vectors costs ~1 ms per 50k images and gives
# recall 1.0, so an approximation only pays off once exact search takes several milliseconds.
AUTO_MIN_IMAGES = 50_000

# HNSW: neighbours per node, and candidate-list sizes while building / searching. efSearch was chosen with
# `simages bench ann` for recall@10 >= 0.95 at 1M (docs/ann.md); it grows slowly with the set.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96
# IVF: lists ~ 4 sqrt(n) (FAISS's guideline), and the share of lists scanned per query.
IVF_PROBES = 24
# Binary: code length, and shortlist size per wanted neighbour before exact re-scoring.
BINARY_BITS = 256
BINARY_SHORTLIST_PER_K = 50
# Vectors whose length is within this of 1 count as unit-length (Euclidean ranks like cosine on them).
_UNIT_TOLERANCE = 1e-3
# Training samples: enough for k-means / ITQ, bounded so a build of 1M stays cheap.
_TRAIN_SAMPLE = 100_000


def faiss_module() -> Any | None:
    """The faiss module, or None when the optional `ann` extra is not installed."""
    try:
        import faiss  # optional dependency, imported only when an index is used
    except ImportError:
        return None
    if not _threads_set.is_set():
        # One thread: a single query gains nothing from more, and on a busy machine OpenMP's spinning
        # threads made searches 15x and binary builds 9x slower (measured on the 2-core Xeon, docs/ann.md).
        # Builds run in the background worker, which should leave the other core to the app anyway.
        faiss.omp_set_num_threads(int(environment_setting(ENV_ANN_THREADS) or "1"))
        _threads_set.set()
    return faiss


_threads_set = threading.Event()


def ann_dir(features: Path) -> Path:
    return features / ".ann"


def index_paths(features: Path, set_name: str) -> tuple[Path, Path]:
    """(index file, its metadata) of a set."""
    folder = ann_dir(features)
    return folder / derived_name(set_name, ".faiss"), folder / derived_name(set_name, ".json")


def ids_path(features: Path, set_name: str) -> Path:
    """The sidecar of a set's index: per FAISS id its image, fingerprint and row; the frozen space."""
    return ann_dir(features) / derived_name(set_name, ".ids.simm")


def store_version(store_path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of a store file: what an index built from it records. None if it is gone."""
    try:
        stat = os.stat(store_path)
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def unit_normalised(vectors: np.ndarray) -> tuple[np.ndarray, bool]:
    """(rows scaled to unit length as float32, whether they were unit-length already)."""
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    lengths = np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.float32))
    unit = bool(len(rows) == 0 or np.all(np.abs(lengths - 1.0) <= _UNIT_TOLERANCE))
    if unit:
        return rows, True
    safe = np.where(lengths > 0, lengths, 1.0).astype(np.float32)
    return np.ascontiguousarray(rows / safe[:, None]), False


@dataclass
class AnnIndex:
    """An index of a set's join-space vectors: FAISS ids 0..ntotal-1, each one image of the set.

    `space`: the frozen projection the vectors were made with (`ann_space.FrozenSpace`); None for an index
    built directly on the vectors of the SetIndex it is searched with (benchmarks, tests: its space is
    that SetIndex's). `id_rows` (ntotal,) int64: each id's row in the store version the index is for, -1
    for an image removed since it was added; None when id i is row i (a fresh build). `count` is the
    number of live ids (the set's images)."""

    method: str
    index: Any  # a faiss.Index (hnsw, ivf) or faiss.IndexBinary (binary)
    count: int
    dimension: int
    unit: bool  # the indexed vectors were unit-length already: Euclidean kNN may use it too
    params: dict[str, Any] = field(default_factory=dict)
    itq: Any = None  # binary: the trained faiss.ITQTransform
    build_seconds: float = 0.0
    space: FrozenSpace | None = None
    id_rows: np.ndarray | None = None
    # Search-time filter of removed ids (HNSW, IVF): the selector and the bitmap it points into, which must
    # stay referenced as long as the selector is used.
    _allowed: np.ndarray | None = field(default=None, init=False, repr=False)
    _selector: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.set_id_rows(self.id_rows)

    @property
    def ntotal(self) -> int:
        """Ids in the FAISS index, removed ones included."""
        return int(self.index.ntotal)

    def set_id_rows(self, id_rows: np.ndarray | None) -> None:
        """Map ids to rows of a (new) store version: (ntotal,) int64, -1 = removed; None: id i is row i."""
        self.id_rows = None if id_rows is None else np.ascontiguousarray(id_rows, dtype=np.int64)
        self._allowed = self._selector = None
        if self.id_rows is None:
            self.count = self.ntotal
            return
        live = self.id_rows >= 0
        self.count = int(np.count_nonzero(live))
        if self.count < len(live) and self.method != "binary":
            faiss = faiss_module()
            self._allowed = np.packbits(live, bitorder="little")
            self._selector = faiss.IDSelectorBitmap(len(live), faiss.swig_ptr(self._allowed))

    def serves(self, metric: str) -> bool:
        return metric == "cosine" or self.unit

    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Candidate rows (m, c) for the k nearest of each query row (m, r), given in the index's space
        (`space`), best first by the index's own estimate; -1 pads. c >= k; the binary method returns its
        whole shortlist for exact re-scoring. Rows are those of the store version the index is for;
        removed images are never returned."""
        faiss = faiss_module()
        rows, _ = unit_normalised(queries)
        k = max(1, min(k, self.count))
        if self.method == "binary":
            # A Hamming scan cannot skip removed ids: the shortlist grows by the share of ids still live
            # (as many live ones on average), then drops the removed ones.
            wanted = max(k * BINARY_SHORTLIST_PER_K, 256) * self.ntotal / max(1, self.count)
            shortlist = min(self.ntotal, math.ceil(wanted))
            codes = _binary_codes(self.itq, rows)
            _, found = self.index.search(codes, shortlist)
            return self._rows_of(found)
        if self.method == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(int(self.params["ef_search"]), k))
        else:
            params = faiss.SearchParametersIVF(nprobe=int(self.params["nprobe"]))
        if self._selector is not None:
            params.sel = self._selector
        _, found = self.index.search(rows, k, params=params)
        return self._rows_of(found)

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        if self.id_rows is None:
            return ids
        return np.where(ids >= 0, self.id_rows[np.maximum(ids, 0)], -1)

    def add(self, vectors: np.ndarray) -> int:
        """Add rows (m, r) of this index's space (`space.project` of stored vectors); they get ids
        ntotal..ntotal+m-1, returned is the first. The caller then maps them to rows (`set_id_rows`)."""
        first = self.ntotal
        rows, _ = unit_normalised(vectors)
        if len(rows) == 0:
            return first
        if self.method == "binary":
            for start in range(0, len(rows), 65536):
                self.index.add(_binary_codes(self.itq, rows[start : start + 65536]))
        else:
            _add_in_chunks(self.index, rows, None)
        return first

    def memory_bytes(self) -> int:
        """Size of the serialised index, a close measure of the memory it takes once loaded."""
        faiss = faiss_module()
        if self.method == "binary":
            codes = faiss.serialize_index_binary(self.index)
            return int(codes.nbytes) + int(_transform_bytes(self.itq).nbytes)
        return int(faiss.serialize_index(self.index).nbytes)


def _transform_bytes(transform: Any) -> np.ndarray:
    faiss = faiss_module()
    writer = faiss.VectorIOWriter()
    faiss.write_VectorTransform(transform, writer)
    return faiss.vector_to_array(writer.data)


def _transform_from(data: np.ndarray) -> Any:
    faiss = faiss_module()
    reader = faiss.VectorIOReader()
    faiss.copy_array_to_vector(np.ascontiguousarray(data), reader.data)
    return faiss.read_VectorTransform(reader)


def _binary_codes(itq: Any, rows: np.ndarray) -> np.ndarray:
    projected = itq.apply(np.ascontiguousarray(rows, dtype=np.float32))
    return np.packbits(projected > 0, axis=1)


def build(
    vectors: np.ndarray,
    method: str = DEFAULT_METHOD,
    *,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    space: FrozenSpace | None = None,
) -> AnnIndex:
    """Build an index of `method` over `vectors` (n, d) float32 join-space rows (row i gets id i).
    `space`: the projection that made `vectors` (`FrozenSpace.of(set_index)`); needed to save the index
    and to add images later; None for an index searched only with the SetIndex whose vectors these are.

    ValueError for an unknown method or an empty set; RuntimeError when FAISS is not installed.
    """
    faiss = faiss_module()
    if faiss is None:
        raise RuntimeError("FAISS is not installed: `pip install 'simages[ann]'` (exact search still works)")
    if method not in METHODS:
        raise ValueError(f"unknown ANN method {method!r}; choose one of {', '.join(METHODS)}")
    if len(vectors) == 0:
        raise ValueError("cannot build an ANN index of an empty set")
    started = time.perf_counter()
    rows, unit = unit_normalised(vectors)
    n, d = rows.shape
    rng = np.random.default_rng(seed)
    sample = rows[np.sort(rng.choice(n, min(n, _TRAIN_SAMPLE), replace=False))]
    itq = None
    if method == "hnsw":
        # L2 on unit vectors ranks exactly like inner product; HNSW's L2 path is FAISS's best-tuned one.
        index = faiss.IndexHNSWFlat(d, HNSW_M)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        params: dict[str, Any] = {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION,
                                  "ef_search": HNSW_EF_SEARCH}
        _add_in_chunks(index, rows, progress)
    elif method == "ivf":
        lists = max(1, min(int(4 * math.sqrt(n)), n // 39 or 1))
        quantizer = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, lists)
        index.cp.seed = seed
        index.train(sample)
        params = {"nlist": lists, "nprobe": min(lists, max(IVF_PROBES, lists // 64))}
        _add_in_chunks(index, rows, progress)
    else:
        bits = min(BINARY_BITS, d)
        itq = faiss.ITQTransform(d, bits, True)
        itq.train(sample)
        index = faiss.IndexBinaryFlat(bits)
        for start in range(0, n, 65536):
            index.add(_binary_codes(itq, rows[start : start + 65536]))
        params = {"bits": bits, "shortlist_per_k": BINARY_SHORTLIST_PER_K}
    return AnnIndex(method, index, n, d, unit, params, itq, time.perf_counter() - started, space)


def _add_in_chunks(index: Any, rows: np.ndarray, progress: Callable[[str], None] | None) -> None:
    chunk = 50_000
    for start in range(0, len(rows), chunk):
        index.add(rows[start : start + chunk])
        if progress is not None:
            progress(f"{min(start + chunk, len(rows)):,} of {plural(len(rows), 'image')} in the index")


@dataclass
class IdRecord:
    """What each FAISS id of a saved index holds, for patching it (`simages.nearest.ann.update`): per id
    (ntotal,) the image name ("" once removed), the store fingerprint (size, mtime_ns) and a digest of the
    stored vector it was added with, and its row in the store version the index is for (-1: removed)."""

    names: list[str]
    sizes: np.ndarray  # int64
    mtimes: np.ndarray  # int64, ns
    digests: np.ndarray  # uint64, ann_update.vector_digests
    rows: np.ndarray  # int64


_TOKEN_BYTES = 16  # hex characters of the token tying the index file to its metadata


def save(
    ann: AnnIndex,
    features: Path,
    set_name: str,
    source: tuple[int, int],
    applied: str,
    record: IdRecord,
    history: dict[str, Any] | None = None,
    *,
    write_index: bool = True,
) -> dict[str, Any]:
    """Write the index, its ids sidecar and its metadata, each atomically; returns the metadata.

    `source` is the store's `store_version`; `applied` the descriptor the vectors were made with
    (SetIndex.applied); `record` the ids (its `rows` become `ann.id_rows`); `history` extra metadata (build
    and patch counts: see ann_update). `write_index=False` keeps the index file on disk as it is (a patch
    that only removed images: the FAISS index did not change) and reuses its token. ValueError for an index
    without a frozen space (it could not be searched with keys from outside its SetIndex)."""
    if ann.space is None:
        raise ValueError("an ANN index is saved with the space it was built in (build(..., space=...))")
    faiss = faiss_module()
    index_file, meta_file = index_paths(features, set_name)
    old = read_meta(features, set_name) or {}
    if write_index or not old.get("index_token"):
        if ann.method == "binary":
            blob = faiss.serialize_index_binary(ann.index)
            extra = _transform_bytes(ann.itq)
        else:
            blob = faiss.serialize_index(ann.index)
            extra = np.zeros(0, np.uint8)
        index_token = secrets.token_hex(_TOKEN_BYTES // 2)
        sizes = {"index_bytes": int(blob.nbytes), "extra_bytes": int(extra.nbytes)}

        def write_index_file(stream: Any) -> None:
            stream.write(memoryview(blob).cast("B"))
            stream.write(memoryview(extra).cast("B"))
            stream.write(index_token.encode("ascii"))

        write_atomically(index_file, write_index_file)
    else:
        index_token = old["index_token"]
        sizes = {"index_bytes": int(old["index_bytes"]), "extra_bytes": int(old["extra_bytes"])}
    ids_token = secrets.token_hex(_TOKEN_BYTES // 2)
    space = ann.space
    arrays = {"rows": record.rows.astype(np.int64), "sizes": record.sizes.astype(np.int64),
              "mtimes": record.mtimes.astype(np.int64), "digests": record.digests.astype(np.uint64)}
    if space.whitening is not None:
        arrays["whitening_mean"] = space.whitening.mean
        arrays["whitening_projection"] = space.whitening.projection
    strings = {"token": ids_token, "index_token": index_token, "root": "1" if space.root else "",
               "input_dimension": str(space.input_dimension)}
    write_mmap_copy(ids_path(features, set_name), source, record.names, arrays, strings)
    ann.set_id_rows(record.rows)
    meta = {
        **(history or {}),
        "format_version": FORMAT_VERSION, "method": ann.method, "count": ann.count, "ntotal": ann.ntotal,
        "dimension": ann.dimension, "unit": ann.unit, "params": ann.params, "store_version": list(source),
        "applied": applied, **sizes, "build_seconds": round(ann.build_seconds, 3),
        "index_token": index_token, "ids_token": ids_token,
    }
    # The index and the sidecar first, then the metadata naming their tokens: a reader that meets new
    # metadata with an old (or half-replaced) file sees the tokens differ and searches exactly.
    write_atomically(meta_file, lambda stream: stream.write(json.dumps(meta, sort_keys=True).encode()))
    return meta


def read_meta(features: Path, set_name: str) -> dict[str, Any] | None:
    _, meta_file = index_paths(features, set_name)
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def read_ids(features: Path, set_name: str, meta: dict[str, Any]) -> tuple[IdRecord, FrozenSpace] | None:
    """The ids sidecar of the index `meta` describes, or None when it is missing, damaged, or belongs to
    another version of the index (its token is not the metadata's)."""
    from simages.extraction.postprocess import Whitening

    try:
        copy = MmapCopy(ids_path(features, set_name))
        if copy.strings.get("token") != meta.get("ids_token") or not meta.get("ids_token"):
            return None
        a = copy.arrays
        whitening = None
        if "whitening_mean" in a:
            whitening = Whitening(np.array(a["whitening_mean"]), np.array(a["whitening_projection"]))
        space = FrozenSpace(bool(copy.strings.get("root")), whitening, int(copy.strings["input_dimension"]))
        record = IdRecord(copy.names, np.array(a["sizes"]), np.array(a["mtimes"]), np.array(a["digests"]),
                          np.array(a["rows"]))
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None
    n = len(record.rows)
    if not (len(record.names) == len(record.sizes) == len(record.mtimes) == len(record.digests) == n):
        return None
    return record, space


def intact(features: Path, set_name: str, meta: dict[str, Any]) -> bool:
    """Whether the index file and the sidecar are whole and the ones `meta` names (their tokens), without
    loading the index: the refresh after indexing repairs files that are not."""
    index_file, _ = index_paths(features, set_name)
    try:
        token = str(meta["index_token"]).encode("ascii")
        size = int(meta["index_bytes"]) + int(meta["extra_bytes"])
        with open(index_file, "rb") as stream:
            if os.fstat(stream.fileno()).st_size != size + len(token):
                return False
            stream.seek(size)
            if stream.read() != token:
                return False
    except (OSError, KeyError, ValueError, TypeError):
        return False
    return read_ids(features, set_name, meta) is not None


@dataclass(frozen=True)
class Loaded:
    """A saved index as read: `index` (None when it cannot be used), its metadata (None without one), and
    `problem`, why a present index cannot be used, in words ("" otherwise)."""

    index: AnnIndex | None
    meta: dict[str, Any] | None
    problem: str = ""


def load(features: Path, set_name: str) -> Loaded:
    """The saved index of a set. Never raises for a damaged or mismatched file: the exact search is the
    answer to that, and `Loaded.problem` says why."""
    faiss = faiss_module()
    meta = read_meta(features, set_name)
    if faiss is None or meta is None:
        return Loaded(None, meta)
    if written_by_newer(meta):
        return Loaded(None, meta, NEWER)
    if meta.get("format_version") != FORMAT_VERSION:
        return Loaded(None, meta, "the set's ANN index was made by another version of SIMages; the next "
                                  "indexing rebuilds it")
    index_file, _ = index_paths(features, set_name)
    unreadable = "the ANN index cannot be read; the next indexing rebuilds it"
    mismatched = ("the ANN index files do not belong together (an update was interrupted or is under way); "
                  "the next indexing rebuilds it")
    try:
        data = np.fromfile(index_file, dtype=np.uint8)
        size, extra = int(meta["index_bytes"]), int(meta["extra_bytes"])
        token = str(meta["index_token"]).encode("ascii")
        if data.nbytes != size + extra + len(token):
            return Loaded(None, meta, unreadable)
        if data[size + extra :].tobytes() != token:
            return Loaded(None, meta, mismatched)
        ids = read_ids(features, set_name, meta)
        if ids is None:
            return Loaded(None, meta, mismatched)
        record, space = ids
        itq = None
        if meta["method"] == "binary":
            index = faiss.deserialize_index_binary(data[:size])
            itq = _transform_from(data[size : size + extra])
        else:
            index = faiss.deserialize_index(data[:size])
        del data
        if index.ntotal != len(record.rows):
            return Loaded(None, meta, mismatched)
        ann = AnnIndex(meta["method"], index, int(meta["count"]), int(meta["dimension"]), bool(meta["unit"]),
                       dict(meta["params"]), itq, float(meta.get("build_seconds", 0.0)), space, record.rows)
    except (OSError, KeyError, ValueError, RuntimeError, TypeError):
        return Loaded(None, meta, unreadable)
    return Loaded(ann, meta)


# Why a newer SIMages' index is neither used nor replaced (going back a version must not cost a rebuild).
NEWER = ("the set's ANN index was written by a newer SIMages; this version searches exactly and leaves "
         "the index as it is")


def written_by_newer(meta: dict[str, Any] | None) -> bool:
    """Whether the index metadata says a newer SIMages (a higher format_version) wrote it."""
    return meta is not None and newer_format(meta.get("format_version"), FORMAT_VERSION)


def remove(features: Path, set_name: str) -> None:
    """Delete the set's index files; a newer SIMages' index is left as it is."""
    if written_by_newer(read_meta(features, set_name)):
        return
    for path in (*index_paths(features, set_name), ids_path(features, set_name)):
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class AnnLookup:
    """What a kNN query on a set may use: an index, or None and the reason in words (empty when exact
    search is simply the right tool, e.g. a small set or exact search asked for)."""

    index: AnnIndex | None
    reason: str = ""


class AnnRegistry:
    """Loaded indexes by set, reused until their metadata file changes (one stat per lookup).
    Thread-safe; one per process (`default_registry`)."""

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[tuple[int, int, int], Loaded]] = {}
        self._lock = threading.Lock()

    def get(self, features: Path, set_name: str) -> Loaded:
        _, meta_file = index_paths(features, set_name)
        try:
            stat = os.stat(meta_file)
        except FileNotFoundError:
            return Loaded(None, None)
        identity = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            cached = self._entries.get(meta_file)
            if cached is not None and cached[0] == identity:
                return cached[1]
            loaded = load(features, set_name)
            self._entries[meta_file] = (identity, loaded)
            return loaded

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


default_registry = AnnRegistry()


def lookup(
    features: Path | None,
    set_name: str,
    source: tuple[int, int, int] | None,
    applied: str,
    count: int,
    metric: str,
    *,
    min_images: int | None = None,
    registry: AnnRegistry | None = None,
) -> AnnLookup:
    """The index a kNN query on a set of `count` images should use, or why none (see AnnLookup).

    `source` is the identity SetIndex.source of the store the set was read from ((mtime_ns, size, inode));
    an index built from another version of the store is stale and not used. `min_images` defaults to
    AUTO_MIN_IMAGES."""
    if count < (AUTO_MIN_IMAGES if min_images is None else min_images) or features is None:
        return AnnLookup(None)
    if faiss_module() is None:
        return AnnLookup(None, "the ANN library (faiss-cpu) is not installed")
    loaded = (registry or default_registry).get(features, set_name)
    ann, meta = loaded.index, loaded.meta
    if meta is None:
        return AnnLookup(None, "the set has no ANN index yet (it is built after indexing)")
    if written_by_newer(meta):
        return AnnLookup(None, NEWER)
    same_store = source is not None and list(meta.get("store_version", [])) == [source[0], source[1]]
    if same_store and meta.get("applied") != applied:
        # E.g. the duplicates reading (stored vectors, no PCA) of a set whose index holds its PCA vectors.
        return AnnLookup(None, f"the set's ANN index is built for its {meta.get('applied')} descriptor, "
                               f"not for {applied or 'the stored vectors'}")
    if not (same_store and meta.get("count") == count):
        # The index is patched (or rebuilt) after each indexing run and then records the new store version.
        return AnnLookup(None, "the set changed since its ANN index was last updated; it is updated after "
                               "indexing")
    if ann is None:
        unreadable = "the ANN index cannot be read; the next indexing rebuilds it"
        return AnnLookup(None, loaded.problem or unreadable)
    if not ann.serves(metric):
        return AnnLookup(None, "the ANN index serves cosine only for this set's descriptor")
    return AnnLookup(ann)
