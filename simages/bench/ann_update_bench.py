"""`simages bench ann-update [--size N] [--change SHARE] [--format json]`: patching an ANN index after
images are added or removed, against rebuilding it.

Realistic descriptors (`simages.bench.realistic_descriptors`, fitted to the largest indexed set under
--root), the default descriptor (PCA learned on the set, query expansion), stores written with the store
API in a temporary folder and the index kept up to date by the very code that runs after indexing
(`simages.nearest.ann.update.update`, which patches or rebuilds):

  add:     an index built on N - M images, then M images added: patched (+M) vs rebuilt on all N;
  remove:  that rebuilt index of N images, then M random images removed: patched (-M) vs rebuilt on N - M.

M = SHARE x N (default 10%). For each index: the seconds to bring it up to date (patch or build, files
read and written included), recall@10 against exact kNN in the set's *current* space (its PCA learned on
the set as it is now), median and 95th-percentile ms per query (the whole `key_join`), on held-out keys.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simages.bench.ann_bench import add_model_arguments
from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR
from simages.nearest.ann import index as ann
from simages.nearest.ann import search as approximate
from simages.nearest.ann import update as ann_update
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import key_join
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=100_000, help="images in the larger set (default 100k)")
    parser.add_argument("--change", type=float, default=0.1,
                        help="share of --size added / removed (default 0.1; the index is rebuilt past "
                             f"{round(100 * ann_update.DRIFT_LIMIT)}%% of its build)")
    parser.add_argument("--queries", type=int, default=200, help="held-out keys timed and scored")
    parser.add_argument("--overfetch", default=f"1,{approximate.PATCHED_OVERFETCH}", metavar="LIST",
                        help="candidates per answer asked of a patched index, comma-separated (measured "
                             f"each; the built-in is {approximate.PATCHED_OVERFETCH})")
    parser.add_argument("--drift-limit", type=float, default=ann_update.DRIFT_LIMIT, metavar="SHARE",
                        help="patch instead of rebuilding up to this drift (default the built-in "
                             f"{ann_update.DRIFT_LIMIT}); larger values measure what the rule avoids")
    add_model_arguments(parser)


# Untimed keys every configuration answers before the timed ones (other keys than those timed).
WARMUP_KEYS = 10


@dataclass
class Row:
    scenario: str  # "add" or "remove"
    index: str  # "patched" or "rebuilt"
    size: int  # images in the set after the change
    changed: int  # images added or removed
    update_s: float  # seconds to bring the index up to date (patch, or build from scratch)
    recall_at_10: float
    median_ms: float
    p95_ms: float
    overfetch: int  # candidates asked per answer, x k (1 for a rebuilt index: its space is the set's)


def _write(features: Path, name: str, names: list[str], vectors: np.ndarray, meta: dict) -> SetIndex:
    """The store of `names` written with the store API, and the set read from it as a query would."""
    path = features / f"{name}.npz"
    # Fingerprints as the indexer records them: a file's size and modification time, distinct per image.
    fingerprints = [Fingerprint(1000 + int(name[4:11]), 1) for name in names]  # names img_NNNNNNN.jpg
    save_store(path, FeatureStore(names, fingerprints, vectors, meta))
    stat = os.stat(path)
    index = SetIndex.from_store(name, FeatureStore(names, fingerprints, vectors, meta),
                                source=(stat.st_mtime_ns, stat.st_size, stat.st_ino))
    index.store_path = path
    return index


@contextmanager
def _setting(module: Any, name: str, value: Any) -> Iterator[None]:
    """A module constant set for the measurements inside, and restored after."""
    before = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, before)


def _rename_set(features: Path, old: str, new: str) -> None:
    """Move a set's store and ANN files to another set name, keeping the store's version (mtime, size)."""
    ann.remove(features, new)
    os.replace(features / f"{old}.npz", features / f"{new}.npz")
    pairs = [*zip(ann.index_paths(features, old), ann.index_paths(features, new), strict=True),
             (ann.ids_path(features, old), ann.ids_path(features, new))]
    for source, target in pairs:
        os.replace(source, target)


def _update(features: Path, name: str, index: SetIndex) -> tuple[float, str]:
    started = time.perf_counter()
    message = ann_update.update(features, name, index, features / f"{name}.npz")
    return time.perf_counter() - started, message


def _measure(configs: list[tuple[SetIndex, ann.AnnIndex, int]], keys: np.ndarray, truth: list[set[str]],
             spec: QuerySpec, warmup: np.ndarray) -> list[tuple[float, float, float]]:
    """(recall@10, median ms, p95 ms) of each (set, index, over-fetch) configuration on the same keys.

    After untimed `warmup` keys, every configuration answers all keys once per round, one configuration
    after the other, in an order rotating with the round (as many rounds as configurations), so each runs
    first once. Measured once each, one after the other, whichever ran first was the slowest (1M: 5.6 ms,
    then 4.8 and 3.3 ms for configurations doing the same work); taking turns key by key instead let two
    configurations of the same index share the cache for each key. Times are pooled over the rounds."""
    def answer(config: tuple[SetIndex, ann.AnnIndex, int], key: np.ndarray) -> set[str]:
        index, built, times = config
        with _setting(approximate, "PATCHED_OVERFETCH", times):
            return {m.image for m in key_join(index, key, spec, ann_index=built).matches}

    for key in warmup:
        for config in configs:
            answer(config, key)
    found: list[list[set[str]]] = [[] for _ in configs]
    ms: list[list[float]] = [[] for _ in configs]
    for round_ in range(len(configs)):
        for turn in range(len(configs)):
            c = (round_ + turn) % len(configs)
            for key in keys:
                started = time.perf_counter()
                answer_set = answer(configs[c], key)
                ms[c].append((time.perf_counter() - started) * 1000)
                if round_ == 0:
                    found[c].append(answer_set)  # answers do not change from round to round
    results = []
    for config_found, config_ms in zip(found, ms, strict=True):
        pairs = zip(truth, config_found, strict=True)
        recall = statistics.mean(len(t & f) / max(1, len(t)) for t, f in pairs)
        results.append((recall, statistics.median(config_ms), float(np.percentile(config_ms, 95))))
    return results


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    from simages.bench.ann_bench import source_vectors
    from simages.bench.realistic_descriptors import fit_model, sample
    from simages.extraction.calibration import describe_cpu

    if ann.faiss_module() is None:
        print("simages: error: this benchmark needs FAISS: pip install 'simages[ann]'", file=sys.stderr)
        return 2
    try:
        overfetch = [int(v) for v in args.overfetch.split(",") if v.strip()]
        changed = round(args.size * args.change)
        if args.size < 1000 or not 0 < args.change < 1 or args.queries < 1 or not overfetch or changed < 1:
            raise ValueError("--size >= 1000, 0 < --change < 1, --queries >= 1, --overfetch values >= 1")
        fitted_on, real = source_vectors(settings, args.source)
    except (ValueError, LookupError) as error:
        print(f"simages: error: {error}", file=sys.stderr)
        return 2
    log = (lambda text: print(text, file=sys.stderr)) if args.format == "json" else print
    log(f"CPU: {describe_cpu()}; load average {os.getloadavg()[0]:.2f} (other processes inflate times)")
    model = fit_model(real, seed=args.seed)
    vectors = sample(model, args.size, seed=args.seed)
    keys = sample(model, args.queries, seed=args.seed + 1000, duplicate_share=0.0)
    warmup = sample(model, WARMUP_KEYS, seed=args.seed + 2000, duplicate_share=0.0)
    names = [f"img_{i:07d}.jpg" for i in range(args.size)]
    meta = {"descriptor": "gap+l2", "descriptor_spec": str(DEFAULT_DESCRIPTOR)}
    spec = QuerySpec("cosine", "knn", 10)
    log(f"{args.size:,} descriptors modelled on {fitted_on!r}; change: {changed:,} images "
        f"({args.change:.0%}); {args.queries} held-out keys, k = 10, {DEFAULT_DESCRIPTOR}")
    rows: list[Row] = []
    base = args.size - changed
    rng = np.random.default_rng(args.seed)
    removed = np.sort(rng.choice(args.size, changed, replace=False))
    kept = np.setdiff1d(np.arange(args.size), removed)
    with _setting(ann_update, "DRIFT_LIMIT", args.drift_limit), tempfile.TemporaryDirectory(
        prefix="simages-ann-update-"
    ) as folder:
        features = Path(folder)
        for scenario, before, after in (("add", np.arange(base), np.arange(args.size)),
                                        ("remove", np.arange(args.size), kept)):
            if scenario == "add":
                first = _write(features, "patched", [names[i] for i in before], vectors[before], meta)
                log(f"{scenario}: {_update(features, 'patched', first)[1]}")
                del first
            else:  # the index rebuilt on all N images for "add" is the one to remove images from
                _rename_set(features, "rebuilt", "patched")
            current = _write(features, "patched", [names[i] for i in after], vectors[after], meta)
            patch_s, message = _update(features, "patched", current)
            log(f"{scenario}: {message}")
            if "patched" not in message:
                print(f"simages: error: the index was not patched ({message}); --drift-limit patches further",
                      file=sys.stderr)
                return 1
            fresh = _write(features, "rebuilt", [names[i] for i in after], vectors[after], meta)
            build_s, message = _update(features, "rebuilt", fresh)
            log(f"{scenario}: {message}")
            patched_index = ann.load(features, "patched").index
            rebuilt_index = ann.load(features, "rebuilt").index
            started = time.perf_counter()
            truth = [{m.image for m in key_join(current, key, spec, exact=True).matches} for key in keys]
            exact_ms = (time.perf_counter() - started) * 1000 / len(keys)
            log(f"{scenario}: exact kNN in the current space, {exact_ms:.1f} ms per query (mean)")
            configs = [(current, patched_index, times) for times in overfetch]
            configs.append((fresh, rebuilt_index, 1))
            measured = _measure(configs, keys, truth, spec, warmup)
            for position, (config, (recall, median, p95)) in enumerate(zip(configs, measured, strict=True)):
                times = config[2]
                patched = position < len(overfetch)  # the last configuration is the rebuilt index
                rows.append(Row(scenario, "patched" if patched else "rebuilt", len(after), changed,
                                patch_s if patched else build_s, recall, median, p95, times))
                log(_line(rows[-1]))
            del current, fresh, patched_index, rebuilt_index
    if args.format == "json":
        json.dump([_rounded(r) for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _table(rows)
    return 0


def _rounded(row: Row) -> dict:
    out = asdict(row)
    for key in ("update_s", "recall_at_10", "median_ms", "p95_ms"):
        out[key] = round(float(out[key]), 4 if key == "recall_at_10" else 3)
    return out


def _line(row: Row) -> str:
    return (f"  {row.scenario} {row.index} (overfetch {row.overfetch}): {row.update_s:.1f} s, "
            f"recall@10 {row.recall_at_10:.3f}, median {row.median_ms:.2f} ms, p95 {row.p95_ms:.2f} ms")


def _table(rows: list[Row]) -> None:
    print(f"\n{'scenario':>8} {'index':>8} {'overfetch':>9} {'images':>9} {'update s':>9} {'recall@10':>10} "
          f"{'median ms':>10} {'p95 ms':>8}")
    for row in rows:
        print(f"{row.scenario:>8} {row.index:>8} {row.overfetch:>9} {row.size:>9,} {row.update_s:>9.1f} "
              f"{row.recall_at_10:>10.3f} {row.median_ms:>10.2f} {row.p95_ms:>8.2f}")
    for scenario in ("add", "remove"):
        patched = [r for r in rows if r.scenario == scenario and r.index == "patched"]
        rebuilt = [r for r in rows if r.scenario == scenario and r.index == "rebuilt"]
        if patched and rebuilt:
            patch_s, build_s = patched[0].update_s, rebuilt[0].update_s
            print(f"{scenario}: patching took {patch_s:.1f} s against {build_s:.1f} s for a rebuild "
                  f"({build_s / max(patch_s, 1e-9):.1f}x faster); recall@10 "
                  f"{patched[-1].recall_at_10:.3f} patched vs {rebuilt[0].recall_at_10:.3f} rebuilt")
    print("Times are inflated when other processes share the CPU; compare them within one run.")
