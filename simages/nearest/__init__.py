"""Nearest-neighbour joins: key x set and set x set, cosine or Euclidean, kNN or range.

Typical use::

    index = get_set_index(settings, "holidays")            # cached until the store file changes
    spec = QuerySpec.parse("cosine", "knn", "10")
    result = key_join(index, index.raw_vector("beach/1.jpg"), spec, key="holidays/beach/1.jpg",
                      exclude="beach/1.jpg")
"""

from simages.nearest.core.display import format_score, format_score_short, passes
from simages.nearest.core.distribution import (
    ScoreDistribution,
    default_threshold,
    key_distribution,
    set_distribution,
)
from simages.nearest.core.intents import DUPLICATES, INTENTS, SIMILAR, Intent, intent_named
from simages.nearest.core.query_spec import METRICS, PREDICATES, QuerySpec
from simages.nearest.core.results import JoinResult, KeyResult, Match, Pair
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import (
    DuplicateReport,
    duplicate_groups,
    duplicate_pairs,
    duplicate_threshold,
    find_duplicates,
)
from simages.nearest.joins.join import iter_set_join, key_join, set_join
from simages.nearest.sets.cache import DescriptorCache, NotIndexed, default_cache, get_set_index

__all__ = [
    "DUPLICATES",
    "INTENTS",
    "METRICS",
    "PREDICATES",
    "SIMILAR",
    "DescriptorCache",
    "DuplicateReport",
    "Intent",
    "JoinResult",
    "KeyResult",
    "Match",
    "NotIndexed",
    "Pair",
    "QuerySpec",
    "ScoreDistribution",
    "SetIndex",
    "default_cache",
    "default_threshold",
    "duplicate_groups",
    "duplicate_pairs",
    "duplicate_threshold",
    "find_duplicates",
    "format_score",
    "format_score_short",
    "get_set_index",
    "intent_named",
    "iter_set_join",
    "key_distribution",
    "key_join",
    "passes",
    "set_distribution",
    "set_join",
]
