"""`simages join A B [B2 ...] [--knn K | --range T] [--metric M] [--intent similar|duplicates]
[--no-expansion] [--output pairs.csv] [--index brute|pivots[:P]] [--explain]`: every image of A against B.

A = B is a self-join: an image is never paired with itself (identical copies under other names are).
A range self-join lists each pair of images once, a < b by name, with the better of its two scores;
a kNN self-join stays directed (each image's k nearest: y can be among x's without x among y's).
Several sets B (e.g. a new folder against the whole collection) are each joined in their own space and
merged per image of A, best first. Unless B is A, the names are written as set/image, so every row
traces back to its file.
Without --output the pairs are printed as a table grouped by A's image; with it they are streamed to a
CSV file with columns a,b,score (`--output -` writes the CSV to standard output), so a join of large sets
never has to fit in memory (a range self-join holds the pairs whose second image is still to come).
With a query-expansion descriptor (`qe`) every key of A is averaged with its
nearest images of B first; --no-expansion scores from the keys themselves. --index pivots[:P] runs a
pivot-filtered nested-loop join (one pivot-table search in B per image of A; the same pairs), and
--explain reports the distances computed out of |A| x |B| (after the table, or on stderr with --output).
--intent says which question the scores answer: `similar` (default: the store's full descriptor) or
`duplicates` (copies of one photo, edited or not); the app's /join.csv passes the same.
Without --knn or --range the intent's default: kNN with k = 10 for similar images, the range at the
duplicate threshold (as `simages duplicates`) for duplicates.
Duplicates within one set of 50,000+ images with a fresh ANN index go through its kNN graph (each image's
10 nearest, then the threshold: docs/ann.md), with a progress bar; --exact compares every pair instead.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from simages.cli.index_option import add_index_arguments, index_choice_from_args
from simages.cli.output import open_text_output
from simages.cli.query_cmd import (
    USER_ERRORS,
    add_predicate_arguments,
    format_score,
    open_set,
    require_same_descriptor,
    spec_from_args,
    user_error,
)
from simages.nearest.core.intents import DEFAULT_INTENT, INTENTS, Intent, intent_named
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.results import Match
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import is_self_join
from simages.nearest.joins.multi import SetMatch, iter_multi_join
from simages.nearest.joins.pairs import node
from simages.nearest.joins.pairs_once import iter_pairs_once
from simages.nearest.sets.cache import default_cache
from simages.nearest.teaching.query_cost import explained_set_join
from simages.settings import Settings

Groups = Iterable[tuple[str, list[Match]]]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "join",
        help="pair every image of set A with its most similar images of set B",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("a", metavar="A", help="the set whose images are the keys")
    parser.add_argument("b", metavar="B", nargs="+",
                        help="the set searched (may be A itself), or several sets other than A")
    add_predicate_arguments(parser)
    parser.add_argument("--intent", default=DEFAULT_INTENT.name, choices=sorted(INTENTS),
                        help=f"similar images or duplicates (default: {DEFAULT_INTENT.name})")
    parser.add_argument("--output", metavar="PATH", help="write the pairs as CSV (a,b,score); '-' for stdout")
    add_index_arguments(parser)
    parser.add_argument("--exact", action="store_true",
                        help="duplicates of a large set: compare every pair instead of each image's "
                             "nearest images from the ANN index")
    parser.set_defaults(func=run)


def _open_sets(
    settings: Settings, a_name: str, b_names: Sequence[str], intent: Intent = DEFAULT_INTENT
) -> tuple[SetIndex, list[SetIndex]]:
    """A and the sets B, read with the intent. ValueError for a set named twice, A among several
    sets B, or sets of different descriptors; LookupError/StoreError for a set that cannot be read."""
    if len(set(b_names)) != len(b_names):
        raise ValueError("each set B may be named once")
    if len(b_names) > 1 and a_name in b_names:
        raise ValueError(f"{a_name} cannot be both A and one of several sets B: join it with itself "
                         f"on its own (`simages join {a_name} {a_name}`)")
    a = open_set(settings, a_name, intent)
    bs = [a if name == a_name else open_set(settings, name, intent) for name in b_names]
    for b in bs:
        require_same_descriptor(a, b)
    return a, bs


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        intent = intent_named(args.intent)
        spec_from_args(args)  # a bad K or T is reported before the sets are read
        choice = index_choice_from_args(args)
        a, bs = _open_sets(settings, args.a, args.b, intent)
        # The duplicates default threshold is the searched set's (whitened or not: see duplicate_threshold).
        spec = spec_from_args(args, intent, bs[0])
        if len(bs) > 1 and (choice.kind != "default" or args.explain):
            raise ValueError("--index and --explain take one set B")
        groups: Groups | None = None
        if len(bs) == 1:
            b = bs[0]
            graph = _graph_join(settings, a, b, spec, args) if choice.kind == "default" else None
            if graph is not None:
                groups, args.explain = graph, False
            else:
                groups, tally = explained_set_join(a, b, spec, choice, settings=settings)
        if args.output is None:
            write_table(a, bs, spec, sys.stdout, groups)
            if args.explain:
                print(f"Cost: {tally.cost.describe()}")
            return 0
        target = Path(args.output)
        if args.output != "-" and not target.parent.is_dir():
            raise LookupError(f"cannot write {args.output}: folder {target.parent} does not exist")
        with nullcontext(sys.stdout) if args.output == "-" else open_text_output(target) as out:
            pairs = write_csv(a, bs, spec, out, groups)
    except USER_ERRORS as error:
        return user_error(error)
    except OSError as error:
        print(f"error: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
        return 1
    if args.explain:
        print(f"cost: {tally.cost.describe()}", file=sys.stderr)
    if args.output != "-":
        print(f"wrote {pairs} pairs for {len(a)} images of {a.set_name} to {args.output}", file=sys.stderr)
    return 0


def _graph_join(
    settings: Settings, a: SetIndex, b: SetIndex, spec: QuerySpec, args: argparse.Namespace
) -> Groups | None:
    """Duplicates within one large set through its ANN kNN graph (simages.nearest.duplicates.ann_graph), with
    a progress bar on stderr; None for the exact join (saying why on stderr when a graph could have run)."""
    if args.intent != "duplicates" or not is_self_join(a, b):
        return None
    from simages.nearest.duplicates.ann_graph import GRAPH_K, graph_join_index, iter_graph_join

    found = graph_join_index(settings, a, spec, args.exact, cache=default_cache)
    if found is None:
        return None
    if isinstance(found, str):
        print(f"exact self-join of {len(a):,} images (slow), because {found}", file=sys.stderr)
        return None
    searched, index = found
    print(f"near-duplicates of {len(a):,} images through the ANN index: each image's {GRAPH_K} nearest, "
          "then the threshold (--exact compares every pair)", file=sys.stderr)
    bar = tqdm(total=len(a), desc="kNN graph", unit="img", file=sys.stderr, dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return iter_graph_join(a, searched, index, spec, progress=progress)


def _as_list(b: SetIndex | Sequence[SetIndex]) -> list[SetIndex]:
    return [b] if isinstance(b, SetIndex) else list(b)


def lists_pairs_once(a: SetIndex, bs: Sequence[SetIndex], spec: QuerySpec) -> bool:
    """Whether the join lists each pair of images once: a range self-join (see nearest/joins/pairs_once)."""
    return spec.predicate == "range" and len(bs) == 1 and is_self_join(a, bs[0])


def _rows(
    a: SetIndex, bs: list[SetIndex], spec: QuerySpec, groups: Groups | None
) -> Iterator[tuple[str, list[SetMatch]]]:
    if groups is None:
        yield from iter_multi_join(a, bs, spec)
        return
    for a_image, matches in groups:
        yield a_image, [SetMatch(bs[0].set_name, m.image, m.score) for m in matches]


def iter_listed_pairs(
    a: SetIndex,
    b: SetIndex | Sequence[SetIndex],
    spec: QuerySpec,
    groups: Groups | None = None,
    *,
    qualify: bool | None = None,
) -> Iterator[tuple[str, list[tuple[str, str, float]]]]:
    """The join as it is listed, one group per row: (A's image, [(a, b, score), ...]) with the names as
    written: `set/image` when `qualify` (default: unless B is A, so a CSV row traces back to its file),
    else plain; a range self-join's groups hold the pairs each row completes, each pair of images once
    (a < b by name, best first)."""
    bs = _as_list(b)
    rows = _rows(a, bs, spec, groups)
    if lists_pairs_once(a, bs, spec):
        plain = ((image, [Match(m.image, m.score) for m in row]) for image, row in rows)
        for pairs in iter_pairs_once(plain, spec.higher_is_better):
            yield (pairs[0].a if pairs else ""), [(p.a, p.b, p.score) for p in pairs]
        return
    if qualify is None:
        qualify = not (len(bs) == 1 and is_self_join(a, bs[0]))
    for a_image, row in rows:
        if not qualify:
            yield a_image, [(a_image, m.image, m.score) for m in row]
        else:
            yield a_image, [(node(a.set_name, a_image), node(m.set, m.image), m.score) for m in row]


def csv_rows(
    a: SetIndex, b: SetIndex | Sequence[SetIndex], spec: QuerySpec, groups: Groups | None = None
) -> Iterator[list[list[str]]]:
    """The join as CSV rows: first the header, then each image of A's rows [a, b, score]. The one source
    of the CLI's CSV and the app's /join.csv, so both are the same file. `b`: one set or several (their
    rows merged per image of A); names are `set/image` unless B is A; a range self-join lists each pair
    of images once (`iter_listed_pairs`). `groups`: the join against one B already under way (e.g.
    through a pivot table), else brute force."""
    yield [["a", "b", "score"]]
    for _, pairs in iter_listed_pairs(a, b, spec, groups):
        yield [csv_row(x, y, score, spec) for x, y, score in pairs]


def csv_row(a_image: str, b_image: str, score: float, spec: QuerySpec) -> list[str]:
    """One CSV row [a, b, score] with the score written as every CSV of a join writes it."""
    return [a_image, b_image, format_score(score, spec.metric)]


def write_csv(
    a: SetIndex, b: SetIndex | Sequence[SetIndex], spec: QuerySpec, out: TextIO, groups: Groups | None = None
) -> int:
    """Stream the join as CSV rows a,b,score (see `csv_rows`); returns the number of pairs written."""
    writer = csv.writer(out, lineterminator="\n")
    count = -1  # the header is not a pair
    for rows in csv_rows(a, b, spec, groups):
        writer.writerows(rows)
        count += len(rows)
    return count


def write_table(
    a: SetIndex, b: SetIndex | Sequence[SetIndex], spec: QuerySpec, out: TextIO, groups: Groups | None = None
) -> None:
    """The join as a table: each image of A and its matches, best first; a range self-join lists each
    pair of images once (score, a, b)."""
    bs = _as_list(b)
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
    pairs = 0
    # The table's header names A, and names B when it is one set: only several sets need set/image.
    for a_image, listed in iter_listed_pairs(a, bs, spec, groups, qualify=len(bs) > 1):
        if once:
            for x, y, score in listed:
                out.write(f"    {format_score(score, spec.metric):>10}  {x}  {y}\n")
        else:
            out.write(f"{a_image}\n")
            if not listed:
                out.write("    (no match)\n")
            for _, y, score in listed:
                out.write(f"    {format_score(score, spec.metric):>10}  {y}\n")
        pairs += len(listed)
    if once:
        compared = len(a) * (len(a) - 1) // 2
        out.write(f"{pairs} pairs of images of the {compared} among {len(a)} images\n")
    else:
        out.write(f"{pairs} pairs for {len(a)} images\n")
