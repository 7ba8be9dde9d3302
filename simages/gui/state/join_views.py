"""How the join page's views page their items (pairs, matches per image, groups), without drawing."""

from __future__ import annotations

from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.joins.pairs import JoinPairs

PAIRS_PER_PAGE = 24
KEYS_PER_PAGE = 10
GROUPS_PER_PAGE = 10


def page_count(items: int, per_page: int) -> int:
    """How many pages `items` fill, `per_page` each (at least 1)."""
    return max(1, (items + per_page - 1) // per_page)


def listed_keys(pairs: JoinPairs, spec: QuerySpec) -> list[str]:
    """The images of A the matches view lists: all of them for a kNN join; for a range join those with a
    match (a curator checking a folder wants the hits, not thousands of "no match" rows)."""
    if spec.predicate == "knn":
        return pairs.keys
    return [key for key in pairs.keys if key in pairs.by_key]
