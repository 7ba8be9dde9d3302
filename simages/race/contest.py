"""The race: the same cosine kNN queries answered by four methods, with their cost and their recall.

Each key is an image of the set, left out of its own answer; expansion is off, so every method answers
the very same question on the set's searched vectors. Per method (a "lap"):

- **brute force**: the key's distance to every image (one matrix product);
- **pivot table** (LAESA: Micó, Oncina & Vidal, Pattern Recognition Letters 15(1), 1994): distances to the
  pivots, then to the images the triangle inequality cannot rule out; exact (docs/teaching.md);
- **binary hash, coarse to fine**: every image as a short binary code (ITQ, Gong & Lazebnik, CVPR 2011;
  FAISS), a Hamming scan of all codes keeps a shortlist, whose exact distances rank it
  (simages.nearest.ann.index);
- **HNSW** (Malkov & Yashunin, TPAMI 2018; FAISS): a walk through a neighbour graph, then the exact
  re-scoring of its candidates.

"Distances" counts full-precision vector distances (for HNSW the graph walk's, from FAISS's own counter,
plus the re-scoring); the binary hash's Hamming comparisons of short codes are counted apart ("codes").
Time is the median per key, build time apart. Recall@k: the share of brute force's k answers a method
also returned, averaged over the keys (brute force and the pivot table: 1 by construction).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from simages.nearest.ann import index as ann
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import key_join
from simages.nearest.teaching.query_cost import IndexChoice, explained_key_join
from simages.wording import plural

METHODS = ("brute", "pivots", "binary", "hnsw")
LABELS = {"brute": "brute force", "pivots": "pivot table (LAESA)", "binary": "binary hash + re-rank",
          "hnsw": "HNSW graph"}


@dataclass
class Lap:
    """One method over all keys: `distances` and `codes` per key (means), `total` images per key, `ms`
    median per key, `build_s` once, `recall` at k against brute force, and each key's answers."""

    method: str
    label: str
    distances: float
    codes: float
    total: int
    ms: float
    build_s: float
    recall: float
    setting: str = ""
    answers: list[list[str]] = field(default_factory=list, repr=False)

    def share(self) -> float:
        return self.distances / self.total if self.total else 0.0


@dataclass
class Race:
    set_name: str
    images: int
    dimension: int
    keys: list[str]
    k: int
    laps: list[Lap]
    generated: str = ""  # how the set was generated, "" for a real set


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return np.ascontiguousarray(rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12))


def _exact_top(vectors: np.ndarray, names: np.ndarray, rank: np.ndarray, query: np.ndarray,
               rows: np.ndarray, own: int, k: int) -> list[str]:
    """The k best of candidate `rows` by exact cosine (ties by name, as the joins order them)."""
    rows = rows[(rows >= 0) & (rows != own)]
    scores = vectors[rows] @ query
    order = np.lexsort((rank[rows], -scores))[:k]
    return [str(n) for n in names[rows[order]]]


def run_race(index: SetIndex, keys: list[str], k: int = 10, *, methods: tuple[str, ...] = METHODS,
             pivots: int | None = None, seed: int = 0) -> Race:
    """Race `methods` on cosine kNN (`k`) for each of `keys` (images of `index`, each left out of its own
    answer). ValueError for no keys, a key not in the set, k < 1, or a set of fewer than k + 1 images;
    RuntimeError when a FAISS method is asked for without FAISS (the extra `ann`)."""
    if not keys:
        raise ValueError("the race needs at least one key")
    if k < 1 or len(index) < k + 1:
        raise ValueError(f"k must be at least 1 and below the set's {plural(len(index), 'image')}")
    unknown = [key for key in keys if key not in index]
    if unknown:
        raise ValueError(f"not images of {index.set_name}: {', '.join(unknown[:3])}")
    spec = QuerySpec("cosine", "knn", k, expand=False)
    names = np.array(index.names, dtype=object)
    rank = index.name_rank
    laps: list[Lap] = []
    truth: list[list[str]] = []
    for method in ("brute", *[m for m in methods if m != "brute"]):
        if method == "brute":
            lap = _brute_lap(index, keys, k, names, rank)
        elif method == "pivots":
            lap = _exact_lap(index, keys, spec, method, pivots)
        else:
            lap = _ann_lap(index, keys, k, method, names, rank, seed)
        if method == "brute":
            truth = lap.answers
        lap.recall = float(np.mean([len(set(found) & set(want)) / k
                                    for found, want in zip(lap.answers, truth, strict=True)]))
        if method in methods:
            laps.append(lap)
    return Race(index.set_name, len(index), int(index.vectors.shape[1]), list(keys), k, laps)


def _exact_lap(index: SetIndex, keys: list[str], spec: QuerySpec, method: str, pivots: int | None) -> Lap:
    choice = IndexChoice("pivots", pivots)
    build_s = 0.0
    if method == "pivots":
        started = time.perf_counter()  # the table is built once, on the first query: time it apart
        explained_key_join(index, index.raw_vector(keys[0]), spec, choice, exclude=keys[0])
        build_s = time.perf_counter() - started
    answers, computed, ms, total, used = [], [], [], 0, 0
    for key in keys:
        result, cost = explained_key_join(index, index.raw_vector(key), spec, choice, exclude=key)
        answers.append([m.image for m in result.matches])
        computed.append(cost.computed or 0)
        ms.append(cost.ms)
        total, used = cost.total, cost.pivots
    setting = f"{plural(used, 'pivot')}" if method == "pivots" else ""
    return Lap(method, LABELS[method], float(np.mean(computed)), 0.0, total, statistics.median(ms),
               build_s, 0.0, setting, answers)


def _brute_lap(index: SetIndex, keys: list[str], k: int, names: np.ndarray, rank: np.ndarray) -> Lap:
    """Brute force as the ANN laps are timed: one matrix-vector product over the unit-length rows and a
    top-k, without the joins' bookkeeping (the pivot lap has it: docs/teaching.md)."""
    vectors = _unit(index.vectors)
    every = np.arange(len(index))
    answers, ms = [], []
    for key in keys:
        own = index.row_of(key)
        began = time.perf_counter()
        scores = vectors @ vectors[own]
        scores[own] = -np.inf
        top = np.argpartition(-scores, k)[: k + 1] if len(index) > k + 1 else every
        # Ties at the k-th score: every row tied with it competes, ordered by name as the joins do.
        kth = np.sort(scores[top])[::-1][k - 1]
        rows = np.flatnonzero(scores >= kth)
        answers.append(_exact_top(vectors, names, rank, vectors[own], rows, own, k))
        ms.append(1000 * (time.perf_counter() - began))
    return Lap("brute", LABELS["brute"], float(len(index) - 1), 0.0, len(index) - 1, statistics.median(ms),
               0.0, 0.0, "", answers)


def _ann_lap(index: SetIndex, keys: list[str], k: int, method: str, names: np.ndarray, rank: np.ndarray,
             seed: int) -> Lap:
    faiss = ann.faiss_module()
    if faiss is None:
        raise RuntimeError("the binary hash and HNSW need FAISS: pip install 'simages[ann]'")
    vectors = _unit(index.vectors)
    started = time.perf_counter()
    built = _binary_index(vectors, seed) if method == "binary" else ann.build(vectors, method, seed=seed)
    build_s = time.perf_counter() - started
    answers, computed, codes, ms = [], [], [], []
    for key in keys:
        own = index.row_of(key)
        query = vectors[own]
        if method == "hnsw":
            faiss.cvar.hnsw_stats.reset()
        began = time.perf_counter()
        rows = built.candidates(query[None, :], k + 1)[0]
        found = _exact_top(vectors, names, rank, query, rows, own, k)
        ms.append(1000 * (time.perf_counter() - began))
        rescored = int(np.count_nonzero((rows >= 0) & (rows != own)))
        if method == "hnsw":
            computed.append(int(faiss.cvar.hnsw_stats.ndis) + rescored)
            codes.append(0)
        else:
            computed.append(rescored)
            codes.append(built.ntotal)
        answers.append(found)
    setting = (f"efSearch {built.params['ef_search']}" if method == "hnsw"
               else f"{built.params['bits']}-bit codes, shortlist "
                    f"{min(max(k * ann.BINARY_SHORTLIST_PER_K, 256), len(index) - 1):,}")
    return Lap(method, LABELS[method], float(np.mean(computed)), float(np.mean(codes)), len(index) - 1,
               statistics.median(ms), build_s, 0.0, setting, answers)


# The race's binary hash: shorter codes and a smaller training sample than the ANN index's (256 bits on
# every row), so that it builds in seconds: ITQ's training took 31 s for 256 bits against 8 s for 128 on
# 2,000-5,000 rows of the busy 2-core Xeon (load 13).
RACE_BITS = 128
BINARY_TRAIN_ROWS = 5_000


def _binary_index(vectors: np.ndarray, seed: int) -> ann.AnnIndex:
    """The binary method of simages.nearest.ann (ITQ codes, Gong & Lazebnik 2011, in a FAISS
    IndexBinaryFlat) with RACE_BITS-bit codes, its rotation learned on at most BINARY_TRAIN_ROWS rows."""
    faiss = ann.faiss_module()
    n, d = vectors.shape
    rng = np.random.default_rng(seed)
    sample = vectors[np.sort(rng.choice(n, min(n, BINARY_TRAIN_ROWS), replace=False))]
    # ITQ's PCA cannot keep more directions than it has rows: a set of 10 images gets 8-bit codes.
    bits = min(RACE_BITS, d - d % 8, len(sample) - len(sample) % 8)
    if bits < 8:
        raise ValueError(f"a binary hash needs at least 8 images and 8 values per descriptor, got {n} x {d}")
    itq = faiss.ITQTransform(d, bits, True)
    itq.train(np.ascontiguousarray(sample))
    index = faiss.IndexBinaryFlat(bits)
    index.add(np.packbits(itq.apply(vectors) > 0, axis=1))
    return ann.AnnIndex("binary", index, n, d, True, {"bits": bits}, itq)


def pick_keys(index: SetIndex, count: int, seed: int = 0) -> list[str]:
    """`count` images of the set drawn at random (reproducibly), in name order."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(index), size=min(count, len(index)), replace=False)
    return sorted(index.names[int(r)] for r in rows)


def brute_answer(index: SetIndex, key: str, k: int) -> list[str]:
    """Brute force's answer for one key, straight from the joins (tests compare the race with it)."""
    result = key_join(index, index.raw_vector(key), QuerySpec("cosine", "knn", k, expand=False), exclude=key,
                      exact=True)
    return [m.image for m in result.matches]
