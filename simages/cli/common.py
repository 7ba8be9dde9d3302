"""What every command shares: the errors it reports as user errors, how it reports them, the predicate
options (`--knn`, `--range`, `--metric`, `--no-expansion`) and the process's descriptor cache."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from simages.cli.deprecation import DeprecatedAliases
from simages.cli.exits import ERROR_PREFIX, EXIT_BAD_INPUT
from simages.extraction.image_errors import UnreadableImage
from simages.nearest.core.intents import SIMILAR, Intent
from simages.nearest.core.query_spec import METRICS, QuerySpec
from simages.settings import Settings

if TYPE_CHECKING:
    from simages.nearest.core.set_index import SetIndex
from simages.store.errors import StoreError

# Errors whose message is written for the user: printed as is, exit code 2, never a traceback.
# UnreadableImage (an OSError) is the user's file, not a broken install: it must be caught before OSError.
USER_ERRORS = (ValueError, LookupError, StoreError, UnreadableImage)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    """Print `simages: error: MESSAGE` on stderr; the exit code to return."""
    print(f"{ERROR_PREFIX}{message}", file=sys.stderr)
    return code


def again(settings: Settings, rest: str) -> str:
    """`simages REST` as the user can type it next: with `--root ROOT` when the root is not the current
    directory, so a suggested follow-up (apply a plan, undo it) acts on the same collection."""
    return settings.command(rest)


def user_error(error: BaseException) -> int:
    """A user error's message (with a store's remedy), exit code 2."""
    message = str(error)
    if isinstance(error, StoreError):
        message += "; " + error.remedy
    return fail(message)


def format_score(score: float, metric: str) -> str:
    """Six decimals, rounded toward the cut-off side: `--threshold` with a printed score keeps that image."""
    from simages.nearest.core import display  # numpy: not for --help

    return display.format_score(score, metric)


def add_predicate_arguments(parser: argparse.ArgumentParser) -> None:
    """--knn / --range / --metric, shared by `query` and `join`."""
    group = parser.add_mutually_exclusive_group()
    # Read as text so QuerySpec.parse gives its friendly messages rather than argparse's.
    group.add_argument("--knn", metavar="K", help="the K most similar images")
    group.add_argument(
        "--threshold", "--range", dest="range", metavar="T",
        action=DeprecatedAliases, renamed={"--range": "--threshold"},
        help="every image with cosine similarity >= T, or Euclidean distance <= T (the range predicate; "
        "--range is the deprecated name, removed in 0.2)",
    )
    parser.add_argument("--metric", choices=METRICS, default="cosine", help="default: cosine")
    parser.add_argument(
        "--no-expansion",
        dest="expand",
        action="store_false",
        help="score from the key itself, without the query expansion of a `qe` descriptor",
    )


# The format an --output file's suffix names when --format is not given (resolve_output_format).
SUFFIX_FORMATS = {".json": "json", ".csv": "csv", ".txt": "table"}


def add_output_arguments(parser: argparse.ArgumentParser, default: str | None = "table") -> None:
    """--format table|csv|json and --output FILE, the same in every command that answers. Without
    --format, the format is the one --output's suffix names, else `default` (None: table, or CSV with
    --output); main() settles it once for every command (resolve_output_format)."""
    otherwise = default or "table; csv with --output"
    parser.add_argument("--format", choices=("table", "csv", "json"), default=None,
                        help="how the answer is written (default: the one the --output FILE's suffix names, "
                        f".json, .csv or .txt for table; otherwise {otherwise}); JSON: the schema of "
                        "docs/json.md")
    parser.add_argument("--output", metavar="FILE",
                        help="write the answer to FILE (written atomically: an earlier FILE stays whole "
                        "until the new one is complete), '-' for standard output (default); its suffix "
                        "sets the format when --format is not given")
    parser.set_defaults(format_otherwise=default)


def resolve_output_format(args: argparse.Namespace) -> None:
    """Sets `args.format` for a command with add_output_arguments when --format was not given: the format
    the --output file's suffix names (SUFFIX_FORMATS, any case), else the command's default (CSV for a
    command whose default is None and an --output). Commands without those arguments are left alone."""
    if not hasattr(args, "format_otherwise") or args.format is not None:
        return
    output = getattr(args, "output", None)
    named = SUFFIX_FORMATS.get(Path(output).suffix.lower()) if output not in (None, "-") else None
    args.format = named or args.format_otherwise or ("csv" if output is not None else "table")


def spec_from_args(
    args: argparse.Namespace, intent: Intent = SIMILAR, index: SetIndex | None = None
) -> QuerySpec:
    """The predicate asked for, or the intent's default (`operations.query.query_spec`)."""
    from simages.operations import query as query_op

    expand = getattr(args, "expand", True)
    return query_op.query_spec(args.metric, args.knn, args.range, expand, intent, index)


def open_set(settings: Settings, name: str, intent: Intent = SIMILAR) -> SetIndex:
    """A set read for `intent` through this process's descriptor cache (`operations.sets.open_set`)."""
    from simages.nearest.sets.cache import default_cache
    from simages.operations.sets import open_set as open_through

    return open_through(default_cache, settings, name, intent)
