"""The join side of ANN search: which search a kNN query uses, and the candidate rows an index proposes.

Only candidates come from the index; `core.decide` re-scores and orders them exactly, so an approximate
answer lists the same scores and tie order as the exact one for every image it finds.

An index is searched in its own space: the set's projection frozen when it was built (`ann_space`), which
differs from the set's current one once images were added or removed and the index was patched rather
than rebuilt. Keys are projected into both: the current space scores, the frozen space finds candidates.
For an index never patched (or a descriptor with nothing learned on the set) the two are the same and
the set's own vectors are used as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simages.extraction.postprocess import average_with_neighbours
from simages.nearest.ann import index as ann
from simages.nearest.core.decide import decide
from simages.nearest.core.query_rows import QueryRows, with_expansion
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex


@dataclass(frozen=True)
class Search:
    """The search a query uses: `method` is "exact" or an ANN method; `index` the ANN index or None;
    `reason` says in words why an exact search answers when an index could have (empty otherwise)."""

    method: str
    index: ann.AnnIndex | None = None
    reason: str = ""


EXACT = Search("exact")

# When an index was patched, its space (the PCA of the images it was built on) differs from the set's
# current one, and the two rank close neighbours a little differently: the index is asked for this many
# times more candidates, and the exact scores in the current space pick among them. On the test sets (a
# PCA-16 learned on 400 clustered 24-d vectors, then 10% more images) the frozen top-10 held 63-82% of
# the current top-10, the frozen top-30 96-100%; `simages bench ann-update` measures it at scale.
PATCHED_OVERFETCH = 3


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


def fetch_for(ann_index: ann.AnnIndex, same_space: bool, k: int) -> int:
    """Candidates to ask `ann_index` for, for k answers (see PATCHED_OVERFETCH)."""
    return k if same_space else k * PATCHED_OVERFETCH


def knn_rows(index: ann.AnnIndex, query: np.ndarray, k: int, own_row: int = -1) -> np.ndarray:
    """Candidate rows (int64) for the k nearest of one query (1, r) in the index's space, without
    `own_row` and padding."""
    found = index.candidates(query, k + (own_row >= 0))[0]
    return found[(found >= 0) & (found != own_row)].astype(np.int64)


def shares_space(ann_index: ann.AnnIndex, index: SetIndex) -> bool:
    """Whether `ann_index` is searched in `index`'s own space (then `index.vectors` are its vectors)."""
    return ann_index.space is None or ann_index.space.is_space_of(index)


def rows_in_index_space(ann_index: ann.AnnIndex, index: SetIndex, rows: np.ndarray,
                        same: bool | None = None) -> np.ndarray:
    """The vectors (m, r) of `index`'s rows in `ann_index`'s space: `index.vectors[rows]` when the spaces
    are the same (`same`, computed when None), else the frozen projection of the stored rows."""
    if shares_space(ann_index, index) if same is None else same:
        return np.asarray(index.vectors[rows])
    return ann_index.space.project(np.asarray(index.raw[rows]))


def key_query(
    index: SetIndex, ann_index: ann.AnnIndex, key_vector: np.ndarray, spec: QuerySpec, own_row: int
) -> tuple[QueryRows, QueryRows]:
    """The key as (1, d) query rows in the set's space, like `SetIndex.key_query`, but with the neighbours
    of query expansion found by the ANN index (the exact expansion scans the whole set); and the same rows
    in the index's space, to search it with (the same object when the spaces are the same).

    The expanded key of the index's space is made the way expansion makes it: the frozen key averaged with
    the frozen vectors of the same neighbour rows (the expanded key has no stored-style pre-image)."""
    projected = index.project(key_vector)
    same = shares_space(ann_index, index)
    frozen = projected if same else ann_index.space.project(key_vector)
    k = index.expansion_for(spec.expand)
    if not k:
        return QueryRows(projected), QueryRows(frozen)  # frozen is projected when the spaces are the same
    nearest = QuerySpec(spec.metric, "knn", k)
    near_rows = knn_rows(ann_index, frozen, fetch_for(ann_index, same, k), own_row)
    rows, _, _ = decide(index, projected[0], near_rows, nearest)
    if len(rows) == 0:
        return QueryRows(projected), QueryRows(frozen)
    expanded = with_expansion(projected, average_with_neighbours(projected, index.vectors, rows[None, :],
                                                                 spec.metric))
    if same:
        return expanded, expanded
    near = rows_in_index_space(ann_index, index, rows, same)
    twin = average_with_neighbours(frozen, near, np.arange(len(rows))[None, :], spec.metric)
    return expanded, with_expansion(frozen, twin)


def knn_candidates(
    index: SetIndex, ann_index: ann.AnnIndex, key_vector: np.ndarray, spec: QuerySpec, own_row: int
) -> tuple[QueryRows, np.ndarray]:
    """(the key's query rows in the set's current space, candidate rows (int64) for its `spec.param`
    nearest) through the ANN index, for `core.decide` to score: the nearest of the key itself and, with
    expansion, of its expanded form (the better score of both counts), without `own_row`."""
    query, searched = key_query(index, ann_index, key_vector, spec, own_row)
    fetch = fetch_for(ann_index, shares_space(ann_index, index), int(spec.param))
    candidates = knn_rows(ann_index, searched.plain, fetch, own_row)
    if searched.expanded is not None:
        candidates = np.union1d(candidates, knn_rows(ann_index, searched.expanded, fetch, own_row))
    return query, candidates


def knn_graph(
    index: SetIndex,
    ann_index: ann.AnnIndex,
    k: int,
    metric: str = "cosine",
    *,
    batch: int = 4096,
    progress: Callable[[int, int], None] | None = None,
    searched: SetIndex | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every image's k nearest *other* images of its own set, through the ANN index: a self-join kNN graph.

    Returns (rows (n, k) int64, scores (n, k) float32), best first per row; -1 / NaN where a set has fewer
    than k other images or the index proposed fewer. Scores are exact (cosine similarity, or Euclidean
    distance) and ties are broken by name, as in every join. Keys are the images' own vectors, without query
    expansion: whether two photos are near-duplicates is a property of the two photos. `progress(done, n)`
    is called after each batch of `batch` rows. ValueError when the index does not serve `metric`.

    `searched`: the reading of the same store version whose ANN index this is, when it is not `index`
    (row i the same image in both): e.g. candidates from the PCA space of the similar-images reading,
    scored on the stored vectors of the duplicates reading. Each image is searched with its vector in the
    index's space (`rows_in_index_space`).
    """
    if not ann_index.serves(metric):
        raise ValueError(f"this ANN index serves cosine only, not {metric}")
    n = len(index)
    rows_out = np.full((n, k), -1, dtype=np.int64)
    scores_out = np.full((n, k), np.nan, dtype=np.float32)
    vectors = index.vectors
    searched = index if searched is None else searched
    same = shares_space(ann_index, searched)
    for start in range(0, n, batch):
        block = np.arange(start, min(n, start + batch))
        query = rows_in_index_space(ann_index, searched, block, same)
        found = ann_index.candidates(query, fetch_for(ann_index, same, k) + 1)
        found = np.where(found == block[:, None], -1, found)  # never an image with itself
        valid = found >= 0
        safe = np.where(valid, found, 0)
        near = np.asarray(vectors)[safe]  # (b, c, d): only the candidates' rows are read
        if metric == "cosine":
            values = np.einsum("bcd,bd->bc", near, np.asarray(vectors[block]), dtype=np.float32)
            values *= index.inv_norms[safe] * index.inv_norms[block][:, None]
            np.clip(values, -1.0, 1.0, out=values)
            order_keys = np.where(valid, -values, np.inf)
        else:
            values = np.linalg.norm(near - np.asarray(vectors[block])[:, None, :], axis=2).astype(np.float32)
            order_keys = np.where(valid, values, np.inf)
        order = np.lexsort((index.name_rank[safe], order_keys), axis=-1)[:, :k]
        picked = np.take_along_axis(found, order, axis=1)
        picked_values = np.take_along_axis(values, order, axis=1)
        width = picked.shape[1]
        rows_out[block, :width] = picked
        scores_out[block, :width] = np.where(picked >= 0, picked_values, np.nan)
        if progress is not None:
            progress(int(block[-1]) + 1, n)
    return rows_out, scores_out
