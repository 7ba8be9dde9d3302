"""Groups of a set join: the connected components of its passing pairs, largest first, computed by the
duplicates module's `duplicate_groups` (scipy's csgraph) -- one implementation for `simages duplicates`
and the app."""

from __future__ import annotations

from simages.nearest.core.results import Pair
from simages.nearest.duplicates.exact import duplicate_groups
from simages.nearest.joins.pairs import JoinPairs, node


def join_groups(pairs: JoinPairs) -> list[list[str]]:
    """The groups of the kept pairs of a join, as sorted lists of `set/image` names, largest first."""
    return duplicate_groups(Pair(node(pairs.a_set, p.a), node(p.b_set, p.b), p.score) for p in pairs.pairs)
