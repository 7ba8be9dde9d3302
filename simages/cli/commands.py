"""The commands of `simages`, each with its one-line help, and the module that registers it.

Kept apart from the command modules so that `simages --help` and `simages COMMAND ...` import only the
command asked for (see `simages.cli.build_parser`).
"""

from __future__ import annotations

# name: (module defining register(subparsers) and run(args, settings), one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("simages.cli.serve_cmd", "start the browser app (the default command)"),
    "index": ("simages.cli.index_cmd", "compute descriptors for all sets or the named ones"),
    "query": ("simages.cli.query_cmd", "find the images of a set most similar to a key image"),
    "join": ("simages.cli.join_cmd", "pair every image of set A with its most similar images of set B"),
    "duplicates": ("simages.cli.duplicates_cmd",
                   "near-duplicate pairs and groups within a set, or between a set and others"),
    "triage": ("simages.cli.triage_cmd",
               "which new photos are already in the collection; quarantine the extra copies"),
    "atlas": ("simages.cli.atlas_cmd",
              "map every image of a set to 2-D (UMAP, or PCA), as a PNG or coordinates"),
    "eval": ("simages.cli.eval_cmd",
             "leave-one-out retrieval quality of descriptor options on a folder of class sub-folders"),
    "train": ("simages.cli.train_cmd",
              "train a descriptor head on a set whose sub-folders are classes; list or remove heads"),
    "bench": ("simages.cli.bench_cmd", "benchmarks that print speed ratios against baselines"),
}


def help_of(name: str) -> str:
    return COMMANDS[name][1]
