"""`--index brute|pivots[:P]` and `--explain`, shared by `query` and `join`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from simages.nearest.pivots import DEFAULT_PIVOTS

if TYPE_CHECKING:
    from simages.nearest.teaching.query_cost import IndexChoice


def add_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index",
        metavar="brute|pivots[:P]",
        help="how to answer: brute force, or a pivot table of P pivots (default: "
        f"about sqrt(n) for a set of n images, at most {DEFAULT_PIVOTS}; LAESA, exact: the same answer, "
        "fewer distances where the data allows). Without it: the default search (brute force; an "
        "approximate index on very large sets, see --exact)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also report the cost: distances computed out of the set's size, pivots, time",
    )


def index_choice_from_args(args: argparse.Namespace) -> IndexChoice:
    """The parsed --index value; ValueError with a message for users."""
    from simages.nearest.teaching.query_cost import IndexChoice

    text = getattr(args, "index", None)
    return IndexChoice() if text is None else IndexChoice.parse(text)
