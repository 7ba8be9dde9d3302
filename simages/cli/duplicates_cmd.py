"""`simages duplicates SET [OTHER ...] [--threshold T] [--metric M] [--format table|csv|json]`: near-duplicate
pairs within a set, or between a set and others, and their groups.

Runs the "duplicates" intent (simages.nearest.core.intents): the stored descriptors, square-rooted and
PCA-whitened with the whole collection, without query expansion, compared with the default duplicate
threshold (cosine similarity 0.5, measured with `simages bench duplicates`; see docs/duplicates.md; 0.9 in
a collection too small to whiten, under 20 images) unless --threshold gives another.
With one set, every pair of its images is considered (an image is never paired
with itself; identical files under two names are); with others, each image of SET against each OTHER set.
Groups are complete-link clusters of the pairs (a photo and its copies: every two images of a group are a
pair, so look-alikes do not chain into one group), largest first.
JSON: {"threshold", "metric", "sets", "pairs": [{"a", "b", "score", "level"}], "groups": [[...]],
"calibration": {"state", "sentence", "precision", "recall", ...}}, with images named SET/IMAGE and scores at
full precision. "calibration" is how well the default threshold works on your own photos: edited copies
of 40 of them searched in the collection, measured by the app after indexing or with --calibrate.
A set of 50,000+ images with a fresh ANN index is searched through its kNN graph instead of every pair
(each image's 10 nearest, then the threshold: docs/ann.md), with a progress bar; --exact compares every pair.
Exit codes: 0 success (also when no duplicate is found), 2 a user error (bad name, set not indexed...).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from simages.cli.commands import help_of
from simages.cli.common import USER_ERRORS, add_output_arguments, fail, user_error
from simages.cli.exits import EXIT_FAILURE
from simages.cli.join_cmd import progress_bar
from simages.cli.output import check_target, output_to
from simages.copies.levels import BELOW_THRESHOLD_NOTE, Level, below_threshold
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.query_spec import METRICS, higher_is_better
from simages.settings import Settings
from simages.wording import plural

if TYPE_CHECKING:
    from simages.copies.changes import Change
    from simages.nearest.core.set_index import SetIndex
    from simages.nearest.duplicates.exact import DuplicateReport


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "duplicates",
        help=help_of("duplicates"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("set", metavar="SET", help="the set whose duplicates are wanted")
    parser.add_argument("others", metavar="OTHER", nargs="*", default=[],
                        help="sets to compare SET with (default: SET itself)")
    parser.add_argument("--threshold", metavar="T",
                        help="cosine similarity >= T (Euclidean distance <= T); default: the duplicate "
                        "threshold")
    parser.add_argument("--metric", choices=METRICS, default="cosine", help="default: cosine")
    add_output_arguments(parser)
    parser.add_argument("--exact", action="store_true",
                        help="a set of 50,000+ images: compare every pair instead of each image's nearest "
                        "images from its ANN index")
    parser.add_argument("--calibrate", action="store_true",
                        help="first learn the duplicates space from edited copies of 300 of your own photos "
                        "(4 edits each, once, and again when the indexed photos have doubled; the app does "
                        "it after indexing), then estimate how well the threshold works on your own photos: "
                        "edited copies of 40 of them are described and searched among all of them (a minute "
                        "or two; kept in features/.cache and shown with every later answer)")
    parser.set_defaults(func=run)


# Said when --calibrate learned the duplicates space again: every duplicates score moves with it.
SPACE_RELEARNED = ("the duplicates space was learned again: scores changed (a threshold or score copied from "
                   "an earlier answer may now keep other pairs)")


def calibration_sizes(settings: Settings) -> tuple[int, int]:
    """How many edited copies `--calibrate` describes at most: (to learn the duplicates space, to
    estimate the threshold), from the collection's size (the bars' totals)."""
    from simages.copies.calibration import DEFAULT_SAMPLE
    from simages.copies.copy_pairs import DEFAULT_PHOTOS, EDITS_PER_PHOTO
    from simages.copies.edits import ALL_EDITS
    from simages.copies.space import collection_stores
    from simages.store.npz_store import read_names_count

    images = sum(read_names_count(path) for _, path in collection_stores(settings))
    return min(DEFAULT_PHOTOS, images) * min(EDITS_PER_PHOTO, len(ALL_EDITS)), min(DEFAULT_SAMPLE, images)


class CopiesBar:
    """A progress bar (tqdm on stderr, as indexing draws it) of the images a network describes: opened when
    the network is first built, so nothing is drawn when there is nothing to describe. `total` is what is
    expected; a descriptor that also describes each image mirrored counts both passes (the total grows)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.bar: Any = None

    def network(self, build: Callable[[], Any]) -> Callable[[], Any]:
        """`build` (a network factory), its network counting the images it describes on this bar."""

        def counted() -> Any:
            from tqdm import tqdm

            built = build()
            if self.bar is None:
                self.bar = tqdm(total=self.total, desc=self.label, unit="img", file=sys.stderr,
                                dynamic_ncols=True)
            return _Counted(built, self.bar)

        return counted

    def __enter__(self) -> CopiesBar:
        return self

    def __exit__(self, *_: object) -> None:
        if self.bar is not None:
            self.bar.total = self.bar.n  # fewer when photos could not be read: the work is done
            self.bar.close()


class _Counted:
    """A network whose `maps` advances a bar by the images it was given; everything else is the network's."""

    def __init__(self, network: Any, bar: Any) -> None:
        self._network, self._bar = network, bar

    def maps(self, images: Any) -> Any:
        found = self._network.maps(images)
        if self._bar.n + len(images) > self._bar.total:
            self._bar.total = self._bar.n + len(images)
        self._bar.update(len(images))
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._network, name)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from simages.nearest.sets.cache import default_cache
    from simages.operations.duplicates import DuplicatesRequest, run_duplicates

    request = DuplicatesRequest((args.set, *args.others), args.threshold, args.metric, args.exact)
    try:
        check_target(args.output)  # a missing folder is said before the work, not after it
        if args.calibrate:
            from simages.copies.calibration import refresh
            from simages.copies.copy_pairs import refresh_pairs, settings_network
            from simages.copies.space import kept_fingerprints

            before = kept_fingerprints(settings)
            learning, calibrating = calibration_sizes(settings)
            print("1/3 learning the duplicates space: edited copies of your own photos (once, and again "
                  "when the collection has doubled)...", file=sys.stderr, flush=True)
            network = settings_network(settings)
            with CopiesBar("edited copies", learning) as bar:
                made = refresh_pairs(settings, bar.network(network))
            for kind in made:
                print(f"learned from {kind}", file=sys.stderr)
            if not made:
                print("the kept duplicates space is still current: nothing to learn", file=sys.stderr)
            print(f"2/3 calibrating: edited copies of {plural(calibrating, 'photo')} searched among your "
                  "photos, and some of your photos searched as if they were new...", file=sys.stderr,
                  flush=True)
            with CopiesBar("calibration copies", calibrating) as bar:
                calibrated = refresh(settings, default_cache, network=bar.network(network), force=True)
            if calibrated is None:
                print("calibration: the collection is too small to have a duplicates space", file=sys.stderr)
            print("3/3 searching for duplicates...", file=sys.stderr, flush=True)
        answer = run_duplicates(request, settings, default_cache, progress=progress_bar(),
                                notice=lambda text: print(text, file=sys.stderr))
        if args.calibrate and before and kept_fingerprints(settings) != before:
            print(SPACE_RELEARNED, file=sys.stderr)
    except USER_ERRORS as error:
        return user_error(error)
    try:
        with output_to(args.output) as out:
            if args.format == "json":
                json.dump(answer.to_json(), out, indent=2)
                out.write("\n")
            else:
                calibration = answer.calibration.sentence() if answer.calibration is not None else ""
                write_report(answer.report, answer.indexes, args.format, out, chosen=answer.chosen,
                             how=answer.how, calibration=calibration, changes=answer.changes)
    except LookupError as error:
        return user_error(error)
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}", EXIT_FAILURE)
    return 0


def write_report(report: DuplicateReport, indexes: list[SetIndex], fmt: str, out: TextIO,
                 chosen: bool = False, how: str = "every pair", calibration: str = "",
                 changes: tuple[list[Change], ...] = ()) -> None:
    """The report as a table (for people), CSV (a,b,score,level,changes) or JSON
    (DuplicateReport.to_json). `how` says which pairs of a set were compared; `changes`, what changed
    between the images of each pair (simages.copies.changes), listed under the pair."""
    from simages.copies.changes import codes, describe
    from simages.nearest.core.display import format_score

    changed = list(changes) + [[]] * (len(report.pairs) - len(changes))

    if fmt == "json":
        json.dump(report.to_json(), out, indent=2)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["a", "b", "score", "level", "changes"])
        writer.writerows([p.a, p.b, format_score(p.score, report.metric), report.level(i).value,
                          " ".join(codes(changed[i]))] for i, p in enumerate(report.pairs))
        return
    from simages.nearest.duplicates.exact import duplicate_threshold

    first = indexes[0]
    out.write(f"Intent: {DUPLICATES.describe()}\n")
    if report.within:
        out.write(f"Set:    {first.set_name} ({plural(len(first), 'image')}, {how})\n")
    else:
        others = ", ".join(f"{index.set_name} ({len(index)})" for index in indexes[1:])
        out.write(f"Sets:   {first.set_name} ({plural(len(first), 'image')}) against {others}\n")
    out.write(f"Descriptors: {indexes[-1].explain(False)}\n")
    op, name = (">=", "cosine similarity") if report.metric == "cosine" else ("<=", "Euclidean distance")
    origin = "chosen with --threshold" if chosen else "the default duplicate threshold"
    default = duplicate_threshold(report.metric, indexes[-1])
    note = "" if not chosen else f"; the default is {default:g}"
    out.write(f"Threshold: {name} {op} {report.threshold:g} ({origin}{note})\n")
    if calibration and not chosen:
        out.write(f"{calibration}\n")
    groups = report.groups
    counts = report.level_counts()
    # "3 edited copies", "2 look-alikes"; NEW is an adjective ("2 different"), not a noun to make plural.
    by_level = ", ".join(f"{count} different" if level is Level.NEW else plural(count, level.title.lower())
                         for level, count in counts.items() if count)
    grouped = plural(len(groups), "group of copies", "groups of copies")
    starred = sum(below_threshold(pair.score, report.level(number), report.threshold,
                                  higher_is_better(report.metric))
                  for number, pair in enumerate(report.pairs))
    if starred:  # the same count as the join's and the triage's: copies scoring below, found by keypoints
        its = "its" if starred == 1 else "their"
        by_level += (f"; of them, {plural(starred, 'copy')} below the threshold, found by {its} keypoints, "
                     "marked *")
    out.write(f"{plural(len(report.pairs), 'pair')} ({by_level or 'none'}) in {grouped}\n")
    # Pairs a threshold chosen below the edited one keeps: said not to be duplicates.
    if counts[Level.LOOK_ALIKE]:
        out.write(f"{Level.LOOK_ALIKE.title}: {Level.LOOK_ALIKE.meaning}.\n")
    if counts[Level.NEW]:
        out.write(f"{Level.NEW.pair_title}: {Level.NEW.pair_meaning}.\n")
    if not report.pairs:
        out.write("No duplicates found.\n")
        return
    out.write("\nGroups (a photo and its copies), largest first:\n")
    width = len(str(len(groups)))
    for number, group in enumerate(groups, 1):
        out.write(f"{number:>{width}}. {plural(len(group), 'image')}: {', '.join(group)}\n")
    out.write(f"\nPairs, best first:\n{'score':>10}  {'level':<11}  a  b\n")
    below = False
    for number, pair in enumerate(report.pairs):
        level = report.level(number).pair_title
        below_it = below_threshold(pair.score, report.level(number), report.threshold,
                                   higher_is_better(report.metric))
        mark = " *" if below_it else ""
        below = below or bool(mark)
        out.write(f"{format_score(pair.score, report.metric):>10}  {level:<11}  {pair.a}  {pair.b}{mark}\n")
        if changed[number]:
            out.write(f"{'':>10}  {'':<11}  changed: {describe(changed[number])}\n")
    if below:
        out.write(BELOW_THRESHOLD_NOTE + "\n")
