"""Join: every image of set A against set B (itself, another set, or several) -- "which images of these
two sets match?", and, with the duplicates intent on A x A, "which images of this set are copies?".

The same join for the CLI (`simages join`), the app's join page (through `jobs.join_runner`) and its
downloads: the sets opened as the intent reads them and checked to share a descriptor, the predicate
(the intent's default filled in by the caller with `operations.query.query_spec`), and the search: a
duplicates self-join of a large set with a fresh ANN index goes through its kNN graph
(`nearest.duplicates.ann_graph`), anything else is exact (brute force, or a pivot table when asked).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from simages.nearest.ann import index as ann
from simages.nearest.core.intents import DEFAULT_INTENT, Intent, intent_named
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.results import Match
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import is_self_join
from simages.nearest.sets.cache import DescriptorCache
from simages.nearest.teaching.query_cost import IndexChoice, JoinCost, explained_set_join
from simages.operations.sets import open_join_sets
from simages.settings import Settings
from simages.training.registry import resolve_descriptor

Groups = Iterable[tuple[str, list[Match]]]
Progress = Callable[[int, int], None]

# What `JoinAnswer.search` names.
EXACT, ANN_GRAPH, PIVOTS = "exact", "ann-graph", "pivots"


@dataclass(frozen=True)
class JoinRequest:
    """A join: the images of set `a` against the sets `bs` (one, or several for "all other sets"), the sets
    read as the intent `intent` says (`similar` or `duplicates`, see nearest/core/intents.py)."""

    a: str
    bs: tuple[str, ...]
    spec: QuerySpec
    intent: str = DEFAULT_INTENT.name
    # A trained head (simages train) the sets are read with, similar intent only; None: as settings say.
    head: str | None = None


@dataclass(frozen=True)
class GraphSearch:
    """Whether a join goes through an ANN kNN graph: `index` and `searched` (the similar-images reading the
    index was built on) when it does; else `why_exact`, the reason a graph could not run ("" when the
    exact join is simply right: small set, kNN, `exact`, not a duplicates self-join)."""

    searched: SetIndex | None = None
    index: ann.AnnIndex | None = None
    why_exact: str = ""

    @property
    def used(self) -> bool:
        return self.index is not None


def graph_search(
    cache: DescriptorCache,
    settings: Settings,
    a: SetIndex,
    bs: list[SetIndex],
    spec: QuerySpec,
    intent: str,
    exact: bool = False,
) -> GraphSearch:
    """The "ANN graph or exact" choice of a join (see the module docstring)."""
    if intent != "duplicates" or len(bs) != 1 or not is_self_join(a, bs[0]):
        return GraphSearch()
    from simages.nearest.duplicates.ann_graph import graph_join_index

    found = graph_join_index(settings, a, spec, exact, cache=cache)
    if found is None:
        return GraphSearch()
    if isinstance(found, str):
        return GraphSearch(why_exact=found)
    searched, index = found
    return GraphSearch(searched, index)


def graph_rows(
    a: SetIndex, graph: GraphSearch, spec: QuerySpec, progress: Progress | None = None
) -> Iterator[tuple[str, list[Match]]]:
    """The join's rows through the graph (lazy: the graph is computed before the first row); `progress`
    is called with (images done, images) while it is."""
    from simages.nearest.duplicates.ann_graph import iter_graph_join

    assert graph.searched is not None and graph.index is not None
    return iter_graph_join(a, graph.searched, graph.index, spec, progress=progress)


def graph_note() -> str:
    """The sentence saying a join's pairs came through the ANN kNN graph."""
    from simages.nearest.duplicates.ann_graph import GRAPH_K

    return (f" Pairs found through the set's ANN index: each image's {GRAPH_K} nearest images, then the "
            "threshold (a pair outside them can be missed; `simages join --exact` compares every pair).")


@dataclass
class JoinAnswer:
    """A join under way: its sets, the predicate and intent used, the search used (`search`: exact,
    ann-graph or pivots; `search_note`: why an exact join ran where a graph could have), and its rows.
    `groups`: A's images with their matches in the one set B (lazy; None for several sets B, whose rows
    `nearest.joins.multi.iter_multi_join` merges). `tally`: the running cost (None through the graph)."""

    a: SetIndex
    bs: list[SetIndex]
    spec: QuerySpec
    intent: Intent
    groups: Groups | None
    search: str = EXACT
    search_note: str = ""
    tally: JoinCost | None = None


def open_sets(
    request: JoinRequest, settings: Settings, cache: DescriptorCache, apply_chosen: bool = True
) -> tuple[SetIndex, list[SetIndex]]:
    """The request's sets, as `operations.sets.open_join_sets` reads them; with `request.head` (the
    similar intent) both read with that trained head (HeadError, DescriptorMismatch: ValueErrors)."""
    intent = intent_named(request.intent)
    if request.head and intent.keeps_learned_parts:
        head = resolve_descriptor(f"head:{request.head}", settings.features)
        settings = settings.with_(descriptor=head, descriptor_chosen=True)
        apply_chosen = True
    return open_join_sets(cache, settings, request.a, request.bs, intent, apply_chosen=apply_chosen)


def run_set_join(
    request: JoinRequest,
    settings: Settings,
    cache: DescriptorCache,
    *,
    index: IndexChoice | None = None,
    exact: bool = False,
    sets: tuple[SetIndex, list[SetIndex]] | None = None,
    progress: Progress | None = None,
) -> JoinAnswer:
    """Start a join (its rows are computed as they are read). `sets`: the request's sets already opened
    (`open_sets`). ValueError for --index with several sets B; the errors of `open_sets`."""
    intent = intent_named(request.intent)
    choice = index or IndexChoice()
    a, bs = sets if sets is not None else open_sets(request, settings, cache)
    spec = request.spec
    if len(bs) > 1:
        if choice.kind != "default":
            raise ValueError("--index and --explain take one set B")
        return JoinAnswer(a, bs, spec, intent, None)
    b = bs[0]
    if choice.kind == "default":
        graph = graph_search(cache, settings, a, bs, spec, request.intent, exact)
        if graph.used:
            return JoinAnswer(a, bs, spec, intent, graph_rows(a, graph, spec, progress), ANN_GRAPH)
        note = graph.why_exact
    else:
        note = ""
    groups, tally = explained_set_join(a, b, spec, choice, settings=settings)
    return JoinAnswer(a, bs, spec, intent, groups, PIVOTS if choice.kind == "pivots" else EXACT, note, tally)
