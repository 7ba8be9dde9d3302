"""Nearest-neighbour joins: key x set and set x set, cosine or Euclidean, kNN or range.

Typical use::

    index = get_set_index(settings, "holidays")            # cached until the store file changes
    spec = QuerySpec.parse("cosine", "knn", "10")
    result = key_join(index, index.raw_vector("beach/1.jpg"), spec, key="holidays/beach/1.jpg",
                      exclude="beach/1.jpg")

The names below are loaded on first use (PEP 562), so importing one sub-module (say
`simages.nearest.core.query_spec`) does not load every join, the ANN layer and scipy with it.
"""

from __future__ import annotations

import importlib
from typing import Any

# name: the module that defines it
_EXPORTS = {
    "DUPLICATES": "simages.nearest.core.intents",
    "DescriptorCache": "simages.nearest.sets.cache",
    "DuplicateReport": "simages.nearest.duplicates.exact",
    "INTENTS": "simages.nearest.core.intents",
    "Intent": "simages.nearest.core.intents",
    "JoinResult": "simages.nearest.core.results",
    "KeyResult": "simages.nearest.core.results",
    "METRICS": "simages.nearest.core.query_spec",
    "Match": "simages.nearest.core.results",
    "NotIndexed": "simages.nearest.sets.cache",
    "PREDICATES": "simages.nearest.core.query_spec",
    "Pair": "simages.nearest.core.results",
    "QuerySpec": "simages.nearest.core.query_spec",
    "SIMILAR": "simages.nearest.core.intents",
    "ScoreDistribution": "simages.nearest.core.distribution",
    "SetIndex": "simages.nearest.core.set_index",
    "default_cache": "simages.nearest.sets.cache",
    "default_threshold": "simages.nearest.core.distribution",
    "duplicate_groups": "simages.nearest.duplicates.exact",
    "duplicate_pairs": "simages.nearest.duplicates.exact",
    "duplicate_threshold": "simages.nearest.duplicates.exact",
    "find_duplicates": "simages.nearest.duplicates.exact",
    "format_score": "simages.nearest.core.display",
    "format_score_short": "simages.nearest.core.display",
    "get_set_index": "simages.nearest.sets.cache",
    "intent_named": "simages.nearest.core.intents",
    "iter_set_join": "simages.nearest.joins.join",
    "key_distribution": "simages.nearest.core.distribution",
    "key_join": "simages.nearest.joins.join",
    "passes": "simages.nearest.core.display",
    "set_distribution": "simages.nearest.core.distribution",
    "set_join": "simages.nearest.joins.join",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'simages.nearest' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
