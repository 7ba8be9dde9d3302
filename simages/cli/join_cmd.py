"""`simages join A B [B2 ...] [--knn K | --threshold T] [--metric M] [--intent similar|duplicates]
[--no-expansion] [--output pairs.csv] [--index brute|pivots[:P]] [--explain]`: every image of A against B.

A = B is a self-join: an image is never paired with itself (identical copies under other names are).
A range self-join lists each pair of images once, a < b by name, with the better of its two scores;
a kNN self-join stays directed (each image's k nearest: y can be among x's without x among y's).
Several sets B (e.g. a new folder against the whole collection) are each joined in their own space and
merged per image of A, best first. Unless B is A, the names are written as set/image, so every row
traces back to its file.
Without --output the pairs are printed as a table grouped by A's image; with it they are streamed to a
CSV file with columns a,b,score (and level for the duplicates intent; `--output -` writes the CSV to
standard output), so a join of large sets
never has to fit in memory (a range self-join holds the pairs whose second image is still to come).
With a query-expansion descriptor (`qe`) every key of A is averaged with its
nearest images of B first; --no-expansion scores from the keys themselves. --index pivots[:P] runs a
pivot-filtered nested-loop join (one pivot-table search in B per image of A; the same pairs), and
--explain reports the distances computed out of |A| x |B| (after the table, or on stderr with --output).
--intent says which question the scores answer: `similar` (default: the store's full descriptor) or
`duplicates` (copies of one photo, edited or not); the app's /join.csv passes the same.
Without --knn or --threshold the intent's default: kNN with k = 10 for similar images, the range at the
duplicate threshold (as `simages duplicates`) for duplicates. Duplicates of A against other sets: the table
and the JSON also list, marked *, each A image's nearest that miss the threshold but whose keypoints make
them copies (turned, framed, collaged), as `simages duplicates A B` does (the CSV: the passing pairs only),
and under each copy what changed ("changed: ...", as `simages duplicates` says);
a self-join lists the pairs at its threshold only.
Duplicates within one set of 50,000+ images with a fresh ANN index go through its kNN graph (each image's
10 nearest, then the threshold: docs/ann.md), with a progress bar; --exact compares every pair instead.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from simages.cli.commands import help_of
from simages.cli.common import (
    USER_ERRORS,
    add_output_arguments,
    add_predicate_arguments,
    fail,
    format_score,
    spec_from_args,
    user_error,
)
from simages.cli.exits import EXIT_FAILURE
from simages.cli.index_option import add_index_arguments, index_choice_from_args
from simages.cli.output import check_target, output_to
from simages.copies.pixels import image_files
from simages.nearest.core.intents import DEFAULT_INTENT, INTENTS, Intent, intent_named
from simages.settings import Settings
from simages.wording import plural

if TYPE_CHECKING:
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.core.results import Pair
    from simages.nearest.core.set_index import SetIndex
    from simages.operations.join import Groups, JoinAnswer

# What `JoinAnswer.search` says of a join through the ANN kNN graph (operations.join.ANN_GRAPH).
_ANN_GRAPH = "ann-graph"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "join",
        help=help_of("join"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("a", metavar="A", help="the set whose images are the keys")
    parser.add_argument("b", metavar="B", nargs="+",
                        help="the set searched (may be A itself), or several sets other than A")
    add_predicate_arguments(parser)
    parser.add_argument("--intent", default=DEFAULT_INTENT.name, choices=sorted(INTENTS),
                        help=f"similar images or duplicates (default: {DEFAULT_INTENT.name})")
    add_output_arguments(parser, default=None)
    add_index_arguments(parser)
    parser.add_argument("--exact", action="store_true",
                        help="duplicates of a large set: compare every pair instead of each image's "
                             "nearest images from the ANN index")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from simages.nearest.sets.cache import default_cache
    from simages.operations.join import JoinRequest, run_set_join
    from simages.operations.sets import open_join_sets

    try:
        check_target(args.output)  # a missing folder is said before a long join, not after it
        intent = intent_named(args.intent)
        spec_from_args(args)  # a bad K or T is reported before the sets are read
        choice = index_choice_from_args(args)
        a, bs = open_join_sets(default_cache, settings, args.a, args.b, intent)
        # The duplicates default threshold is the searched set's (whitened or not: see duplicate_threshold).
        spec = spec_from_args(args, intent, bs[0])
        if len(bs) > 1 and (choice.kind != "default" or args.explain):
            raise ValueError("--index and --explain take one set B")
        request = JoinRequest(args.a, tuple(args.b), spec, intent.name)
        answer = run_set_join(request, settings, default_cache, index=choice, exact=args.exact, sets=(a, bs),
                              progress=progress_bar())
        _say_search(answer.search, answer.search_note, len(a))
        groups = answer.groups
        if answer.search == _ANN_GRAPH:
            args.explain = False
        tally = answer.tally
        fmt = args.format or ("csv" if args.output is not None else "table")
        with output_to(args.output) as out:
            if fmt == "table":
                pairs = write_table(a, bs, spec, out, groups, intent, image_files(settings.image_sets))
                if args.explain and tally is not None:
                    out.write(f"Cost: {tally.cost.describe()}\n")
            elif fmt == "csv":
                files = image_files(settings.image_sets) if intent.collection_space else None
                pairs = write_csv(a, bs, spec, out, groups, intent, files)
            else:
                pairs = write_json(answer, out, image_files(settings.image_sets))
    except USER_ERRORS as error:
        return user_error(error)
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}", EXIT_FAILURE)
    if args.explain and tally is not None and fmt != "table":
        print(f"cost: {tally.cost.describe()}", file=sys.stderr)
    if args.output not in (None, "-"):
        print(f"wrote {plural(pairs, 'pair')} for {plural(len(a), 'image')} of {a.set_name} to {args.output}",
              file=sys.stderr)
    return 0


def _say_search(search: str, note: str, images: int) -> None:
    """On stderr, before the join runs: a large duplicates self-join through the ANN graph, or exact (slow)
    and why."""
    if search == _ANN_GRAPH:
        from simages.nearest.duplicates.ann_graph import GRAPH_K

        print(f"near-duplicates of {plural(images, 'image')} through the ANN index: each image's {GRAPH_K} "
              "nearest, "
              "then the threshold (--exact compares every pair)", file=sys.stderr)
    elif note:
        print(f"exact self-join of {plural(images, 'image')} (slow), because {note}", file=sys.stderr)


def progress_bar() -> Callable[[int, int], None]:
    """A progress callback (images done, images) drawing a bar on stderr, made at its first call."""
    bar = None

    def progress(done: int, count: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=count, desc="kNN graph", unit="img", file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= count:
            bar.close()

    return progress


def write_csv(
    a: SetIndex, b: SetIndex | Sequence[SetIndex], spec: QuerySpec, out: TextIO, groups: Groups | None = None,
    intent: Intent | None = None, files: Callable[[str], Path] | None = None,
) -> int:
    """Stream the join as CSV rows a,b,score (see `csv_rows`), and level for the duplicates `intent`
    (exact confirmed by the pair's `files`, as the table and the JSON give it); returns the number of
    pairs written."""
    from simages.operations.join_listing import as_set_list, csv_rows, pair_level_reader

    level_of = None
    if intent is not None and intent.collection_space:
        level_of = pair_level_reader(a, as_set_list(b), spec, files)
    writer = csv.writer(out, lineterminator="\n")
    count = -1  # the header is not a pair
    for rows in csv_rows(a, b, spec, groups, level_of):
        writer.writerows(rows)
        count += len(rows)
    return count


def write_table(
    a: SetIndex, b: SetIndex | Sequence[SetIndex], spec: QuerySpec, out: TextIO, groups: Groups | None = None,
    intent: Intent | None = None, files: Callable[[str], Path] | None = None,
) -> int:
    """The join as a table: each image of A and its matches, best first; a range self-join lists each
    pair of images once (score, a, b). `intent`, when given, is named; for duplicates each pair's level
    is written after its score (exact confirmed by the pair's `files`: qualified name -> file, as
    `simages duplicates` does). Returns the number of pairs written."""
    from simages.nearest.joins.join import is_self_join
    from simages.operations.join_listing import (
        as_set_list,
        copies_below,
        iter_listed_pairs,
        lists_pairs_once,
        pair_change_reader,
        pair_level_reader,
    )

    bs = as_set_list(b)
    self_join = len(bs) == 1 and is_self_join(a, bs[0])
    once = lists_pairs_once(a, bs, spec)
    if once:
        note = " (self-join: each pair of images once, a < b by name, with the better of its two scores)"
    elif self_join:
        note = (" (self-join, directed: each image's own nearest; an image is never paired with itself, and "
                "y can be among x's nearest without x among y's)")
    else:
        note = ""
    k = max(b.expansion_for(spec.expand) for b in bs)
    # describe() already says "without query expansion" when it is switched off.
    expansion = f", with query expansion (each key averaged with its {k} nearest images)" if k else ""
    searched = ", ".join(b.set_name for b in bs)
    out.write(f"Join of {a.set_name} against {searched}: {spec.describe()}{expansion}{note}\n")
    if intent is not None:
        out.write(f"Intent: {intent.describe()}\n")
    qualified = len(bs) > 1
    copies = intent is not None and intent.collection_space
    from simages.copies.levels import BELOW_THRESHOLD_NOTE, Level, is_duplicate
    from simages.copies.verification import PROMOTED, LocalFeatureCache  # numpy and Pillow only

    local = LocalFeatureCache()  # the keypoints read once for the levels, the copies below and the changes
    level_of = pair_level_reader(a, bs, spec, files, local) if copies else None
    change_of = pair_change_reader(files, local) if copies and files is not None else None

    def named(x: str, y: str) -> tuple[str, str]:
        if qualified:
            return x, y
        # Plain names: x of A, y of the one set B (A itself in a self-join).
        return f"{a.set_name}/{x}", f"{bs[0].set_name}/{y}"

    def level(x: str, y: str, score: float, rank: int = PROMOTED) -> Level | None:
        if level_of is None:
            return None
        # An A image's nearest few are verified below the threshold too (not in a self-join).
        return level_of(*named(x, y), score, nearest=not once and rank < PROMOTED)

    def title(found: Level | None) -> str:
        return "" if found is None else f"{found.pair_title:<11}  "

    def changed(x: str, y: str, found: Level | None, names: tuple[str, str] | None = None) -> None:
        """Under a copy, what changed between its images, as `simages duplicates` writes it."""
        if change_of is None or found is None or not is_duplicate(found):
            return
        said = change_of(*(names or named(x, y)))
        if said:
            out.write(f"    {'':>10}  {'':<11}  changed: {said}\n")

    # New photos against other sets: the copies their scores miss, found among each one's nearest.
    found: dict[str, list[tuple[str, float, Level, Pair]]] = {}
    if copies and intent is not None and not self_join:
        for pair, kind in copies_below(a, bs, spec, intent.name, files, local=local):
            shown = pair.b if qualified else pair.b.split("/", 1)[1]
            found.setdefault(pair.a.split("/", 1)[1], []).append((shown, pair.score, kind, pair))
    elif copies and self_join and spec.predicate == "range":
        out.write("Only pairs at the threshold are checked here: to find copies that score lower (turned, "
                  "framed, collaged), join new photos against the collection or run `simages triage`.\n")

    pairs = 0
    # The table's header names A, and names B when it is one set: only several sets need set/image.
    for a_image, listed in iter_listed_pairs(a, bs, spec, groups, qualify=qualified):
        if once:
            for x, y, score in listed:
                found_level = level(x, y, score)
                out.write(f"    {format_score(score, spec.metric):>10}  {title(found_level)}{x}  {y}\n")
                changed(x, y, found_level)
        else:
            out.write(f"{a_image}\n")
            below = found.get(a_image, [])
            if not listed and not below:
                out.write("    (no match)\n")
            for rank, (x, y, score) in enumerate(listed):
                found_level = level(x, y, score, rank)
                out.write(f"    {format_score(score, spec.metric):>10}  {title(found_level)}{y}\n")
                changed(x, y, found_level)
            for y, score, kind, pair in below:
                out.write(f"    {format_score(score, spec.metric):>10}  {title(kind)}{y} *\n")
                changed(pair.a, pair.b, kind, (pair.a, pair.b))
            pairs += len(below)
        pairs += len(listed)
    if once:
        compared = len(a) * (len(a) - 1) // 2
        out.write(f"{plural(pairs, 'pair of images', 'pairs of images')} of the {compared} among "
                  f"{plural(len(a), 'image')}\n")
    else:
        below = sum(len(rows) for rows in found.values())
        its = "its" if below == 1 else "their"
        marked = (f" (of them, {plural(below, 'copy')} below the threshold, found by {its} keypoints, "
                  "marked *)" if below else "")
        out.write(f"{plural(pairs, 'pair')} for {plural(len(a), 'image')}{marked}\n")
    if found:
        out.write(BELOW_THRESHOLD_NOTE + "\n")
    return pairs


def write_json(answer: JoinAnswer, out: TextIO, files: Callable[[str], Path] | None = None) -> int:
    """The join in the JSON schema of `operations.schema` (the shape of the app's /join.json): every pair
    with its names `set/image` (and its "level" for the duplicates intent, exact confirmed by `files`),
    best first per image of A (a range self-join: each pair once), and the groups. Returns the number
    of pairs."""
    from simages.operations.join_listing import join_json

    body = join_json(answer, files)
    json.dump(body, out, indent=2)
    out.write("\n")
    return len(body["pairs"])
