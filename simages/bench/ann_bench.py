"""`simages bench ann [--size N] [--format json]`: exact kNN against each ANN method on realistic descriptors.

The set is sampled from a model fitted to a real indexed set (`simages.bench.realistic_descriptors`; by
default the largest store under --root, e.g. Corel-1k indexed with `simages index`), then searched with
the default descriptor, as the app would: PCA learned on the set, query expansion, k = 10. Keys are
held-out samples of the same model (like photos uploaded as keys). Per method: recall@10 against the exact
answer, median and 95th-percentile milliseconds per query (the whole `key_join`, projection, expansion and
exact re-scoring included), build seconds and memory (exact: the join-space vectors; ANN methods: the
index, on top of those vectors).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR
from simages.nearest.ann import index as ann
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import key_join
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, load_store

MEDIAN_FLOOR_MS = 2.0
RECALL_FLOOR = 0.95


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--from, --format and --seed: what every benchmark on realistic descriptors (section 2 of
    docs/ann.md) takes alike."""
    parser.add_argument("--from", dest="source", metavar="SET",
                        help="indexed set whose descriptors the model is fitted to (default: the largest)")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="the figures as a table (default) or as JSON")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled descriptors and keys")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=100_000, help="images in the synthetic set")
    parser.add_argument("--queries", type=int, default=200, help="keys timed and scored (default 200)")
    parser.add_argument("--methods", default=",".join(ann.METHODS), help="comma-separated ANN methods")
    parser.add_argument("--descriptor", dest="bench_descriptor", default=str(DEFAULT_DESCRIPTOR),
                        help=f"descriptor the joins apply (default {DEFAULT_DESCRIPTOR})")
    parser.add_argument("--hnsw-ef", default=str(ann.HNSW_EF_SEARCH), metavar="LIST",
                        help="HNSW efSearch values to measure on one built index, comma-separated")
    parser.add_argument("--ivf-nprobe", default="", metavar="LIST",
                        help="IVF lists probed per query to measure, comma-separated (default: the built-in)")
    add_model_arguments(parser)


@dataclass
class Row:
    size: int
    method: str
    recall_at_10: float
    median_ms: float
    p95_ms: float
    build_s: float
    memory_mb: float
    setting: str = ""  # the search-time parameter measured (efSearch, nprobe), when the method has one


def source_vectors(settings: Settings, set_name: str | None) -> tuple[str, np.ndarray]:
    """(set name, stored vectors) of the set the model is fitted to; LookupError when there is none."""
    if set_name is None:
        stores = sorted(settings.features.glob("*.npz"), key=lambda p: p.stat().st_size, reverse=True)
        if not stores:
            raise LookupError(
                f"no indexed set under {settings.root}: index a set of real photos (e.g. Corel-1k) with "
                "`simages index`, then run again (the benchmark's descriptors are modelled on it)"
            )
        set_name = stores[0].stem
    store = load_store(settings.store_path(set_name))
    if len(store) < 100:
        raise LookupError(f"set {set_name!r} has {len(store)} images; the model needs at least 100")
    return set_name, store.vectors


def _timed(fn, count: int) -> tuple[list, list[float]]:
    results, ms = [], []
    for i in range(count):
        start = time.perf_counter()
        results.append(fn(i))
        ms.append((time.perf_counter() - start) * 1000)
    return results, ms


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    from simages.bench.realistic_descriptors import fit_model, sample

    if ann.faiss_module() is None:
        print("simages: error: the ANN benchmark needs FAISS: pip install 'simages[ann]'", file=sys.stderr)
        return 2
    try:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = [m for m in methods if m not in ann.METHODS]
        if unknown or args.size < 1000 or args.queries < 1:
            raise ValueError(f"--methods from {', '.join(ann.METHODS)}; --size >= 1000; --queries >= 1")
        fitted_on, real = source_vectors(settings, args.source)
    except (ValueError, LookupError) as error:
        print(f"simages: error: {error}", file=sys.stderr)
        return 2
    log = (lambda text: print(text, file=sys.stderr)) if args.format == "json" else print
    model = fit_model(real, seed=args.seed)
    started = time.perf_counter()
    vectors = sample(model, args.size, seed=args.seed)
    keys = sample(model, args.queries, seed=args.seed + 1000, duplicate_share=0.0)
    log(f"{args.size:,} descriptors modelled on set {fitted_on!r} ({len(real)} images) in "
        f"{time.perf_counter() - started:.1f} s")
    names = [f"img_{i:07d}.jpg" for i in range(args.size)]
    meta = {"descriptor": "gap+l2", "descriptor_spec": args.bench_descriptor}
    store = FeatureStore(names, [Fingerprint(1, 1)] * args.size, vectors, meta)
    started = time.perf_counter()
    index = SetIndex.from_store("bench", store)
    del store, vectors, names
    gc.collect()
    log(f"join-space vectors ({index.applied}) ready in {time.perf_counter() - started:.1f} s")
    spec = QuerySpec("cosine", "knn", 10)

    exact, exact_ms = _timed(lambda i: key_join(index, keys[i], spec, exact=True), args.queries)
    truth = [{m.image for m in result.matches} for result in exact]
    rows = [Row(args.size, "exact", 1.0, statistics.median(exact_ms), _p95(exact_ms), 0.0,
                index.vectors.nbytes / 2**20)]
    log(_line(rows[-1]))
    for method in methods:
        built = ann.build(index.vectors, method, seed=args.seed)
        for setting, params in _settings(method, built, args):
            built.params.update(params)
            found, ms = _timed(lambda i, b=built: key_join(index, keys[i], spec, ann_index=b), args.queries)
            recall = statistics.mean(
                len(truth[i] & {m.image for m in found[i].matches}) / max(1, len(truth[i]))
                for i in range(args.queries)
            )
            rows.append(Row(args.size, method, recall, statistics.median(ms), _p95(ms), built.build_seconds,
                            built.memory_bytes() / 2**20, setting))
            log(_line(rows[-1]))
        del built
        gc.collect()
    if args.format == "json":
        json.dump([_rounded(r) for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _table(rows, Path(settings.root))
    return 0


def _settings(method: str, built: ann.AnnIndex, args: argparse.Namespace) -> list[tuple[str, dict]]:
    """(label, search parameters to set on `built`) for each search-time value to measure."""
    if method == "hnsw":
        values = [int(v) for v in args.hnsw_ef.split(",") if v.strip()]
        return [(f"efSearch={v}", {"ef_search": v}) for v in values]
    if method == "ivf":
        values = [int(v) for v in args.ivf_nprobe.split(",") if v.strip()] or [built.params["nprobe"]]
        return [(f"nprobe={v}", {"nprobe": v}) for v in values]
    return [(f"shortlist={ann.BINARY_SHORTLIST_PER_K}k", {})]


def _rounded(row: Row) -> dict:
    out = asdict(row)
    for key in ("recall_at_10", "median_ms", "p95_ms", "build_s", "memory_mb"):
        out[key] = round(float(out[key]), 4 if key == "recall_at_10" else 3)
    return out


def _line(row: Row) -> str:
    return (f"  {row.method:>6} {row.setting}: recall@10 {row.recall_at_10:.3f}, "
            f"median {row.median_ms:.2f} ms, p95 {row.p95_ms:.2f} ms, build {row.build_s:.1f} s, "
            f"{row.memory_mb:.0f} MB")


def _table(rows: list[Row], root: Path) -> None:
    exact = rows[0]
    print(f"\n{'method':>8} {'setting':>14} {'recall@10':>10} {'median ms':>10} {'p95 ms':>8} "
          f"{'speed-up':>9} {'build s':>8} {'memory MB':>10}")
    for row in rows:
        speed = exact.median_ms / row.median_ms if row.median_ms else float("inf")
        print(f"{row.method:>8} {row.setting:>14} {row.recall_at_10:>10.3f} {row.median_ms:>10.2f} "
              f"{row.p95_ms:>8.2f} {speed:>8.1f}x {row.build_s:>8.1f} {row.memory_mb:>10.0f}")
    good = [r for r in rows[1:] if r.recall_at_10 >= RECALL_FLOOR and r.median_ms <= MEDIAN_FLOOR_MS]
    verdict = ", ".join(r.method for r in good) or "none"
    print(f"\nMethods meeting recall@10 >= {RECALL_FLOOR} at median <= {MEDIAN_FLOOR_MS} ms: {verdict} "
          f"({exact.size:,} images; times are inflated when other processes share the CPU).")
