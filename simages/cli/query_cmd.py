"""`simages query KEY --set SET (--knn K | --threshold T) [--metric M] [--no-expansion] [--format F]
[--index brute|pivots[:P]] [--explain]`: one key against a set.

How KEY is read, in this order:
  1. `SET/IMAGE` when SET names a known set (a folder of image_sets/ or an existing store): the image's
     stored descriptor is used. IMAGE may contain '/'.
  2. otherwise, a path to an existing image file anywhere on disk: its descriptor is computed on the
     fly with the searched set's descriptor settings.
  A path to an image of a set's folder is answered from its stored descriptor while the store's entry
  is of this very file (the check indexing makes); otherwise (not indexed yet, changed since, or
  searched turned for duplicates) it is described, and stderr says why.
  To force the file reading for a relative path whose first folder is also a set name, write `./path`.
When the set's descriptor has query expansion (`qe`), the key is averaged with its nearest images of the
set before scoring; --no-expansion scores from the key itself (an exact copy of the key then scores 1.0).
--index pivots[:P] answers through a pivot table (the same answer as brute force, computing fewer
distances where the data allows); --explain reports the cost ("cost" in JSON: distances computed of the
set's size, pivots, ms).
A kNN query on a large set (50,000 images or more) uses the set's ANN index when it has a fresh one: the
index proposes candidates, which are scored exactly; --exact searches the whole set instead.
Without --knn or --threshold: kNN with k = 10 (the app's default), or with `--intent duplicates` the range
at the duplicate threshold (is this photo already in the set?).
Exit codes: 0 success, 2 a user error (bad name, set not indexed, bad option, a key file that is no
image), 1 extraction failure.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TYPE_CHECKING, TextIO

from simages.cli.commands import help_of
from simages.cli.common import (
    USER_ERRORS,
    add_output_arguments,
    add_predicate_arguments,
    fail,
    format_score,
    user_error,
)
from simages.cli.exits import EXIT_FAILURE
from simages.cli.index_option import add_index_arguments
from simages.cli.output import check_target, output_to
from simages.copies.levels import below_threshold_note, is_duplicate
from simages.extraction.image_errors import UnreadableImage
from simages.nearest.core.intents import (
    DUPLICATE_COSINE,
    INTENTS,
    SIMILAR,
    UNWHITENED_DUPLICATE_COSINE,
    Intent,
    no_duplicate_sentence,
)
from simages.settings import Settings
from simages.wording import plural

if TYPE_CHECKING:
    from simages.copies.levels import Level
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.core.results import KeyResult
    from simages.nearest.teaching.query_cost import QueryCost


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "query",
        help=help_of("query"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("key", metavar="KEY", help="SET/IMAGE of an indexed set, or a path to an image file")
    parser.add_argument("--set", required=True, metavar="SET", help="the set to search")
    add_predicate_arguments(parser)
    add_output_arguments(parser)
    parser.add_argument(
        "--intent", default=SIMILAR.name, choices=sorted(INTENTS),
        help="similar images (default) or duplicates: copies of one photo, scored in the duplicates space "
        f"(its duplicate threshold: cosine {DUPLICATE_COSINE:g}; {UNWHITENED_DUPLICATE_COSINE:g} in a "
        "collection too small to whiten, under 20 images)",
    )
    parser.add_argument(
        "--limit", type=int, metavar="N", help="list at most N matches (range: all are still counted)"
    )
    parser.add_argument(
        "--include-self", action="store_true", help="when KEY is an image of SET, list it among its matches"
    )
    add_index_arguments(parser)
    parser.add_argument(
        "--exact",
        action="store_true",
        help="exact kNN even on a large set with an ANN index (slower; range queries are always exact)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from simages.nearest.sets.cache import default_cache
    from simages.operations.query import QueryRequest, run_query

    request = QueryRequest(
        key=args.key, set_name=args.set, metric=args.metric, knn=args.knn, range_threshold=args.range,
        expand=args.expand, intent=args.intent, limit=args.limit, include_self=args.include_self,
        index=args.index, exact=args.exact,
    )
    try:
        check_target(args.output)  # a missing folder is said before the work, not after it
        answer = run_query(request, settings, default_cache,
                           tell=lambda line: print(f"simages: {line}", file=sys.stderr, flush=True))
    except UnreadableImage as error:
        return fail(f"{args.key} is not an image SIMages can read ({error})")
    except USER_ERRORS as error:
        return user_error(error)
    except (ImportError, OSError, RuntimeError) as error:
        return fail(f"cannot compute the descriptor of {args.key}: {error}", EXIT_FAILURE)
    try:
        with output_to(args.output) as out:
            if args.format == "json":
                json.dump(answer.to_json(args.explain), out, indent=2)
                out.write("\n")
            else:
                write_result(answer.result, answer.spec, args.format, out, answer.descriptors,
                             answer.cost if args.explain else None, answer.intent, answer.levels)
                if args.format == "table" and answer.turns:
                    from simages.copies.turns import turned_note

                    out.write(turned_note(answer.turns) + "\n")
                if args.format == "table" and any(answer.changes.values()):
                    from simages.copies.changes import describe

                    out.write("What changed (where it can be told):\n")
                    for image, found in answer.changes.items():
                        if found:
                            out.write(f"  {image}: {describe(found)}\n")
    except LookupError as error:
        return user_error(error)
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}", EXIT_FAILURE)
    return 0


def write_result(
    result: KeyResult,
    spec: QuerySpec,
    fmt: str,
    out: TextIO,
    descriptors: str = "",
    cost: QueryCost | None = None,
    intent: Intent | None = None,
    levels: dict[str, Level] | None = None,
) -> None:
    """`descriptors` says in words which descriptor made the scores (SetIndex.explain); `cost`, when
    given, is reported (JSON: a "cost" object; table: a line; CSV: a line on stderr, the file stays
    pairs only); `intent`, when given, is named in the table; `levels` (the duplicates question: each
    match's level) add a level column, and a search whose matches are all look-alikes answers that the
    photo has no duplicate."""
    if fmt == "json":
        payload = result.to_json()
        if cost is not None:
            payload["cost"] = cost.to_json()
        json.dump(payload, out, indent=2)
        out.write("\n")
        return
    if cost is not None and fmt == "csv":
        print(f"cost: {cost.describe()}", file=sys.stderr)
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        if levels:
            writer.writerow(["image", "score", "level"])
            writer.writerows([m.image, format_score(m.score, result.metric), levels[m.image].value]
                             for m in result.matches)
            return
        writer.writerow(["image", "score"])
        writer.writerows([m.image, format_score(m.score, result.metric)] for m in result.matches)
        return
    out.write(f"Key:   {result.key}\n")
    out.write(f"Set:   {result.set} ({plural(result.total, 'image')} searched)\n")
    out.write(f"Query: {spec.describe()}\n")
    if intent is not None:
        out.write(f"Intent: {intent.describe()}\n")
    if descriptors:
        out.write(f"Descriptors: {descriptors}\n")
    if cost is not None:
        out.write(f"Cost:  {cost.describe()}\n")
    if result.search != "exact":
        out.write(f"Search: approximate ({result.search} index; `--exact` for the exact search)\n")
    elif result.search_note:
        out.write(f"Search: exact, because {result.search_note}\n")
    if result.passed is not None:
        from simages.operations.query_levels import listed_below

        shown = "" if len(result.matches) == result.passed else f", showing the first {len(result.matches)}"
        # Copies found among the key's nearest by their keypoints are listed, but did not pass.
        below = len(listed_below(result, levels)) if levels else 0
        its = "its" if below == 1 else "their"
        found = (f"; {plural(below, 'copy', 'copies')} below the threshold, found by {its} keypoints "
                 "(marked *)" if below else "")
        out.write(f"Passed: {result.passed - below} of {result.total}{shown}{found}\n")
    if not result.matches:
        if intent is not None and intent.name == "duplicates" and spec.predicate == "range":
            out.write(f"{no_duplicate_sentence(result.set)}\n")
        else:
            out.write("No image matches.\n")
        return
    width = len(str(len(result.matches)))
    if levels:
        if spec.predicate == "range" and not any(is_duplicate(level) for level in levels.values()):
            out.write(f"{no_duplicate_sentence(result.set)} Above the threshold, only look-alikes (the same "
                      "scene or subject, not a copy: their keypoints show different photos):\n")
        out.write(f"{'#':>{width}}  {'score':>10}  {'level':<11}  image\n")
        from simages.operations.query_levels import listed_below

        below = listed_below(result, levels)
        for rank, match in enumerate(result.matches, 1):
            level = levels[match.image]
            mark = " *" if match.image in below else ""
            out.write(f"{rank:>{width}}  {format_score(match.score, result.metric):>10}  "
                      f"{level.pair_title:<11}  {match.image}{mark}\n")
        if below:
            out.write(below_threshold_note("key") + "\n")
        return
    out.write(f"{'#':>{width}}  {'score':>10}  image\n")
    for rank, match in enumerate(result.matches, 1):
        out.write(f"{rank:>{width}}  {format_score(match.score, result.metric):>10}  {match.image}\n")
