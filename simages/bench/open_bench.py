"""`simages bench open [--size N]`: time until a large set is ready for queries, `.npz` vs memory-mapped copy.

Writes a synthetic store of N descriptors (512-d, the default descriptor: PCA learned on the set, query
expansion) into a temporary root, then measures in this process:
  npz     `DescriptorCache.get` reading the compressed store (decompression, PCA, projection, norms)
  mmap    the same call once `jobs.derived.refresh_derived` has written the memory-mapped copy
plus the CPU seconds of the open, the resident memory each adds (RSS after the open and a query, minus
before; mapped pages count while touched but are the kernel's to drop) and the first kNN query on the
opened set (exact: no ANN index is built here, `simages bench ann` measures those).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR
from simages.jobs.derived import refresh_derived
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.joins.join import key_join
from simages.nearest.sets.cache import DescriptorCache
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

OPEN_FLOOR_S = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=100_000, help="images in the synthetic set")
    parser.add_argument("--dim", type=int, default=512, help="descriptor dimension (default 512)")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="the figures as a table (default) or as JSON")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the generated data (default 0)")


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc), MB; 0 where it cannot be read."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _store(settings: Settings, n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Clustered, non-negative, unit-length (only the loading is timed here, so the model of
    # realistic_descriptors is not needed): 1,000 centres with spread.
    centres = np.abs(rng.standard_normal((1000, d), dtype=np.float32))
    vectors = np.empty((n, d), np.float32)
    for start in range(0, n, 65536):
        m = min(65536, n - start)
        x = centres[rng.integers(0, 1000, m)] + 0.5 * np.abs(rng.standard_normal((m, d), dtype=np.float32))
        vectors[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    names = [f"folder_{i // 1000:04d}/IMG_{i:07d}.jpg" for i in range(n)]
    meta = {"descriptor": "gap+l2", "descriptor_spec": str(DEFAULT_DESCRIPTOR)}
    save_store(settings.store_path("big"), FeatureStore(names, [Fingerprint(1, 1)] * n, vectors, meta))
    return vectors[:3].copy()


def _open(settings: Settings, keys: np.ndarray) -> dict[str, float]:
    gc.collect()
    before = rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    index = DescriptorCache().get(settings, "big")
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    key_join(index, keys[0], QuerySpec("cosine", "knn", 10))
    query_s = time.perf_counter() - started
    # CPU seconds as well: on a shared machine the wall time mostly measures the other processes.
    out = {"open_s": seconds, "open_cpu_s": cpu_s, "added_rss_mb": rss_mb() - before,
           "first_query_s": query_s}
    del index
    gc.collect()
    return out


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    log = (lambda text: print(text, file=sys.stderr)) if args.format == "json" else print
    with tempfile.TemporaryDirectory(prefix="simages-open-") as folder:
        bench = Settings(root=Path(folder))
        started = time.perf_counter()
        keys = _store(bench, args.size, args.dim, args.seed)
        log(f"store of {args.size:,} x {args.dim} written in {time.perf_counter() - started:.1f} s "
            f"({bench.store_path('big').stat().st_size / 2**20:.0f} MB)")
        npz = _open(bench, keys)
        log(f"npz:  {npz}")
        started = time.perf_counter()
        refresh_derived(bench, "big", build_ann=False)  # `simages bench ann` measures the index
        derived_s = time.perf_counter() - started
        log(f"memory-mapped copy written in {derived_s:.1f} s")
        mapped = _open(bench, keys)
        log(f"mmap: {mapped}")
    rows = [{"size": args.size, "source": "npz", **npz},
            {"size": args.size, "source": "mmap", **mapped, "derived_build_s": derived_s}]
    if args.format == "json":
        json.dump([{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"\n{'source':>6} {'open s':>8} {'open CPU s':>11} {'added RSS MB':>13} {'first kNN query s':>18}")
    for r in rows:
        print(f"{r['source']:>6} {r['open_s']:>8.2f} {r['open_cpu_s']:>11.2f} {r['added_rss_mb']:>13.0f} "
              f"{r['first_query_s']:>18.3f}")
    ratio = npz["open_s"] / mapped["open_s"] if mapped["open_s"] else float("inf")
    verdict = "meets" if mapped["open_s"] <= OPEN_FLOOR_S else "misses"
    print(f"\nThe memory-mapped copy opens {ratio:.0f}x faster than the .npz and {verdict} the "
          f"{OPEN_FLOOR_S:.0f} s floor ({args.size:,} images; times are inflated on a busy CPU).")
    return 0
