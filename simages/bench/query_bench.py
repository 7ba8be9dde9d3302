"""`simages bench query`: latency of key x set queries and of a set join on random 512-d descriptors.

Compared with two baselines:
  loop   the original design: every query reloads the .npz (np.load), then a Python for-loop computes
         scipy.spatial.distance.cosine per row, then sorted(). When a full run would exceed the budget
         (--baseline-budget) it is extrapolated from a timed sample of rows, and the table says so.
  numpy  a plain numpy brute force on arrays already in memory: norms and scores for the whole set, then a
         full argsort.
SIMages times include everything after the key descriptor is known: the cache check of the store
file, projection, scoring, selection and building the result objects.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.joins.join import key_join, set_join
from simages.nearest.sets.cache import DescriptorCache
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

KEY_FLOOR_MS = 5.0  # key x set on 300 images
JOIN_FLOOR_MS = 2000.0  # 1k x 1k set join


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="300,10000,100000", help="key x set sizes, comma-separated")
    parser.add_argument("--dim", type=int, default=512, help="descriptor dimension (VGG-16 pooled: 512)")
    parser.add_argument("--k", type=int, default=10, help="k of the kNN queries")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per SIMages measurement")
    parser.add_argument("--join-size", type=int, default=1000, help="images per set of the set join")
    parser.add_argument("--baseline-budget", type=float, default=30.0, metavar="SECONDS",
                        help="extrapolate the loop baseline from a sample when a run would take longer")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the generated data (default 0)")


@dataclass
class Timing:
    ms: float
    note: str = ""


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first-call costs (imports, allocator) are not what a running app pays
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _random_descriptors(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    # Non-negative and L2-normalised, like GAP-pooled ReLU features with the default gap+l2 descriptor.
    x = np.abs(rng.standard_normal((n, d), dtype=np.float32))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _write(settings: Settings, name: str, vectors: np.ndarray, spec: str = "gap+l2") -> list[str]:
    """A store of `vectors`; `spec` is the full descriptor the joins apply (PCA, query expansion...)."""
    names = [f"img_{i:06d}.jpg" for i in range(len(vectors))]
    meta = {"descriptor": "gap+l2", "descriptor_spec": spec}
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), vectors, meta)
    save_store(settings.store_path(name), store)
    return names


def _loop_query(path: Path, key: np.ndarray, k: int, rows: int | None = None) -> list[str]:
    """The original design, optionally on the first `rows` rows only (for extrapolation)."""
    from scipy.spatial.distance import cosine

    with np.load(path, allow_pickle=False) as data:
        names = [str(n) for n in data["names"]]
        vectors = data["vectors"]
    scored = []
    for i in range(len(names) if rows is None else rows):
        scored.append((1.0 - cosine(key, vectors[i]), names[i]))
    return [name for _, name in sorted(scored, key=lambda t: (-t[0], t[1]))[:k]]


def _time_loop(path: Path, key: np.ndarray, n: int, k: int, budget_s: float) -> Timing:
    sample = min(n, 2000)
    start = time.perf_counter()
    _loop_query(path, key, k, rows=sample)
    sample_s = time.perf_counter() - start
    start = time.perf_counter()
    with np.load(path, allow_pickle=False) as data:
        _ = data["names"], data["vectors"]
    load_s = time.perf_counter() - start
    estimate = load_s + (sample_s - load_s) * n / sample
    if estimate > budget_s:
        return Timing(estimate * 1000, f"extrapolated from {sample} rows")
    runs = 1 if estimate > 2 else 3
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        _loop_query(path, key, k)
        samples.append((time.perf_counter() - start) * 1000)
    return Timing(statistics.median(samples))


def _numpy_query(names: list[str], vectors: np.ndarray, key: np.ndarray, k: int) -> list[str]:
    scores = vectors @ key / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(key))
    return [names[i] for i in np.argsort(-scores)[:k]]


# Two answers agree when their scores, recomputed in float64, agree to this: which of two images tied to
# 1e-7 comes first depends on float32 rounding, not on which answer is right.
TIE_TOLERANCE = 1e-6


def same_answers(names: list[str], vectors: np.ndarray, key: np.ndarray, ours: list[str],
                 reference: list[str], tolerance: float = TIE_TOLERANCE) -> bool:
    """Whether two ranked answers for `key` agree up to near-ties: same length, and position by position
    their cosine similarities (float64) differ by at most `tolerance`."""
    if len(ours) != len(reference):
        return False
    row = {name: i for i, name in enumerate(names)}
    unit = vectors.astype(np.float64) / np.linalg.norm(vectors.astype(np.float64), axis=1, keepdims=True)
    q = key.astype(np.float64) / np.linalg.norm(key.astype(np.float64))
    a = unit[[row[n] for n in ours]] @ q
    b = unit[[row[n] for n in reference]] @ q
    return bool(np.all(np.abs(a - b) <= tolerance))


def _numpy_join(names: list[str], vectors: np.ndarray, k: int) -> dict[str, list[str]]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    order = np.argsort(-scores, axis=1)[:, :k]
    return {names[i]: [names[j] for j in row] for i, row in enumerate(order)}


def _loop_join_estimate(vectors: np.ndarray, sample_pairs: int = 20_000) -> float:
    """ms for an all-pairs join by per-pair scipy cosine, extrapolated from `sample_pairs` pairs."""
    from scipy.spatial.distance import cosine

    n = len(vectors)
    start = time.perf_counter()
    done = 0
    for i in range(n):
        row = [(1.0 - cosine(vectors[i], vectors[j]), j) for j in range(n) if j != i]
        row.sort(key=lambda t: -t[0])
        done += n - 1
        if done >= sample_pairs:
            break
    elapsed = time.perf_counter() - start
    return elapsed * 1000 * n * (n - 1) / done


def _ratio(baseline_ms: float, ours_ms: float) -> str:
    """How many times faster SIMages is than a baseline (below 1: slower)."""
    if ours_ms <= 0:
        return "-"
    ratio = baseline_ms / ours_ms
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2f}x"


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    rng = np.random.default_rng(args.seed)
    spec = QuerySpec("cosine", "knn", args.k)
    lines = []
    floors = []
    defaults: list[str] = []
    default_spec = DEFAULT_DESCRIPTOR.key()
    with tempfile.TemporaryDirectory(prefix="simages-bench-") as tmp:
        bench = Settings(root=Path(tmp))
        print(f"Key x set: one {args.dim}-d key, kNN k={args.k}, cosine; random non-negative L2-normalised "
              f"descriptors. Median of {args.repeats} runs (SIMages, numpy).", flush=True)
        header = (f"{'set size':>9} | {'SIMages ms':>10} | {'numpy ms':>9} | {'vs numpy':>8} | "
                  f"{'loop+reload ms':>14} | {'vs loop':>8} | {'first load ms':>13} | note")
        lines.append(header)
        lines.append("-" * len(header))
        for n in sizes:
            name = f"bench{n}"
            vectors = _random_descriptors(rng, n, args.dim)
            names = _write(bench, name, vectors)
            key = _random_descriptors(rng, 1, args.dim)[0]
            cache = DescriptorCache()
            start = time.perf_counter()
            cache.get(bench, name)
            first_load_ms = (time.perf_counter() - start) * 1000

            def ours(cache: DescriptorCache = cache, name: str = name, key: np.ndarray = key) -> object:
                return key_join(cache.get(bench, name), key, spec)

            ours_ms = _median_ms(ours, args.repeats)
            numpy_ms = _median_ms(lambda v=vectors, nm=names, q=key: _numpy_query(nm, v, q, args.k),
                                  max(3, args.repeats // 4))
            same = same_answers(names, vectors, key, [m.image for m in ours().matches],
                                _numpy_query(names, vectors, key, args.k))
            loop = _time_loop(bench.store_path(name), key, n, args.k, args.baseline_budget)
            note = "; ".join(filter(None, [loop.note, "" if same else "ANSWERS DIFFER (beyond near-ties)"]))
            lines.append(
                f"{n:>9,} | {ours_ms:>10.3f} | {numpy_ms:>9.3f} | {_ratio(numpy_ms, ours_ms):>8} | "
                f"{loop.ms:>14,.1f} | {_ratio(loop.ms, ours_ms):>8} | {first_load_ms:>13,.1f} | {note}"
            )
            if n == 300:
                floors.append(("key x set on 300 images", ours_ms, KEY_FLOOR_MS))
            print(lines[-1] if len(lines) > 3 else "\n".join(lines), flush=True)
            bench.store_path(name).unlink()  # keep the temporary folder small for the next size
            # The same query with the descriptor the app uses by default, which adds a PCA learned on the
            # set (at load) and query expansion (per query); no reference answers for that one.
            _write(bench, name, vectors, default_spec)
            cache = DescriptorCache()
            cache.get(bench, name)
            default_ms = _median_ms(lambda c=cache, nm=name, q=key: key_join(c.get(bench, nm), q, spec),
                                    args.repeats)
            defaults.append(f"{n:>9,} | {default_ms:>10.3f} ms")
            bench.store_path(name).unlink()

        print(f"\nThe same keys with the default descriptor ({default_spec}: PCA learned on the set, "
              "query expansion):")
        print("\n".join(defaults))

        m = args.join_size
        vectors = _random_descriptors(rng, m, args.dim)
        names = _write(bench, "join", vectors)
        index = DescriptorCache().get(bench, "join")
        join_ms = _median_ms(lambda: set_join(index, index, spec), max(3, args.repeats // 4))
        numpy_join_ms = _median_ms(lambda: _numpy_join(names, vectors, args.k), 3)
        loop_join_ms = _loop_join_estimate(vectors)
        ours_join = {a: [x.image for x in ms] for a, ms in set_join(index, index, spec).groups.items()}
        reference = _numpy_join(names, vectors, args.k)
        row = {name: i for i, name in enumerate(names)}
        same = ours_join.keys() == reference.keys() and all(
            same_answers(names, vectors, vectors[row[a]], ours_join[a], reference[a]) for a in reference)
        print(f"\nSet join {m:,} x {m:,} (self-join, kNN k={args.k}, cosine, {args.dim}-d):")
        print(f"  SIMages (blocked)            {join_ms:>10.1f} ms")
        print(f"  numpy full matrix + argsort  {numpy_join_ms:>10.1f} ms  "
              f"(speed of SIMages relative to it: {_ratio(numpy_join_ms, join_ms)}; below 1x is slower)")
        print(f"  per-pair scipy loop          {loop_join_ms:>10.1f} ms  "
              f"(speed of SIMages relative to it: {_ratio(loop_join_ms, join_ms)}; "
              "extrapolated from 20,000 pairs)")
        print(f"  same answers as numpy (scores equal to {TIE_TOLERANCE:g}; near-ties may swap): "
              f"{'yes' if same else 'NO'}")
        _write(bench, "join_default", vectors, default_spec)
        default_index = DescriptorCache().get(bench, "join_default")
        default_join_ms = _median_ms(lambda: set_join(default_index, default_index, spec), 3)
        print(f"  SIMages, default descriptor  {default_join_ms:>10.1f} ms  ({default_spec})")
        floors.append((f"{m} x {m} set join", join_ms, JOIN_FLOOR_MS))
    print("\nFloors:")
    for what, ms, floor in floors:
        print(f"  {what}: {ms:.1f} ms (floor {floor:g} ms) {'ok' if ms < floor else 'MISSED'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="simages bench query", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run_bench(parser.parse_args(), Settings.from_env())


if __name__ == "__main__":
    raise SystemExit(main())
