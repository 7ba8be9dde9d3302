"""Exact re-scoring of candidate rows for one query: the scores, the predicate and the order every answer
gets, whichever search (brute force, pivots, ANN) proposed the candidates. Shared by `joins.join` and
`ann.search`, so both give the same scores and tie order for the rows they find.
"""

from __future__ import annotations

import numpy as np

from simages.nearest.core import predicates, scores
from simages.nearest.core.display import passes
from simages.nearest.core.query_rows import QueryRows, best_scores
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex


def as_rows(query: QueryRows | np.ndarray) -> QueryRows:
    """A bare vector or (m, d) array is a key without expansion (the ANN path passes its own keys)."""
    return query if isinstance(query, QueryRows) else QueryRows(scores.as_float32_rows(query))


def decide(
    index: SetIndex, query: QueryRows | np.ndarray, candidates: np.ndarray, spec: QuerySpec
) -> tuple[np.ndarray, np.ndarray, int]:
    """(rows best first, their scores, how many passed) among candidate rows (int64, any order) for one
    query (QueryRows of one row: the better score of its forms counts; or one vector): exact re-scoring,
    the predicate (nearest.core.display.passes), then the order (score, then name). Shared by the exact
    path and the ANN path, so both give the same scores and tie order for the rows they find."""
    query = as_rows(query)
    cosine = spec.metric == "cosine"
    if cosine:
        exact = best_scores(
            query, lambda q: scores.exact_cosines(index.vectors, index.inv_norms, candidates, q[0]), True
        )
        order_keys = -exact
    else:
        exact = order_keys = best_scores(
            query, lambda q: scores.exact_distances(index.vectors, candidates, q[0]), False
        )
    if spec.predicate == "range":
        inside = passes(exact, spec.param, spec.metric)
        candidates, exact, order_keys = candidates[inside], exact[inside], order_keys[inside]
    perm = predicates.order(order_keys, index.name_rank[candidates])
    if spec.predicate == "knn":
        perm = perm[: int(spec.param)]
    return candidates[perm], exact[perm], len(perm)
