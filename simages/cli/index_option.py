"""`--index brute|pivots[:P]` and `--explain`, shared by `query` and `join`."""

from __future__ import annotations

import argparse

from simages.nearest.pivot_store import DEFAULT_PIVOTS
from simages.nearest.query_cost import IndexChoice


def add_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index",
        default="brute",
        metavar="brute|pivots[:P]",
        help="how to answer: brute force (default), or a pivot table of P pivots (default "
        f"{DEFAULT_PIVOTS}; LAESA, exact: the same answer, fewer distances where the data allows)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also report the cost: distances computed out of the set's size, pivots, time",
    )


def index_choice_from_args(args: argparse.Namespace) -> IndexChoice:
    """The parsed --index value; ValueError with a message for users."""
    return IndexChoice.parse(getattr(args, "index", "brute") or "brute")
