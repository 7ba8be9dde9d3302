"""What a query cost: distances computed out of those brute force computes, pivots used, time.

`IndexChoice` is how a user names the way a query is answered (`brute`, `pivots`, `pivots:64`);
`explained_key_join` and `explained_set_join` answer with it and return the answer (identical either way)
together with its `QueryCost`. Brute force computes one distance per image of the searched set, so it
reports computed = total. Query expansion (a `qe` descriptor) first finds the key's nearest images by
brute force; those distances are counted apart (`expansion`), since the index does not take part in them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.results import KeyResult, Match
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import _matches, block_rows_for, is_self_join, iter_set_join, key_join
from simages.nearest.pivots.store import check_pivot_count, default_pivot_count, pivot_index
from simages.settings import Settings
from simages.wording import plural

INDEX_KINDS = ("default", "brute", "pivots")


@dataclass(frozen=True)
class IndexChoice:
    """How a query is answered: the default search (exact brute force, or an approximate index on a very
    large set: simages.nearest.ann.search), brute force always, or a pivot table of `pivots` pivots."""

    kind: str = "default"
    # None: the set's default (pivot_store.default_pivot_count, about sqrt(n), at most 32).
    pivots: int | None = None

    def pivot_count(self, images: int) -> int:
        """The pivots to use on a set of `images` images."""
        return self.pivots if self.pivots is not None else default_pivot_count(images)

    @classmethod
    def parse(cls, text: str) -> IndexChoice:
        """`brute`, `pivots` or `pivots:P`; ValueError with a message naming the accepted forms."""
        kind, _, count = str(text).strip().lower().partition(":")
        if kind == "brute" and not count:
            return cls("brute")
        if kind == "pivots":
            if not count:
                return cls("pivots")
            try:
                return cls("pivots", check_pivot_count(int(count)))
            except ValueError as error:
                raise ValueError(f"--index pivots:P: {error}") from None
        raise ValueError(
            f"unknown index {text!r}; choose brute, pivots or pivots:P (P pivots, e.g. pivots:32)"
        )

    def describe(self) -> str:
        if self.kind == "pivots":
            count = (plural(self.pivots, "pivot") if self.pivots is not None
                     else "about sqrt(n) pivots, at most 32")
            return f"pivot table ({count})"
        return "brute force" if self.kind == "brute" else "the default search"


@dataclass
class QueryCost:
    """Distances computed by one query (or summed over the keys of a join).

    computed: real distances the search computed (brute force: one per image searched; pivots: one per
    pivot and one per image not pruned). total: images searched (the key itself, when it belongs to the
    set, is not), summed over the keys of a join. pivots: pivots used per key (0 for brute force).
    ms: wall time of the whole query, expansion included. expansion: distances computed beforehand by
    query expansion (brute force). pruned: images ruled out without computing their distance.
    approximate: the ANN method when an approximate index answered (the default search on a very large
    set); it does not count its distances, so computed is None then."""

    computed: int | None
    total: int
    pivots: int
    ms: float
    expansion: int = 0
    approximate: str = ""

    @property
    def pruned(self) -> int | None:
        return None if self.computed is None else self.total - self.computed

    def share(self) -> float:
        """computed / total (1.0 for an empty set: nothing was saved; nan when not counted)."""
        if self.computed is None:
            return float("nan")
        return self.computed / self.total if self.total else 1.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"computed": self.computed, "total": self.total, "pivots": self.pivots,
                               "ms": round(self.ms, 3), "pruned": self.pruned, "expansion": self.expansion}
        if self.approximate:
            out["approximate"] = self.approximate
        return out

    def describe(self) -> str:
        """One line for people, e.g. `computed 123 of 1,000 distances (12.3%); 877 pruned by 32 pivots;
        4.1 ms`."""
        if self.computed is None:
            return (f"answered by the approximate {self.approximate} index, which does not count its "
                    f"distances ({plural(self.total, 'image')}; --index brute or pivots for a counted, exact "
                    f"search); {self.ms:.1f} ms")
        how = f"{self.pruned:,} pruned by {plural(self.pivots, 'pivot')}" if self.pivots else "brute force"
        text = (f"computed {self.computed:,} of {plural(self.total, 'distance')} "
                f"({100 * self.share():.1f}%); {how}")
        if self.expansion:
            text += f"; query expansion computed {self.expansion:,} more by brute force"
        return f"{text}; {self.ms:.1f} ms"


def explained_key_join(
    index: SetIndex,
    key_vector: np.ndarray,
    spec: QuerySpec,
    choice: IndexChoice,
    *,
    key: str = "",
    exclude: str | None = None,
    limit: int | None = None,
    settings: Settings | None = None,
    exact: bool = False,
) -> tuple[KeyResult, QueryCost]:
    """`simages.nearest.joins.join.key_join` answered by `choice`, and its cost. The answer is the same for
    every choice (a pivot table prunes, it never approximates). `settings` lets a pivot table be kept in
    features/.pivots (see pivot_store). `exact` is key_join's, for the default search (brute force and
    pivots are exact anyway); when an approximate index answers, the cost says so and counts nothing."""
    expansion = len(index) if index.expansion_for(spec.expand) else 0
    started = time.perf_counter()
    if choice.kind != "pivots":
        result = key_join(index, key_vector, spec, key=key, exclude=exclude, limit=limit,
                          exact=exact or choice.kind == "brute")
        ms = 1000 * (time.perf_counter() - started)
        if result.search != "exact":
            return result, QueryCost(None, result.total, 0, ms, expansion, result.search)
        return result, QueryCost(result.total, result.total, 0, ms, expansion)
    pivots = pivot_index(index, spec.metric, choice.pivot_count(len(index)), settings)
    started = time.perf_counter()  # a table built or loaded now is paid once per set, not per query
    query, own_row = index.key_query(key_vector, spec.metric, exclude, expand=spec.expand)
    found = pivots.search(query, spec, own_row)
    ms = 1000 * (time.perf_counter() - started)
    result = KeyResult(
        key=key,
        set=index.set_name,
        metric=spec.metric,
        predicate=spec.predicate,
        param=spec.param,
        matches=_matches(index, found.rows, found.values, limit),
        passed=found.passed if spec.predicate == "range" else None,
        total=len(index) - (1 if own_row >= 0 else 0),
        expansion=index.expansion_for(spec.expand),
    )
    return result, QueryCost(found.computed, result.total, found.pivots, ms, expansion)


@dataclass
class JoinCost:
    """The running cost of a set join; `cost` is complete once the join's iterator is exhausted."""

    cost: QueryCost = field(default_factory=lambda: QueryCost(0, 0, 0, 0.0))


def explained_set_join(
    a: SetIndex,
    b: SetIndex,
    spec: QuerySpec,
    choice: IndexChoice,
    *,
    limit: int | None = None,
    settings: Settings | None = None,
) -> tuple[Iterator[tuple[str, list[Match]]], JoinCost]:
    """`simages.nearest.joins.join.iter_set_join` answered by `choice` (with pivots: a pivot-filtered
    nested-loop join, one pivot search in B per image of A), and a JoinCost that adds up as it runs."""
    tally = JoinCost()
    if choice.kind != "pivots":  # set joins are exact: the default is brute force
        return _timed(iter_set_join(a, b, spec, limit=limit), tally, a, b, spec), tally
    return _pivot_join(a, b, spec, choice, limit, settings, tally), tally


def _timed(
    groups: Iterator[tuple[str, list[Match]]], tally: JoinCost, a: SetIndex, b: SetIndex, spec: QuerySpec
) -> Iterator[tuple[str, list[Match]]]:
    per_key = len(b) - (1 if is_self_join(a, b) else 0)
    expansion = len(b) if b.expansion_for(spec.expand) else 0
    elapsed = 0.0
    started = time.perf_counter()
    for a_image, matches in groups:
        elapsed += time.perf_counter() - started
        cost = tally.cost
        tally.cost = QueryCost(cost.computed + per_key, cost.total + per_key, 0, 1000 * elapsed,
                               cost.expansion + expansion)
        yield a_image, matches
        started = time.perf_counter()


def _pivot_join(
    a: SetIndex,
    b: SetIndex,
    spec: QuerySpec,
    choice: IndexChoice,
    limit: int | None,
    settings: Settings | None,
    tally: JoinCost,
) -> Iterator[tuple[str, list[Match]]]:
    if a.dimension != b.dimension and len(a) and len(b):
        raise ValueError(
            f"sets {a.set_name!r} ({a.dimension}-d) and {b.set_name!r} ({b.dimension}-d) hold different "
            "descriptors; index both with the same descriptor"
        )
    pivots = pivot_index(b, spec.metric, choice.pivot_count(len(b)), settings)
    self_join = is_self_join(a, b)
    expansion = len(b) if b.expansion_for(spec.expand) else 0
    elapsed = 0.0
    # The same blocks and name order as iter_set_join: projections and expansions come out of matrix
    # products whose last bits depend on the block's shape, and the answers must match to the bit.
    a_order = np.argsort(a.name_rank)
    rows_per_block = block_rows_for(len(b))
    for start in range(0, len(a), rows_per_block):
        began = time.perf_counter()
        a_rows = a_order[start : start + rows_per_block]
        projected = a.vectors[a_rows] if self_join else b.project(a.raw[a_rows])
        queries = b.query_rows(projected, spec.metric, a_rows if self_join else None, expand=spec.expand)
        elapsed += time.perf_counter() - began
        for i, a_row in enumerate(a_rows.tolist()):
            began = time.perf_counter()
            found = pivots.search(queries.row(i), spec, a_row if self_join else -1)
            elapsed += time.perf_counter() - began
            cost = tally.cost
            searched = len(b) - (1 if self_join else 0)
            tally.cost = QueryCost(cost.computed + found.computed, cost.total + searched, found.pivots,
                                   1000 * elapsed, cost.expansion + expansion)
            yield a.names[a_row], _matches(b, found.rows, found.values, limit)
