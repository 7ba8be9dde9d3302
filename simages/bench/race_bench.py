"""`simages bench race [--set SET] [--size N] [--keys K] [--k K] [--dimension D]`: search methods side
by side on the same kNN queries: brute force, the pivot table (LAESA), a binary hash with coarse-to-fine
re-ranking, HNSW; each with the distances computed per key, the median time per key, its build time and
recall@k against brute force (simages.race.contest). On an indexed set (--set), or by default on a
generated set of --size descriptors modelled on the largest indexed set, large enough for the methods'
savings to show on any machine. --dimension races on the set's PCA view (pivots prune more as D falls).
"""

from __future__ import annotations

import argparse
import os
import time

from simages.cli.common import USER_ERRORS, user_error
from simages.extraction.calibration import describe_cpu
from simages.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="race_set", metavar="SET", help="race on this indexed set")
    parser.add_argument("--size", type=int, default=10_000,
                        help="descriptors in the generated set (default 10,000)")
    parser.add_argument("--keys", type=int, default=30, help="keys, images of the set (default 30)")
    parser.add_argument("--k", type=int, default=10, help="neighbours per key (default 10)")
    parser.add_argument("--dimension", type=int, metavar="D",
                        help="race on the set's PCA view of D dimensions (pruning grows as D falls)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the generated set and of the keys (default 0)")


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    from simages.nearest.sets.cache import default_cache
    from simages.operations.race import generated_set, race, race_table

    print(f"CPU: {describe_cpu()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    try:
        if args.race_set:
            index, how = default_cache.get(settings, args.race_set), ""
        else:
            if args.size < 1000:
                raise ValueError("--size must be at least 1,000")
            index, how = generated_set(settings, args.size, args.seed)
        result = race(index, keys=args.keys, k=args.k, seed=args.seed, generated=how,
                      dimension=args.dimension)
    except (*USER_ERRORS, RuntimeError) as error:
        return user_error(error)
    print(how or f"set {index.set_name}: {len(index):,} images", f"({result.dimension} dimensions); "
          f"{len(result.keys)} keys, k = {result.k}, cosine; {time.perf_counter() - started:.1f} s in all")
    rows = race_table(result)
    widths = {col: max(len(col), *(len(r[col]) for r in rows)) for col in rows[0]}
    print("  ".join(col.ljust(widths[col]) for col in rows[0]))
    for row in rows:
        print("  ".join(row[col].ljust(widths[col]) for col in row))
    print(f"load average at end: {os.getloadavg()[0]:.2f} (2 cores; times grow with it, distances do not)")
    return 0
