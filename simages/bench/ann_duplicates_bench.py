"""`simages bench ann-duplicates [--size N] [--format json]`: near-duplicate self-join through the ANN kNN
graph, against the exact self-join.

The set is sampled from the model of `simages.bench.realistic_descriptors` (fitted to the largest indexed
set under --root, e.g. Corel-1k), 1% of it near-duplicates of another image. Both joins use the duplicates
reading of the set (square-rooted, whitened on the set, no expansion) and its default duplicate
threshold; the graph's candidates come from an HNSW index on the set's PCA vectors, as `simages index`
builds it. Reported: the index build, the graph join (k nearest per image, then the threshold) with its
pairs and groups, and, up to --exact-max images, the exact self-join and the recall of its pairs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from simages.bench.ann_bench import add_model_arguments
from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR
from simages.nearest.ann import index as ann
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.set_index import SetIndex
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=100_000, help="images in the synthetic set")
    parser.add_argument("--k", type=int, default=10, help="neighbours per image in the kNN graph")
    parser.add_argument("--exact-max", type=int, default=100_000, metavar="N",
                        help="run the exact self-join for recall only up to N images (default 100k)")
    add_model_arguments(parser)


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    from simages.bench.ann_bench import source_vectors
    from simages.bench.realistic_descriptors import fit_model, sample
    from simages.nearest.duplicates.ann_graph import graph_duplicates
    from simages.nearest.duplicates.exact import duplicate_pairs, duplicate_threshold

    if ann.faiss_module() is None:
        print("simages: error: this benchmark needs FAISS: pip install 'simages[ann]'", file=sys.stderr)
        return 2
    try:
        fitted_on, real = source_vectors(settings, args.source)
    except LookupError as error:
        print(f"simages: error: {error}", file=sys.stderr)
        return 2
    log = (lambda text: print(text, file=sys.stderr)) if args.format == "json" else print
    vectors = sample(fit_model(real, seed=args.seed), args.size, seed=args.seed)
    names = [f"img_{i:07d}.jpg" for i in range(args.size)]
    meta = {"descriptor": "gap+l2", "descriptor_spec": str(DEFAULT_DESCRIPTOR)}
    store = FeatureStore(names, [Fingerprint(1, 1)] * args.size, vectors, meta)
    # The duplicates reading (square-rooted, whitened on the set) and the similar-images reading (PCA,
    # which the ANN index is built on) of the same store, as the app reads them.
    stored = SetIndex.from_store("bench", store, descriptor=DUPLICATES.descriptor(meta["descriptor_spec"]))
    searched = SetIndex.from_store("bench", store)
    del store
    log(f"{args.size:,} descriptors modelled on {fitted_on!r}; "
        f"duplicate threshold cosine >= {duplicate_threshold('cosine', stored):.2f} ({stored.applied})")

    started = time.perf_counter()
    index = ann.build(searched.vectors, ann.DEFAULT_METHOD, seed=args.seed)
    build_s = time.perf_counter() - started
    log(f"ANN index ({index.method}) built in {build_s:.1f} s")
    next_report = [0.0]

    def progress(done: int, total: int) -> None:
        if done / total >= next_report[0] or done == total:
            log(f"  kNN graph: {done:,} of {total:,} images, {time.perf_counter() - started:.0f} s")
            next_report[0] += 0.1

    started = time.perf_counter()
    report = graph_duplicates(stored, searched, index, k=args.k, progress=progress)
    graph_s = time.perf_counter() - started
    row = {"size": args.size, "method": f"ann-graph-k{args.k}", "index_build_s": round(build_s, 1),
           "join_s": round(graph_s, 1), "pairs": len(report.pairs), "groups": len(report.groups)}
    rows = [row]
    if args.size <= args.exact_max:
        started = time.perf_counter()
        exact = duplicate_pairs(stored)
        exact_s = time.perf_counter() - started
        found = {(p.a, p.b) for p in report.pairs}
        truth = {(p.a, p.b) for p in exact}
        row["recall_of_pairs"] = round(len(found & truth) / max(1, len(truth)), 4)
        row["pairs_not_exact"] = len(found - truth)
        rows.append({"size": args.size, "method": "exact", "index_build_s": 0.0, "join_s": round(exact_s, 1),
                     "pairs": len(exact), "groups": None})
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for r in rows:
        log("  " + ", ".join(f"{k} {v}" for k, v in r.items()))
    if len(rows) == 2:
        log(f"The kNN graph finds {row['recall_of_pairs']:.1%} of the exact duplicate pairs, "
            f"{rows[1]['join_s'] / max(graph_s, 1e-9):.1f}x faster ({args.size:,} images; times inflated "
            "on a busy CPU).")
    return 0
