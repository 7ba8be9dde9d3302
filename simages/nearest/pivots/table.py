"""A pivot table (LAESA) over a set's join-space vectors: exact kNN and range queries that compute a real
distance only for the images the triangle inequality cannot rule out.

Source: L. Micó, J. Oncina and E. Vidal, "A new version of the nearest-neighbour approximating and
eliminating search algorithm (AESA) with linear preprocessing time and memory requirements", Pattern
Recognition Letters 15(1), 1994, 9-17. `p` images of the set are pivots ("base prototypes"); the table keeps
d(x, p) for every image x and pivot p (n x p numbers). A query q first computes d(q, p) for each pivot;
then, for every image, without touching its vector,

    LB(x) = max_p |d(q, p) - d(x, p)|  <=  d(q, x)          (triangle inequality)

so an image whose lower bound already exceeds the range threshold, or the k-th distance found so far, can
never be an answer and is *pruned*. kNN visits the images in increasing lower bound and stops at the first
one whose bound exceeds the current k-th distance: every later one is pruned as well.

Pivots are chosen by farthest-first traversal (T. Gonzalez, "Clustering to minimize the maximum
intercluster distance", Theoretical Computer Science 38, 1985): the image farthest from the set's centroid,
then repeatedly the image farthest from all pivots chosen so far. The choice is incremental, so the first
p pivots of a longer selection are exactly the p-pivot selection: one stored table serves every p.

Metrics. Euclidean: the distance between the vectors the joins score. Cosine: on vectors scaled to unit
length the Euclidean distance is d_E = sqrt(2 - 2 cos), a decreasing function of the cosine, so a
similarity threshold (or the k-th similarity) is a distance threshold and the same bounds prune; the
cosine table is built on the unit-length vectors (an all-zero vector, whose cosine is 0 by convention, is
never pruned).

Query expansion. With a `qe` descriptor an image scores the better of the key's own score and its
expanded key's (simages.nearest.core.query_rows); its distance is then the smaller of two distances, so its
lower bound is the smaller of the two forms' bounds, and each computed score costs both distances (counts
here are of images).

Exactness. Bounds are compared with a margin that covers float32 rounding, so rounding can only cost a
little pruning, never an answer; the answer is then decided by the very scores and the very order that
brute force uses (`simages.nearest.joins.join`: score, then image name), so it is identical to the bit.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simages.nearest.core import predicates, scores
from simages.nearest.core.display import passes
from simages.nearest.core.query_rows import QueryRows, best_scores
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.wording import plural

SPACES = ("euclidean", "cosine")
# Relative size of the rounding margin on every bound comparison: float32 distances of 512 values are
# accurate to ~1e-6 of the vectors' lengths; 1e-4 of them (the band brute force uses for its own
# preselection, scores.D2_RELATIVE_SLACK) is safe by two orders of magnitude and costs almost no pruning.
_MARGIN = 1e-4
# Rows whose distances the kNN visit computes in its first numpy call (see PivotIndex._knn_visit).
_FIRST_BATCH = 32


def space_of(metric: str) -> str:
    """The metric space a query of `metric` is pruned in: the vectors themselves or their unit-length
    versions (the names coincide with the metrics)."""
    if metric not in SPACES:
        raise ValueError(f"unknown metric {metric!r}; choose {' or '.join(SPACES)}")
    return metric


def space_points(index: SetIndex, space: str) -> np.ndarray:
    """(n, d) float32 points of the set in `space`: the join vectors, or them scaled to unit length
    (zero rows stay zero). Remembered with the index."""
    if space == "euclidean":
        return index.vectors
    memo_key = ("pivot-space", space)
    points = index.memo.get(memo_key)
    if points is None:
        points = np.ascontiguousarray(index.vectors * index.inv_norms[:, None], dtype=np.float32)
        index.memo[memo_key] = points
    return points


@dataclass(frozen=True)
class PivotTable:
    """Pivots of one set in one space, in selection order, and the distances of every image to them."""

    space: str
    rows: np.ndarray  # (p,) int64: the pivots' rows in the set
    distances: np.ndarray  # (n, p) float32: d(image i, pivot j)
    # True when farthest-first ran out of distinct images: no selection can have more pivots than `rows`.
    exhausted: bool = False

    @property
    def count(self) -> int:
        return len(self.rows)

    def covers(self, count: int) -> bool:
        """Whether this table serves a request for `count` pivots (it has them, or there are no more)."""
        return self.count >= count or self.exhausted

    def first(self, count: int) -> PivotTable:
        """The table of the first `count` pivots (farthest-first is incremental, so this *is* the
        `count`-pivot selection)."""
        if count >= self.count:
            return self
        return PivotTable(self.space, self.rows[:count], np.ascontiguousarray(self.distances[:, :count]))


def _farthest(values: np.ndarray, name_rank: np.ndarray) -> int:
    """Row of the largest value; among equal values the first by image name, so the choice does not
    depend on the order rows happen to have in the store."""
    tied = np.flatnonzero(values == values.max())
    return int(tied[np.argmin(name_rank[tied])])


def select_pivots(
    points: np.ndarray, count: int, name_rank: np.ndarray, space: str, start: PivotTable | None = None
) -> PivotTable:
    """Farthest-first traversal (Gonzalez 1985) of the rows of `points` (n, d): up to `count` pivots and
    their (n, count) distance table, continuing `start` when given. Stops early, with `exhausted` set, when
    every remaining image coincides with a pivot (another pivot would prune nothing)."""
    n = len(points)
    count = max(0, min(int(count), n))
    all_rows = np.arange(n)
    rows: list[int] = [] if start is None else [int(r) for r in start.rows]
    columns: list[np.ndarray] = [] if start is None else list(start.distances.T.astype(np.float32))
    if start is not None and start.exhausted:
        return start
    if not rows and count:
        centroid = points.mean(axis=0, dtype=np.float64).astype(np.float32)
        first = _farthest(scores.exact_distances(points, all_rows, centroid), name_rank)
        rows.append(first)
        columns.append(scores.exact_distances(points, all_rows, points[first]))
    exhausted = False
    if rows:
        nearest_pivot = np.min(np.stack(columns, axis=1), axis=1)
        while len(rows) < count:
            following = _farthest(nearest_pivot, name_rank)
            if nearest_pivot[following] <= 0.0:
                exhausted = True
                break
            column = scores.exact_distances(points, all_rows, points[following])
            rows.append(following)
            columns.append(column)
            np.minimum(nearest_pivot, column, out=nearest_pivot)
        exhausted = exhausted or len(rows) == n
    table = np.stack(columns, axis=1) if columns else np.zeros((n, 0), np.float32)
    pivot_rows = np.array(rows, dtype=np.int64)
    return PivotTable(space, pivot_rows, np.ascontiguousarray(table, np.float32), exhausted)


@dataclass(frozen=True)
class PivotSearch:
    """One query answered through the pivot table, with what the class needs to see how.

    `rows`/`values`: the answer, best first, exactly as brute force gives it (values are cosine
    similarities or Euclidean distances). `computed`: real distances computed (one per pivot, one per
    image that was not pruned). `pruned`: images searched (the excluded row is not) whose distance was
    never computed; computed + pruned is the number of images searched. `pivots`: pivots used (an
    excluded row that is a pivot does not serve: like brute force, the search leaves it out entirely).
 `lower_bounds`: LB(x) per row of the set in the pruning space (+inf for
    the excluded row, -inf for a row that can never be pruned). `verified`: rows whose true score was
    computed. `cutoff`: the final bound in the pruning space (the k-th distance or the range threshold,
    without the rounding margin); rows with a lower bound above it were pruned.
    """

    rows: np.ndarray
    values: np.ndarray
    passed: int
    computed: int
    pruned: int
    pivots: int
    lower_bounds: np.ndarray
    verified: np.ndarray
    cutoff: float


def cosine_to_distance(similarity: float | np.ndarray) -> float | np.ndarray:
    """d_E = sqrt(2 - 2 cos) between unit-length vectors (clipped at 0 for rounding)."""
    return np.sqrt(np.maximum(0.0, 2.0 - 2.0 * np.asarray(similarity, dtype=np.float64)))


class PivotIndex:
    """A set with a pivot table in the space of one metric; `search` answers one query exactly.

    Build it with `simages.nearest.pivots.store.pivot_index` (which keeps the table beside the store) or,
    for data that is not a stored set, directly from a table made by `select_pivots`.
    """

    def __init__(self, index: SetIndex, table: PivotTable) -> None:
        if table.distances.shape != (len(index), table.count):
            raise ValueError(
                f"pivot table of shape {table.distances.shape} does not fit set {index.set_name!r} "
                f"of {plural(len(index), 'image')}"
            )
        self.index = index
        self.table = table
        self.space = table.space
        self.points = space_points(index, table.space)
        norms = scores.norms(self.points)
        self._max_norm = float(norms.max()) if len(norms) else 0.0
        # Cosine is only a function of d_E for unit-length vectors: zero rows are always verified.
        self._unprunable = index.inv_norms == 0 if table.space == "cosine" else np.zeros(len(index), bool)

    @property
    def pivots(self) -> int:
        return self.table.count

    def _exact(self, rows: np.ndarray, query: QueryRows, cosine: bool) -> np.ndarray:
        """The scores brute force computes for these rows: the same functions on the same forms of the
        key, the better of them kept (simages.nearest.core.decide), so the same bits."""
        vectors, inv_norms = self.index.vectors, self.index.inv_norms
        if cosine:
            return best_scores(query, lambda q: scores.exact_cosines(vectors, inv_norms, rows, q[0]), True)
        return best_scores(query, lambda q: scores.exact_distances(vectors, rows, q[0]), False)

    def _lower_bounds(self, forms: list[np.ndarray], cosine: bool, serving: np.ndarray) -> np.ndarray:
        """LB(x) for every row: for each form of the key, max over the serving pivots of
        |d(form, p) - d(x, p)|; with two forms (query expansion) the smaller of the two bounds, since an
        image's score is the better of its two distances."""
        n = len(self.index)
        pivot_rows = self.table.rows[serving]
        table = self.table.distances if serving.all() else self.table.distances[:, serving]
        lower = np.full(n, np.inf)
        for form in forms:
            point = form
            if cosine:
                norm = float(scores.norms(form[None, :])[0])
                if norm == 0:  # every cosine with a zero key is 0: nothing can be ruled out
                    return np.full(n, -np.inf)
                point = form / norm
            if not len(pivot_rows):
                return np.zeros(n)
            to_pivots = scores.exact_distances(self.points, pivot_rows, point)
            np.minimum(lower, np.abs(table - to_pivots[None, :]).max(axis=1), out=lower)
        lower[self._unprunable] = -np.inf
        return lower

    def search(self, query: QueryRows | np.ndarray, spec: QuerySpec, exclude_row: int = -1) -> PivotSearch:
        """Answer `spec` for one key already in the set's join space: QueryRows of one row (the key and,
        with query expansion, its expanded form: SetIndex.key_query), or a bare vector (d,) for a key
        without expansion. `exclude_row` (-1: none) is never answered. ValueError when the metric does not
        match the table's space."""
        cosine = spec.metric == "cosine"
        if space_of(spec.metric) != self.space:
            raise ValueError(f"this pivot table prunes {plural(self.space, 'query')}, not {spec.metric} ones")
        index, n = self.index, len(self.index)
        if not isinstance(query, QueryRows):
            query = QueryRows(scores.as_float32_rows(query))
        forms = [np.ascontiguousarray(form[0], dtype=np.float32) for form in query.forms()]
        if cosine:
            scale = 2.0
        else:
            scale = max(float(scores.norms(form[None, :])[0]) for form in forms) + self._max_norm
        margin = _MARGIN * scale + 1e-12

        serving = self.table.rows != exclude_row
        pivot_rows = self.table.rows[serving]
        lower = self._lower_bounds(forms, cosine, serving)
        if 0 <= exclude_row < n:
            lower[exclude_row] = np.inf

        verified = np.zeros(n, dtype=bool)
        verified[pivot_rows] = True
        pivot_values = self._exact(pivot_rows, query, cosine)
        known_rows = [pivot_rows]
        known_values = [pivot_values]
        rest = np.flatnonzero(~verified)
        rest = rest[rest != exclude_row]

        def as_distance(values: np.ndarray) -> np.ndarray:
            # Cosine: the largest d_E the float32 cosine allows (a rounding band below it).
            if cosine:
                return cosine_to_distance(values.astype(np.float64) - scores.COSINE_SLACK)
            return values.astype(np.float64)

        if spec.predicate == "range":
            threshold = float(spec.param)
            cutoff = float(cosine_to_distance(threshold)) if cosine else threshold
            bound = float(as_distance(np.array([threshold]))[0]) + margin
            candidates = rest[lower[rest] <= bound]
            known_rows.append(candidates)
            known_values.append(self._exact(candidates, query, cosine))
            verified[candidates] = True
        else:
            k = int(spec.param)
            candidates, cutoff = self._knn_visit(rest, lower, k, query, cosine, margin, as_distance,
                                                 pivot_values, known_rows, known_values)
            verified[candidates] = True

        rows = np.concatenate(known_rows)
        values = np.concatenate(known_values).astype(np.float32)
        if spec.predicate == "range":
            inside = passes(values, spec.param, spec.metric)
            rows, values = rows[inside], values[inside]
        perm = predicates.order(-values if cosine else values, index.name_rank[rows])
        if spec.predicate == "knn":
            perm = perm[: int(spec.param)]
        if spec.predicate == "knn" and len(perm) == int(spec.param) and len(perm):
            last = float(values[perm[-1]])
            cutoff = float(cosine_to_distance(last)) if cosine else last
        computed = int(verified.sum())
        pruned = n - (1 if 0 <= exclude_row < n else 0) - computed
        return PivotSearch(rows[perm], values[perm], len(perm), computed, pruned, len(pivot_rows), lower,
                           verified, cutoff)

    def _knn_visit(
        self,
        rest: np.ndarray,
        lower: np.ndarray,
        k: int,
        query: QueryRows,
        cosine: bool,
        margin: float,
        as_distance: Callable[[np.ndarray], np.ndarray],
        pivot_values: np.ndarray,
        known_rows: list[np.ndarray],
        known_values: list[np.ndarray],
    ) -> tuple[np.ndarray, float]:
        """Visit `rest` in increasing lower bound (ties by name) and stop at the first bound above the k-th
        distance so far plus the margin; returns the visited rows and the bound where it stopped.

        One numpy call per image would make a Python step of each, so distances are computed for a batch
        of the next rows at once, and the one-at-a-time rule is then replayed over the batch (cheap: plain
        floats): the visit ends exactly where LAESA ends it, the rows after the stop are dropped unused and
        not counted, so `computed` is the algorithm's count whatever the batch size. Batches start at
        _FIRST_BATCH rows and double while the visit goes on, so a search that prunes well wastes little and
        one that prunes nothing takes few numpy calls."""
        name_rank = self.index.name_rank
        order = rest[np.lexsort((name_rank[rest], lower[rest]))]
        bounds = lower[order]
        # A max-heap (negated) of the k smallest distances known so far.
        heap = [-d for d in np.sort(as_distance(pivot_values))[:k].tolist()]
        heapq.heapify(heap)
        visited, total, size = 0, len(order), _FIRST_BATCH
        while visited < total:
            batch = order[visited : visited + size]
            values = self._exact(batch, query, cosine)
            accepted = len(batch)
            for j, (bound, distance) in enumerate(zip(bounds[visited : visited + size].tolist(),
                                                      as_distance(values).tolist(), strict=True)):
                if len(heap) >= k and bound > -heap[0] + margin:
                    accepted = j
                    break
                if len(heap) < k:
                    heapq.heappush(heap, -distance)
                elif distance < -heap[0]:
                    heapq.heapreplace(heap, -distance)
            known_rows.append(batch[:accepted])
            known_values.append(values[:accepted])
            visited += accepted
            if accepted < len(batch):
                break
            size *= 2
        stop = float(bounds[visited]) if visited < total else math.inf
        return order[:visited], stop
