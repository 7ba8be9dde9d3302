"""`simages bench NAME`: speed measured against baselines in the same run."""

from __future__ import annotations

import argparse
import importlib

from simages.cli.commands import help_of

BENCHES = {
    "extract": ("simages.bench.extract_bench", "descriptor extraction: plain Keras predict vs the fast path"),
    "query": ("simages.bench.query_bench", "key x set and set x set joins vs naive baselines"),
    "page": ("simages.bench.page_bench", "time until the results page shows 30 results from 12 MP photos"),
    "pivots": ("simages.bench.pivots_bench", "pivot table (LAESA) vs brute force on a set, by dimension"),
    "atlas": ("simages.bench.atlas_bench",
              "atlas of 10,000 images: UMAP fit, kept map reused, new images placed, page open"),
    "race": ("simages.bench.race_bench",
             "brute force, pivot table, binary hash, HNSW side by side: distances, time, recall"),
    "cluster": ("simages.bench.cluster_bench", "indexing on a local Dask cluster vs in-process: overhead"),
    "load": ("simages.bench.load_bench", "20 concurrent clients querying the app while a set is indexed"),
    "ann-duplicates": ("simages.bench.ann_duplicates_bench",
                       "near-duplicate self-join through the ANN kNN graph vs the exact self-join"),
    "open": ("simages.bench.open_bench", "time until a large set is ready: .npz vs memory-mapped copy"),
    "ann": ("simages.bench.ann_bench", "exact kNN vs ANN indexes (HNSW, IVF, binary codes), 100k-1M images"),
    "ann-update": ("simages.bench.ann_update_bench",
                   "ANN index patched after images are added / removed vs rebuilt: time, recall@10"),
    "join": ("simages.bench.join_bench", "10k x 10k self-join: time until /join shows its pairs"),
    "train": ("simages.bench.train_bench", "training a descriptor head on the stored features of 500 photos"),
    "cli": ("simages.bench.cli_bench",
            "how fast the command line answers: ratios to `python -c \"import numpy\"` in the same run"),
    "duplicates": ("simages.bench.duplicates_bench",
                   "edited copies of Corel-1k photos: top-1, recall@5, pair F1 of the duplicate threshold"),
}


def register(subparsers: argparse._SubParsersAction, argv: list[str] | None = None) -> None:
    """Every bench, or with `argv` (`simages bench NAME ...`) only NAME in full: a bench module imports
    what it measures (the app, FAISS, Dask...), so the others are listed by their help alone."""
    parser = subparsers.add_parser("bench", help=help_of("bench"), description=help_of("bench"))
    benches = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    chosen = _bench_in(argv) if argv is not None else None
    for name, (module_name, help_text) in BENCHES.items():
        sub = benches.add_parser(name, help=help_text, description=help_text)
        if argv is not None and name != chosen:
            continue
        module = importlib.import_module(module_name)
        module.add_arguments(sub)
        sub.set_defaults(func=module.run_bench)


def _bench_in(argv: list[str]) -> str | None:
    """The bench named after `bench` in `argv`."""
    words = [token for token in argv if not token.startswith("-")]
    if "bench" in words:
        after = words[words.index("bench") + 1 :]
        return next((word for word in after if word in BENCHES), None)
    return None
