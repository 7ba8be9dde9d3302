"""Groups of a set join, largest first: for the duplicates intent, groups of copies that do not chain
(`duplicate_groups`: complete-link, as `simages duplicates`); for similar images, the connected
components of its passing pairs (`linked_groups`, scipy's csgraph) -- one implementation each for the CLI
and the app."""

from __future__ import annotations

from simages.nearest.core.results import Pair
from simages.nearest.duplicates.exact import compared_pairs, duplicate_groups, linked_groups
from simages.nearest.joins.pairs import JoinPairs, node


def join_groups(pairs: JoinPairs, copies: bool = False) -> list[list[str]]:
    """The groups of the kept pairs of a join, as sorted lists of `set/image` names, largest first:
    groups of copies (`copies`, the duplicates intent) or linked images (similar images)."""
    rows = [Pair(node(pairs.a_set, p.a), node(p.b_set, p.b), p.score) for p in pairs.pairs]
    if not copies:
        return linked_groups(rows)
    return duplicate_groups(rows, pairs.higher_is_better, compared_pairs(pairs.a_set, pairs.b_sets))
