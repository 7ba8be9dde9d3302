"""The join side of ANN search: which search a kNN query uses, and the candidate rows an index proposes.

Only candidates come from the index; `joins.decide` re-scores and orders them exactly, so an approximate
answer lists the same scores and tie order as the exact one for every image it finds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simages.extraction.postprocess import average_with_neighbours
from simages.nearest import ann
from simages.nearest.query_rows import QueryRows, with_expansion
from simages.nearest.query_spec import QuerySpec
from simages.nearest.set_index import SetIndex


@dataclass(frozen=True)
class Search:
    """The search a query uses: `method` is "exact" or an ANN method; `index` the ANN index or None;
    `reason` says in words why an exact search answers when an index could have (empty otherwise)."""

    method: str
    index: ann.AnnIndex | None = None
    reason: str = ""


EXACT = Search("exact")


def search_for(index: SetIndex, spec: QuerySpec, exact: bool = False) -> Search:
    """The search for `spec` on `index`: exact for range queries, when `exact` is asked for, on sets below
    `ann.AUTO_MIN_IMAGES`, and when the set's index is missing, stale or unusable (with the reason)."""
    if exact or spec.predicate != "knn":
        return EXACT
    features = index.store_path.parent if index.store_path is not None else None
    found = ann.lookup(features, index.set_name, index.source, index.applied, len(index), spec.metric)
    if found.index is None:
        return Search("exact", None, found.reason)
    return Search(found.index.method, found.index)


def knn_rows(index: ann.AnnIndex, query: np.ndarray, k: int, own_row: int = -1) -> np.ndarray:
    """Candidate rows (int64) for the k nearest of one query (1, d), without `own_row` and padding."""
    found = index.candidates(query, k + (own_row >= 0))[0]
    return found[(found >= 0) & (found != own_row)].astype(np.int64)


def key_query(
    index: SetIndex, ann_index: ann.AnnIndex, key_vector: np.ndarray, spec: QuerySpec, own_row: int
) -> QueryRows:
    """The key as (1, d) query rows in the set's space, like `SetIndex.key_query`, but with the neighbours
    of query expansion found by the ANN index (the exact expansion scans the whole set)."""
    from simages.nearest.joins import decide  # joins imports this module

    projected = index.project(key_vector)
    k = index.expansion_for(spec.expand)
    if not k:
        return QueryRows(projected)
    nearest = QuerySpec(spec.metric, "knn", k)
    rows, _, _ = decide(index, projected[0], knn_rows(ann_index, projected, k, own_row), nearest)
    if len(rows) == 0:
        return QueryRows(projected)
    expanded = average_with_neighbours(projected, index.vectors, rows[None, :], spec.metric)
    return with_expansion(projected, expanded)
