"""`simages duplicates SET [OTHER ...] [--threshold T] [--metric M] [--format table|csv|json]`: near-duplicate
pairs within a set, or between a set and others, and their groups.

Runs the "duplicates" intent (simages.nearest.core.intents): the stored descriptors, square-rooted and
PCA-whitened on the searched set, without query expansion, compared with the default duplicate threshold
(cosine similarity 0.5, measured with `simages bench duplicates`; see docs/duplicates.md) unless
--threshold gives another. With one set, every pair of its images is considered (an image is never paired
with itself; identical files under two names are); with others, each image of SET against each OTHER set.
Groups are the connected components of the pairs (a photo, its copies, and copies of copies), largest
first. JSON: {"threshold", "metric", "sets", "pairs": [{"a", "b", "score"}], "groups": [[...]]}, with
images named SET/IMAGE and scores at full precision.
A set of 50,000+ images with a fresh ANN index is searched through its kNN graph instead of every pair
(each image's 10 nearest, then the threshold: docs/ann.md), with a progress bar; --exact compares every pair.
Exit codes: 0 success (also when no duplicate is found), 2 a user error (bad name, set not indexed...).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TextIO

from tqdm import tqdm

from simages.cli.query_cmd import USER_ERRORS, require_same_descriptor, user_error
from simages.nearest.core.display import format_score
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.query_spec import METRICS, QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.ann_graph import GRAPH_K, graph_duplicates, graph_join_index
from simages.nearest.duplicates.exact import DuplicateReport, duplicate_threshold, find_duplicates
from simages.nearest.sets.cache import default_cache
from simages.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "duplicates",
        help="near-duplicate pairs and groups within a set, or between a set and others",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("set", metavar="SET", help="the set whose duplicates are wanted")
    parser.add_argument("others", metavar="OTHER", nargs="*",
                        help="sets to compare SET with (default: SET itself)")
    parser.add_argument("--threshold", metavar="T",
                        help="cosine similarity >= T (Euclidean distance <= T); default: the duplicate "
                        "threshold")
    parser.add_argument("--metric", choices=METRICS, default="cosine", help="default: cosine")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="default: table")
    parser.add_argument("--exact", action="store_true",
                        help="a set of 50,000+ images: compare every pair instead of each image's nearest "
                        "images from its ANN index")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        indexes = open_sets(settings, [args.set, *args.others])
        threshold = None
        if args.threshold is not None:
            threshold = float(QuerySpec.parse(args.metric, "range", args.threshold).param)
        graph = _graph(settings, indexes, threshold, args) if len(indexes) == 1 else None
        report = graph if graph is not None else find_duplicates(indexes, threshold, args.metric)
    except USER_ERRORS as error:
        return user_error(error)
    how = f"each image's {GRAPH_K} nearest (ANN index)" if graph is not None else "every pair"
    write_report(report, indexes, args.format, sys.stdout, chosen=args.threshold is not None, how=how)
    return 0


def _graph(settings: Settings, indexes: list[SetIndex], threshold: float | None,
           args: argparse.Namespace) -> DuplicateReport | None:
    """Duplicates within one large set through its ANN kNN graph (nearest.duplicates.ann_graph), with a
    progress bar on stderr; None for the exact self-join (saying why when a graph could have run)."""
    stored = indexes[0]
    if threshold is None:
        threshold = duplicate_threshold(args.metric, stored)
    spec = QuerySpec.parse(args.metric, "range", threshold)
    found = graph_join_index(settings, stored, spec, args.exact, cache=default_cache)
    if found is None:
        return None
    if isinstance(found, str):
        print(f"comparing every pair of {len(stored):,} images (slow), because {found}", file=sys.stderr)
        return None
    searched, index = found
    bar = tqdm(total=len(stored), desc="kNN graph", unit="img", file=sys.stderr, dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return graph_duplicates(stored, searched, index, threshold, args.metric, progress=progress)


def open_sets(settings: Settings, names: list[str]) -> list[SetIndex]:
    """The sets read with the duplicates intent (SET named again among the others means within SET);
    ValueError when their stored descriptors differ."""
    indexes: list[SetIndex] = []
    for name in names:
        index = default_cache.get(settings, name, DUPLICATES)
        if indexes:
            require_same_descriptor(indexes[0], index)
        indexes.append(index)
    return indexes


def write_report(report: DuplicateReport, indexes: list[SetIndex], fmt: str, out: TextIO,
                 chosen: bool = False, how: str = "every pair") -> None:
    """The report as a table (for people), CSV (a,b,score) or JSON (DuplicateReport.to_json). `how` says
    which pairs of a set were compared."""
    if fmt == "json":
        json.dump(report.to_json(), out, indent=2)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["a", "b", "score"])
        writer.writerows([p.a, p.b, format_score(p.score, report.metric)] for p in report.pairs)
        return
    first = indexes[0]
    out.write(f"Intent: {DUPLICATES.describe()}\n")
    if report.within:
        out.write(f"Set:    {first.set_name} ({len(first)} images, {how})\n")
    else:
        others = ", ".join(f"{index.set_name} ({len(index)})" for index in indexes[1:])
        out.write(f"Sets:   {first.set_name} ({len(first)} images) against {others}\n")
    out.write(f"Descriptors: {indexes[-1].explain(False)}\n")
    op, name = (">=", "cosine similarity") if report.metric == "cosine" else ("<=", "Euclidean distance")
    origin = "chosen with --threshold" if chosen else "the default duplicate threshold"
    default = duplicate_threshold(report.metric, indexes[-1])
    note = "" if not chosen else f"; the default is {default:g}"
    out.write(f"Threshold: {name} {op} {report.threshold:g} ({origin}{note})\n")
    groups = report.groups
    out.write(f"{len(report.pairs)} pairs in {len(groups)} groups\n")
    if not report.pairs:
        out.write("No duplicates found.\n")
        return
    out.write("\nGroups, largest first:\n")
    width = len(str(len(groups)))
    for number, group in enumerate(groups, 1):
        out.write(f"{number:>{width}}. {len(group)} images: {', '.join(group)}\n")
    out.write(f"\nPairs, best first:\n{'score':>10}  a  b\n")
    for pair in report.pairs:
        out.write(f"{format_score(pair.score, report.metric):>10}  {pair.a}  {pair.b}\n")
