"""`simages query KEY --set SET (--knn K | --range T) [--metric M] [--no-expansion] [--format F]
[--index brute|pivots[:P]] [--explain]`: one key against a set.

How KEY is read, in this order:
  1. `SET/IMAGE` when SET names a known set (a folder of image_sets/ or an existing store): the image's
     stored descriptor is used. IMAGE may contain '/'.
  2. otherwise, a path to an existing image file anywhere on disk: its descriptor is computed on the
     fly with the searched set's descriptor settings.
  To force the file reading for a relative path whose first folder is also a set name, write `./path`.
When the set's descriptor has query expansion (`qe`), the key is averaged with its nearest images of the
set before scoring; --no-expansion scores from the key itself (an exact copy of the key then scores 1.0).
--index pivots[:P] answers through a pivot table (the same answer as brute force, computing fewer
distances where the data allows); --explain reports the cost ("cost" in JSON: distances computed of the
set's size, pivots, ms).
A kNN query on a large set (50,000 images or more) uses the set's ANN index when it has a fresh one: the
index proposes candidates, which are scored exactly; --exact searches the whole set instead.
Without --knn or --range: kNN with k = 10 (the app's default), or with `--intent duplicates` the range
at the duplicate threshold (is this photo already in the set?).
Exit codes: 0 success, 2 a user error (bad name, set not indexed, bad option, a key file that is no
image), 1 extraction failure.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from simages.cli.index_option import add_index_arguments, index_choice_from_args
from simages.extraction.images import UnreadableImage, open_image
from simages.naming import InvalidName, validate_image_name, validate_set_name
from simages.nearest.core import display
from simages.nearest.core.intents import (
    INTENTS,
    SIMILAR,
    Intent,
    descriptor_for,
    intent_named,
    no_duplicate_sentence,
)
from simages.nearest.core.query_spec import METRICS, QuerySpec
from simages.nearest.core.results import KeyResult
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import DUPLICATE_COSINE, duplicate_threshold
from simages.nearest.sets.cache import default_cache
from simages.nearest.teaching.query_cost import QueryCost, explained_key_join
from simages.settings import Settings
from simages.store.npz_store import StoreError, read_failed

# Errors whose message is written for the user: printed as is, exit code 2, never a traceback.
# UnreadableImage (an OSError) is the user's file, not a broken install: it must be caught before OSError.
USER_ERRORS = (ValueError, LookupError, StoreError, UnreadableImage)

# The predicate when neither --knn nor --range is given (the app's results page uses the same k).
DEFAULT_KNN = 10


def add_predicate_arguments(parser: argparse.ArgumentParser) -> None:
    """--knn / --range / --metric, shared by `query` and `join`."""
    group = parser.add_mutually_exclusive_group()
    # Read as text so QuerySpec.parse gives its friendly messages rather than argparse's.
    group.add_argument("--knn", metavar="K", help="the K most similar images")
    group.add_argument(
        "--range", metavar="T", help="every image with cosine similarity >= T, or Euclidean distance <= T"
    )
    parser.add_argument("--metric", choices=METRICS, default="cosine", help="default: cosine")
    parser.add_argument(
        "--no-expansion",
        dest="expand",
        action="store_false",
        help="score from the key itself, without the query expansion of a `qe` descriptor",
    )


def spec_from_args(
    args: argparse.Namespace, intent: Intent = SIMILAR, index: SetIndex | None = None
) -> QuerySpec:
    """The predicate asked for; without --knn / --range the intent's default: kNN-10 for similar images,
    the range at the duplicate threshold (of `index`, read for duplicates) for duplicates.
    ValueError with a user message for a bad K or T."""
    expand = getattr(args, "expand", True)
    if args.knn is not None:
        return QuerySpec.parse(args.metric, "knn", args.knn, expand)
    if args.range is not None:
        return QuerySpec.parse(args.metric, "range", args.range, expand)
    if intent.name == "duplicates":
        threshold = duplicate_threshold(args.metric, index)
        return QuerySpec.parse(args.metric, "range", display.format_score(threshold, args.metric), expand)
    return QuerySpec.parse(args.metric, "knn", str(DEFAULT_KNN), expand)


def user_error(error: BaseException) -> int:
    message = str(error)
    if isinstance(error, StoreError):
        message += "; " + error.remedy
    print(f"error: {message}", file=sys.stderr)
    return 2


def format_score(score: float, metric: str) -> str:
    """Six decimals, rounded toward the cut-off side: `--range` with a printed score keeps that image."""
    return display.format_score(score, metric)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "query",
        help="find the images of a set most similar to a key image",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("key", metavar="KEY", help="SET/IMAGE of an indexed set, or a path to an image file")
    parser.add_argument("--set", required=True, metavar="SET", help="the set to search")
    add_predicate_arguments(parser)
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table", help="default: table")
    parser.add_argument(
        "--intent", default=SIMILAR.name, choices=sorted(INTENTS),
        help="similar images (default) or duplicates: copies of one photo, scored in the duplicates space "
        f"(its duplicate threshold: cosine {DUPLICATE_COSINE:g})",
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


@dataclass(frozen=True)
class StoredKey:
    set_name: str
    image: str

    def label(self) -> str:
        return f"{self.set_name}/{self.image}"


@dataclass(frozen=True)
class FileKey:
    path: Path

    def label(self) -> str:
        return str(self.path)


def _is_known_set(settings: Settings, name: str) -> bool:
    try:
        validate_set_name(name)
    except InvalidName:
        return False
    return (settings.image_sets / name).is_dir() or settings.store_path(name).is_file()


def parse_key(text: str, settings: Settings) -> StoredKey | FileKey:
    """Apply the KEY rule of this module's docstring; LookupError / InvalidName with a user message."""
    first, slash, rest = text.partition("/")
    if slash and rest and _is_known_set(settings, first):
        return StoredKey(first, validate_image_name(rest))
    path = Path(text).expanduser()
    if path.is_file():
        return FileKey(path)
    if slash and rest and not text.startswith(("/", "./", "../", "~")):
        raise LookupError(f"{text!r} is neither an image of a known set (no set named {first!r}) nor a file")
    raise LookupError(f"no such image file: {text} (an image of a set is written SET/IMAGE)")


def _describe(path: Path, settings: Settings, index: SetIndex) -> np.ndarray:
    """Descriptor of an outside image, computed with the settings the searched set was indexed with."""
    from simages.extraction.describe import describe_file  # heavy (Keras, torch): only when needed

    # A text file or a bomb is the user's mistake, said before any missing-weights message.
    refuse_non_image(path, settings.max_image_pixels)
    message = settings.check_weights()
    if message:
        raise LookupError(message)
    spec = index.key_descriptor()
    if spec is not None:
        settings = settings.with_(descriptor=spec)
    return np.asarray(describe_file(path, settings), dtype=np.float32)


def _why_not_indexed(settings: Settings, set_name: str, image: str) -> str:
    """Why an image of a set has no descriptor, in words: unreadable when the set was indexed (indexing
    again would not help), added since (it would), or not in the set at all."""
    reason = read_failed(settings.store_path(set_name)).get(image)
    if reason is not None:
        return (f"image {image!r} of set {set_name!r} could not be read when the set was indexed ({reason}); "
                "it has no descriptor")
    if not (settings.image_sets / set_name / image).is_file():
        return f"there is no image {image!r} in set {set_name!r}"
    return (f"image {image!r} is not in the index of set {set_name!r}; "
            f"run `simages index {set_name}` if it was added since")


def refuse_non_image(path: Path, max_pixels: int | None = None) -> None:
    """UnreadableImage (NotAnImage when no image format matches, "decompression bomb" when the header claims
    too many pixels) before the network is loaded; reads only the header. Damaged images are found later,
    when they are decoded."""
    with open_image(path, max_pixels):
        pass


def open_set(settings: Settings, name: str, intent: Intent = SIMILAR) -> SetIndex:
    """A set read for `intent`: with `--descriptor` (or $SIMAGES_DESCRIPTOR) the similar intent applies that
    descriptor to the stored vectors, or fails with a message saying to re-index (DescriptorMismatch)."""
    chosen = settings.descriptor if settings.descriptor_chosen else None
    return default_cache.get(settings, name, descriptor_for(intent, chosen))


def require_same_descriptor(a: SetIndex, b: SetIndex) -> None:
    """ValueError unless both sets were indexed with the same descriptor (vectors of two descriptors are
    not comparable, even when their dimensions agree)."""
    if a.descriptor != b.descriptor:
        raise ValueError(
            f"set {a.set_name!r} was indexed with descriptor {a.descriptor!r} but set {b.set_name!r} with "
            f"{b.descriptor!r}; re-index one of them with the other's descriptor"
        )


def key_vector(
    key: StoredKey | FileKey, settings: Settings, index: SetIndex, intent: Intent = SIMILAR
) -> tuple[np.ndarray, str | None]:
    """The raw descriptor of the key, and the image of the searched set to leave out (the key itself)."""
    if isinstance(key, FileKey):
        return _describe(key.path, settings, index), None
    key_index = index if key.set_name == index.set_name else open_set(settings, key.set_name, intent)
    require_same_descriptor(key_index, index)
    if key.image not in key_index:
        raise LookupError(_why_not_indexed(settings, key.set_name, key.image))
    exclude = key.image if key.set_name == index.set_name else None
    return key_index.raw_vector(key.image), exclude


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        intent = intent_named(args.intent)
        spec_from_args(args)  # a bad K or T is reported before the set is read
        choice = index_choice_from_args(args)
        if args.limit is not None and args.limit < 1:
            raise ValueError("--limit must be a positive integer")
        index = open_set(settings, args.set, intent)
        spec = spec_from_args(args, intent, index)
        key = parse_key(args.key, settings)
        raw, exclude = key_vector(key, settings, index, intent)
        if args.include_self:
            exclude = None
        result, cost = explained_key_join(index, raw, spec, choice, key=key.label(), exclude=exclude,
                                          limit=args.limit, settings=settings, exact=args.exact)
    except UnreadableImage as error:
        print(f"error: {args.key} is not an image SIMages can read ({error})", file=sys.stderr)
        return 2
    except USER_ERRORS as error:
        return user_error(error)
    except (ImportError, OSError, RuntimeError) as error:
        print(f"error: cannot compute the descriptor of {args.key}: {error}", file=sys.stderr)
        return 1
    write_result(result, spec, args.format, sys.stdout, index.explain(spec.expand),
                 cost if args.explain else None, intent)
    return 0


def write_result(
    result: KeyResult,
    spec: QuerySpec,
    fmt: str,
    out: TextIO,
    descriptors: str = "",
    cost: QueryCost | None = None,
    intent: Intent | None = None,
) -> None:
    """`descriptors` says in words which descriptor made the scores (SetIndex.explain); `cost`, when
    given, is reported (JSON: a "cost" object; table: a line; CSV: a line on stderr, the file stays
    pairs only); `intent`, when given, is named in the table."""
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
        writer.writerow(["image", "score"])
        writer.writerows([m.image, format_score(m.score, result.metric)] for m in result.matches)
        return
    out.write(f"Key:   {result.key}\n")
    out.write(f"Set:   {result.set} ({result.total} images searched)\n")
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
        shown = "" if len(result.matches) == result.passed else f", showing the first {len(result.matches)}"
        out.write(f"Passed: {result.passed} of {result.total}{shown}\n")
    if not result.matches:
        if intent is not None and intent.name == "duplicates" and spec.predicate == "range":
            out.write(f"{no_duplicate_sentence(result.set)}\n")
        else:
            out.write("No image matches.\n")
        return
    width = len(str(len(result.matches)))
    out.write(f"{'#':>{width}}  {'score':>10}  image\n")
    for rank, match in enumerate(result.matches, 1):
        out.write(f"{rank:>{width}}  {format_score(match.score, result.metric):>10}  {match.image}\n")
