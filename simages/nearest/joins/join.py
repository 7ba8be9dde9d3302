"""Key x set and set x set joins on SetIndex objects.

A set join is computed in blocks of query rows so that one block's score matrix is about 64 MB whatever
the set sizes: a 100k x 100k join never holds more than a block of scores (plus its selections).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from simages.nearest.ann import search as approximate
from simages.nearest.core import predicates, scores
from simages.nearest.core.decide import as_rows, decide
from simages.nearest.core.query_rows import QueryRows, best_keys
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.results import JoinResult, KeyResult, Match
from simages.nearest.core.set_index import SetIndex

BLOCK_BYTES = 64 * 1024 * 1024


def block_rows_for(columns: int, block_bytes: int = BLOCK_BYTES) -> int:
    """Query rows per block so that a (rows x columns) float32 score matrix is about `block_bytes`."""
    return max(1, block_bytes // (4 * max(1, columns)))


def _keys(index: SetIndex, queries: QueryRows | np.ndarray, metric: str) -> np.ndarray:
    """(m, n) keys of the set's rows for each query, the better of the key's plain and expanded forms."""
    rows = as_rows(queries)
    if metric == "cosine":
        return best_keys(rows, lambda q: scores.cosine_keys(q, index.vectors, index.inv_norms))
    return best_keys(rows, lambda q: scores.euclidean_keys(q, index.vectors, index.sq_norms))


def _answer_row(
    index: SetIndex, query: QueryRows | np.ndarray, keys: np.ndarray, spec: QuerySpec
) -> tuple[np.ndarray, np.ndarray, int]:
    """(rows best first, their scores, how many passed) for one query (QueryRows of one row, or a vector)
    and its row of keys.

    The keys preselect generously (see scores.COSINE_SLACK); the decision and the order use scores
    recomputed per candidate, so ties and cut-offs do not depend on how the keys were computed."""
    query = as_rows(query)
    cosine = spec.metric == "cosine"
    if cosine:
        slack, cutoff = scores.COSINE_SLACK, -float(spec.param)
    else:
        largest = max(float(form[0] @ form[0]) for form in query.forms())
        slack, cutoff = scores.d2_slack(largest, index.max_sq_norm), float(spec.param) ** 2
    if spec.predicate == "knn":
        candidates = predicates.knn_candidates(keys, int(spec.param), slack)
    else:
        candidates = np.flatnonzero(keys <= cutoff + slack)
    return decide(index, query, candidates, spec)


def _rows_with_candidates(
    index: SetIndex, queries: QueryRows, keys: np.ndarray, spec: QuerySpec
) -> np.ndarray:
    """(m,) bool: which query rows of a block can have an answer. Always true for kNN; for a range join, a
    row none of whose keys comes within twice `_answer_row`'s slack of the cut-off has no candidate, so
    its answer is empty without the per-row work -- most rows of a duplicate search, where per-row
    Python dominated (a 10k x 10k self-join: about 40% of its time)."""
    if spec.predicate == "knn" or keys.shape[1] == 0:
        return np.full(len(keys), spec.predicate == "knn" and keys.shape[1] > 0)
    if spec.metric == "cosine":
        return (keys <= -float(spec.param) + 2 * scores.COSINE_SLACK).any(axis=1)
    largest = np.max([scores.squared_norms(form) for form in queries.forms()], axis=0).astype(np.float64)
    slack = 2 * scores.d2_slack(0.0, index.max_sq_norm) + 2 * scores.D2_RELATIVE_SLACK * largest
    return (keys <= (float(spec.param) ** 2 + slack)[:, None]).any(axis=1)


def _matches(index: SetIndex, rows: np.ndarray, values: np.ndarray, limit: int | None) -> list[Match]:
    if limit is not None:
        rows, values = rows[:limit], values[:limit]
    names = index.names
    return [Match(names[r], float(v)) for r, v in zip(rows.tolist(), values.tolist(), strict=True)]


def key_join(
    index: SetIndex,
    key_vector: np.ndarray,
    spec: QuerySpec,
    *,
    key: str = "",
    exclude: str | None = None,
    limit: int | None = None,
    exact: bool = False,
    ann_index: approximate.ann.AnnIndex | None = None,
) -> KeyResult:
    """One key against a set. `key_vector` is a stored-style (raw) descriptor: a stored row of any set or
    one computed for an uploaded file; it is projected into the set's space here. `exclude` names an image
    of the set never to return (the key itself, when it belongs to the set). `limit` cuts the listed
    matches of a range query; `passed` still counts them all.

    A kNN query on a large set uses the set's ANN index when it has a fresh one (`simages.nearest.ann.index`);
    `exact=True` forces the exact search; `ann_index` uses that index for a kNN query, whatever the set's
    size (benchmarks, tests). `KeyResult.search` says which search was used and why."""
    if ann_index is not None and spec.predicate == "knn" and not exact:
        search = approximate.Search(ann_index.method, ann_index)
    else:
        search = approximate.search_for(index, spec, exact)
    total = len(index)
    expansion = index.expansion_for(spec.expand)
    if total == 0:
        return KeyResult(key, index.set_name, spec.metric, spec.predicate, spec.param, [],
                         0 if spec.predicate == "range" else None, 0, expansion)
    if search.index is not None:
        own_row = index.row_of(exclude) if exclude is not None and exclude in index else -1
        # Candidates are searched in the index's (frozen) space, then scored in the set's current space.
        query, candidates = approximate.knn_candidates(index, search.index, key_vector, spec, own_row)
        rows, values, passed = decide(index, query, candidates, spec)
        total -= own_row >= 0
    else:
        query, own_row = index.key_query(key_vector, spec.metric, exclude, expand=spec.expand)
        keys = _keys(index, query, spec.metric)[0]
        if own_row >= 0:
            keys[own_row] = np.inf
            total -= 1
        rows, values, passed = _answer_row(index, query, keys, spec)
    return KeyResult(
        key=key,
        set=index.set_name,
        metric=spec.metric,
        predicate=spec.predicate,
        param=spec.param,
        matches=_matches(index, rows, values, limit),
        passed=passed if spec.predicate == "range" else None,
        total=total,
        expansion=expansion,
        search=search.method,
        search_note=search.reason,
    )


def is_self_join(a: SetIndex, b: SetIndex) -> bool:
    return a is b or (a.set_name == b.set_name and a.source is not None and a.source == b.source)


def iter_set_join(
    a: SetIndex,
    b: SetIndex,
    spec: QuerySpec,
    *,
    block_rows: int | None = None,
    limit: int | None = None,
) -> Iterator[tuple[str, list[Match]]]:
    """For each image of A in name order, its matches in B best first. A self-join (A is B) never pairs an
    image with itself; the exclusion is by row, so identical images under two names still pair. Keys go
    through B's query expansion unless `spec.expand` is off."""
    if a.dimension != b.dimension and len(a) and len(b):
        raise ValueError(
            f"sets {a.set_name!r} ({a.dimension}-d) and {b.set_name!r} ({b.dimension}-d) hold different "
            "descriptors; index both with the same descriptor"
        )
    self_join = is_self_join(a, b)
    rows_per_block = block_rows or block_rows_for(len(b))
    # Iterating A in name order makes the output order independent of the store's row order.
    a_order = np.argsort(a.name_rank)
    for start in range(0, len(a), rows_per_block):
        a_rows = a_order[start : start + rows_per_block]
        projected = a.vectors[a_rows] if self_join else b.project(a.raw[a_rows])
        queries = b.query_rows(projected, spec.metric, a_rows if self_join else None, expand=spec.expand)
        keys = _keys(b, queries, spec.metric) if len(b) else np.zeros((len(a_rows), 0), np.float32)
        if self_join:
            keys[np.arange(len(a_rows)), a_rows] = np.inf
        hopeful = _rows_with_candidates(b, queries, keys, spec)
        for i, a_row in enumerate(a_rows.tolist()):
            if not hopeful[i]:
                yield a.names[a_row], []
                continue
            rows, values, _ = _answer_row(b, queries.row(i), keys[i], spec)
            yield a.names[a_row], _matches(b, rows, values, limit)


def set_join(
    a: SetIndex,
    b: SetIndex,
    spec: QuerySpec,
    *,
    block_rows: int | None = None,
    limit: int | None = None,
) -> JoinResult:
    """Every image of A against B, grouped by A's image (see `iter_set_join`)."""
    groups = dict(iter_set_join(a, b, spec, block_rows=block_rows, limit=limit))
    return JoinResult(a.set_name, b.set_name, spec.metric, spec.predicate, spec.param, groups,
                      b.expansion_for(spec.expand))
