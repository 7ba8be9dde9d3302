"""Groups of a set join, largest first: for the duplicates intent, groups of copies that do not chain
(`duplicate_groups`: complete-link, as `simages duplicates`); for similar images, the connected
components of its passing pairs (`linked_groups`, scipy's csgraph) -- one implementation each for the CLI
and the app."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from simages.copies.levels import Level, is_duplicate
from simages.copies.verification import LocalFeatureCache
from simages.nearest.core.results import Pair
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import (
    compared_pairs,
    duplicate_groups,
    linked_groups,
    nearest_pairs,
    pair_levels,
)
from simages.nearest.joins.pairs import JoinPairs, node


def _rows(pairs: JoinPairs) -> list[Pair]:
    return [Pair(node(pairs.a_set, p.a), node(p.b_set, p.b), p.score) for p in pairs.pairs]


def join_pair_levels(pairs: JoinPairs, metric: str, files: Callable[[str], Path],
                     local: LocalFeatureCache | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     indexes: Sequence[SetIndex] = ()) -> list[Level]:
    """The level of each kept pair of a duplicates join (same order as `pairs.pairs`), as `simages
    duplicates` gives it: exact for the same pixels, and look-alike for a pair whose images' keypoints
    show two different photos (`pair_levels` with the pairs' `files`: qualified name -> image file); in a
    join of A against other sets each A image's PROMOTED best pairs are verified below the threshold too.
    `progress(done, total)` follows the checks; `indexes`: the sets joined, whose space gives the level
    thresholds (a collection too small to whiten has its own) and whose identical vectors are exact."""
    rows = _rows(pairs)
    # New photos against other sets: each one's nearest are verified below the threshold too.
    promoted = None if pairs.self_join else nearest_pairs(rows, pairs.higher_is_better)
    return pair_levels(rows, indexes, metric, files, local, promoted, progress=progress)


def join_groups(pairs: JoinPairs, copies: bool = False, levels: Sequence[Level] | None = None
                ) -> list[list[str]]:
    """The groups of the kept pairs of a join, as sorted lists of `set/image` names, largest first:
    groups of copies (`copies`, the duplicates intent: of the pairs whose `levels` are a duplicate
    level, every pair when None) or linked images (similar images)."""
    rows = _rows(pairs)
    if not copies:
        return linked_groups(rows)
    if levels is not None:
        rows = [row for row, level in zip(rows, levels, strict=True) if is_duplicate(level)]
    return duplicate_groups(rows, pairs.higher_is_better, compared_pairs(pairs.a_set, pairs.b_sets))
