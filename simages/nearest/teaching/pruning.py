"""What a pivot table did for one query, image by image: the data behind the teaching panel.

For the current key and query, in the searched space or in a PCA view of another dimension (see
nearest.teaching.reduced), the same query is answered by brute force and through a pivot table; for each
image the picture keeps its true distance to the key, the lower bound the pivots gave it, and what
happened to it: a pivot, an answer, computed but not an answer, or pruned (ruled out by the triangle
inequality without computing its distance). Distances are Euclidean; for cosine, between unit-length
vectors, d = sqrt(2 - 2 cos).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simages.nearest.core import scores
from simages.nearest.core.query_rows import best_scores
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.results import KeyResult
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import is_self_join
from simages.nearest.pivots.store import pivot_index
from simages.nearest.pivots.table import cosine_to_distance, space_of, space_points
from simages.nearest.teaching.intrinsic_dim import IntrinsicDimensionality, intrinsic_dimensionality
from simages.nearest.teaching.query_cost import IndexChoice, QueryCost, explained_key_join
from simages.nearest.teaching.reduced import carried_threshold, pair_share, reduced_index
from simages.settings import Settings
from simages.wording import plural

STATUSES = ("pivot", "answer", "computed", "pruned")
# Points drawn at most: an ECharts scatter of a few thousand points stays smooth in a browser.
MAX_POINTS = 2000


@dataclass(frozen=True)
class PruningPicture:
    """One query seen twice (brute force, pivot table); per-image arrays cover `shown` images of the set
    (all but the key, or a reproducible sample of them with every pivot and answer kept)."""

    spec: QuerySpec  # the query answered in this view (its threshold may be the view's own, see `note`)
    dimension: int  # of the vectors compared
    as_searched: bool  # the searched space itself, not a PCA view
    brute: QueryCost
    pivot: QueryCost
    identical: bool  # both answers equal (always, unless something is badly wrong)
    true_distances: np.ndarray  # (shown,)
    lower_bounds: np.ndarray  # (shown,)
    status: np.ndarray  # (shown,) of STATUSES
    images: list[str]  # (shown,)
    cutoff: float  # the k-th distance or the threshold, as a distance (nan: none)
    images_total: int  # images the query searched (the key left out)
    rho: IntrinsicDimensionality
    note: str = ""

    @property
    def pruned(self) -> int:
        return self.pivot.pruned


# Each way is timed this many times and the fastest kept: one run on a busy machine can be 10x off.
_TIMED_RUNS = 3


def _fastest(
    view: SetIndex,
    key_vector: np.ndarray,
    spec: QuerySpec,
    choice: IndexChoice,
    exclude: str | None,
    settings: Settings | None,
) -> tuple[KeyResult, QueryCost]:
    runs = [explained_key_join(view, key_vector, spec, choice, exclude=exclude, settings=settings)
            for _ in range(_TIMED_RUNS)]
    return min(runs, key=lambda run: run[1].ms)


def explain_pruning(
    index: SetIndex,
    key_vector: np.ndarray,
    spec: QuerySpec,
    exclude: str | None,
    pivots: int,
    dimension: int | None = None,
    settings: Settings | None = None,
    max_points: int = MAX_POINTS,
) -> PruningPicture:
    """The picture for `spec` of a raw key against `index` with `pivots` pivots, in the searched space
    (`dimension` None) or in the PCA view of `dimension` dimensions (no query expansion there; a range
    query uses the threshold that the same share of the view's pairs pass as pass the query's threshold
    in the searched space, since a similarity means something else in another dimension). ValueError for
    a bad number of pivots or dimension."""
    note = ""
    view, view_spec = index, spec
    if dimension is not None:
        view = reduced_index(index, dimension)
        param = spec.param
        if spec.predicate == "range":
            share = pair_share(index, spec.metric, float(spec.param), expand=spec.expand)
            param = carried_threshold(view, spec.metric, share)
            note = (f"In {plural(view.vectors.shape[1], 'dimension')} a score means something else, "
                    "so this view "
                    f"uses {param:.3f}: as many of its pairs pass it ({100 * share:.2g}%) as pass "
                    f"{float(spec.param):g} in the searched space.")
        view_spec = QuerySpec(spec.metric, spec.predicate, param, expand=False)
    table_settings = settings if dimension is None else None
    pivot = pivot_index(view, spec.metric, pivots, table_settings)  # built before anything is timed
    brute, brute_cost = _fastest(view, key_vector, view_spec, IndexChoice("brute"), exclude, table_settings)
    found_result, pivot_cost = _fastest(view, key_vector, view_spec, IndexChoice("pivots", pivots), exclude,
                                        table_settings)
    query, own_row = view.key_query(key_vector, spec.metric, exclude, expand=view_spec.expand)
    found = pivot.search(query, view_spec, own_row)

    rows = np.arange(len(view))
    if spec.metric == "cosine":
        true = cosine_to_distance(best_scores(
            query, lambda q: scores.exact_cosines(view.vectors, view.inv_norms, rows, q[0]), True))
    else:
        true = best_scores(query, lambda q: scores.exact_distances(view.vectors, rows, q[0]), False)
        true = true.astype(np.float64)
    status = np.full(len(view), "pruned", dtype=object)
    status[found.verified] = "computed"
    status[pivot.table.rows] = "pivot"
    status[found.rows] = "answer"  # a pivot that is an answer is drawn as an answer
    keep = rows != own_row
    if keep.sum() > max_points:
        important = keep & (status != "computed") & (status != "pruned")
        rest = np.flatnonzero(keep & ~important)
        room = max(0, max_points - int(important.sum()))
        chosen = np.random.default_rng(0).choice(rest, min(room, len(rest)), replace=False)
        keep = important.copy()
        keep[chosen] = True
    shown = np.flatnonzero(keep)
    cutoff = found.cutoff if np.isfinite(found.cutoff) else float("nan")
    return PruningPicture(
        spec=view_spec,
        dimension=int(view.vectors.shape[1]),
        as_searched=dimension is None,
        brute=brute_cost,
        pivot=pivot_cost,
        identical=brute.matches == found_result.matches,
        true_distances=true[shown],
        lower_bounds=np.clip(found.lower_bounds[shown], 0.0, None),
        status=status[shown].astype(str),
        images=[view.names[r] for r in shown.tolist()],
        cutoff=cutoff,
        images_total=int(len(view) - (1 if own_row >= 0 else 0)),
        rho=intrinsic_dimensionality(space_points(view, space_of(spec.metric))),
        note=note,
    )


@dataclass(frozen=True)
class JoinCostEstimate:
    """A set join of A against B by brute force and as a pivot-filtered nested-loop join (one pivot search
    in B per key of A), summed over `keys` keys of A (all of them, or a reproducible sample)."""

    a_set: str
    b_set: str
    keys: int
    keys_total: int
    brute: QueryCost
    pivot: QueryCost
    identical: bool
    pivot_distances: int  # of pivot.computed: the distances from the keys to the pivots


# Keys of A measured at most: the share computed is a mean over keys, stable to a percent with 200.
JOIN_SAMPLE_KEYS = 200


def estimate_join_cost(
    a: SetIndex,
    b: SetIndex,
    spec: QuerySpec,
    pivots: int,
    settings: Settings | None = None,
    max_keys: int = JOIN_SAMPLE_KEYS,
) -> JoinCostEstimate:
    """Cost of joining A against B both ways, on every key of A or on `max_keys` drawn at random (fixed
    seed). A self-join leaves each key out of its own search, as the join does."""
    names = sorted(a.names)
    if len(names) > max_keys:
        rows = np.sort(np.random.default_rng(0).choice(len(names), max_keys, replace=False))
        names = [names[r] for r in rows.tolist()]
    self_join = is_self_join(a, b)
    brute = QueryCost(0, 0, 0, 0.0)
    pivot = QueryCost(0, 0, 0, 0.0)
    identical, to_pivots = True, 0
    for name in names:
        exclude = name if self_join else None
        expected, one = explained_key_join(b, a.raw_vector(name), spec, IndexChoice("brute"), exclude=exclude)
        got, other = explained_key_join(b, a.raw_vector(name), spec, IndexChoice("pivots", pivots),
                                        exclude=exclude, settings=settings)
        identical &= got.matches == expected.matches
        brute = QueryCost(brute.computed + one.computed, brute.total + one.total, 0, brute.ms + one.ms,
                          brute.expansion + one.expansion)
        pivot = QueryCost(pivot.computed + other.computed, pivot.total + other.total,
                          max(pivot.pivots, other.pivots), pivot.ms + other.ms,
                          pivot.expansion + other.expansion)
        to_pivots += other.pivots
    return JoinCostEstimate(a.set_name, b.set_name, len(names), len(a), brute, pivot, identical, to_pivots)
