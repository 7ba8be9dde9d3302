"""The results page (`/similar`) apart from drawing: one tab's state, the search it runs through
`operations.query` (the request and answer `simages query` uses, so the page and the CLI cannot disagree),
and the small decisions its widgets show."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simages.copies.changes import ImageFacts, turn_words
from simages.copies.levels import LevelThresholds
from simages.gui.context import GuiContext
from simages.gui.state.sets import key_threshold_for, load_index, status_of
from simages.gui.state.teaching import TeachingMemory
from simages.gui.urls.query import QueryState, results_url
from simages.nearest.core.distribution import (
    ScoreDistribution,
    key_distribution,
    key_threshold,
    turned_key_distribution,
)
from simages.nearest.core.intents import DUPLICATES, SIMILAR
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.results import KeyResult
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import duplicate_threshold, level_thresholds
from simages.nearest.teaching.views import UNSCALED, unscaled_index
from simages.operations.compare import Setting
from simages.operations.query import QueryAnswer, QueryRequest, StoredKey, VectorKey, run_query
from simages.store.npz_store import StoreError
from simages.wording import plural

# Listed results at most; a range query still reports how many passed in total.
RESULT_LIMIT = 200

STALE_TEXT = ("The settings were changed: the results below are still for the previous ones. Search again "
              "(or press Enter) to apply them.")


@dataclass
class ResultsTab:
    """One browser tab's results page between events, made by the page builder for that tab (never
    shared): the query listed -- the page's URL -- and what the teaching panel keeps across searches."""

    listed: QueryState
    teaching: TeachingMemory = field(default_factory=TeachingMemory)


@dataclass(frozen=True)
class Waiting:
    """A set the search needs is not indexed yet: the page waits for it."""

    set_name: str


@dataclass(frozen=True)
class Problem:
    """The search cannot run; `message` says why, for the user."""

    message: str


@dataclass(frozen=True)
class Answered:
    """A search that ran: the answer of `operations.query`, the set as searched (its teaching view
    applied), the key's raw descriptor and the image left out, the key's scores against the whole set
    (the histogram), each result's level thresholds for the duplicates question (else None), and the
    level thresholds the histogram marks (the duplicates question in its own space, else None)."""

    query: QueryState
    answer: QueryAnswer
    index: SetIndex
    vector: np.ndarray
    exclude: str | None
    distribution: ScoreDistribution
    levels: LevelThresholds | None
    histogram_levels: LevelThresholds | None = None

    @property
    def result(self) -> KeyResult:
        return self.answer.result

    @property
    def spec(self) -> QuerySpec:
        return self.answer.spec

    @property
    def kth(self) -> float | None:
        """The k-th best score of a kNN answer (where the histogram draws its line), else None."""
        if self.spec.predicate == "knn" and self.result.matches:
            return self.result.matches[-1].score
        return None


Outcome = Answered | Waiting | Problem


def resolve_key(ctx: GuiContext, query: QueryState) -> np.ndarray | Waiting | Problem:
    """The key's raw descriptor; Waiting while its set is being indexed; Problem when it never will be
    (the upload is gone, the set failed, the image could not be read)."""
    if query.upload is not None:
        item = ctx.uploads.get(query.upload)
        return item.vector if item is not None else Problem("the uploaded image is no longer available")
    assert query.key_set is not None and query.image is not None
    index = load_index(ctx, query.key_set, query.intent)
    if index is None or query.image not in index:
        status = status_of(ctx, query.key_set)
        if status is not None and status.state == "failed":
            return Problem(f"the set {query.key_set} could not be indexed: {status.message}")
        unreadable = getattr(status, "unreadable", None) or {}
        if query.image in unreadable:
            return Problem(f"the key image could not be read: {unreadable[query.image]}")
        return Waiting(query.key_set)
    return index.raw_vector(query.image)


def excluded(query: QueryState) -> str | None:
    """The image of the searched set to leave out: the key itself, when it is one of the set's images."""
    return query.image if query.upload is None and query.key_set == query.join_set else None


def head_of(query: QueryState) -> str | None:
    """The trained head the search reads the set with: only the similar question has one."""
    return query.head if query.intent == SIMILAR.name else None


def in_duplicates_space(query: QueryState) -> bool:
    """Whether the scores are the duplicates question's own (not a teaching view of them): they then have
    a duplicate threshold, levels on the histogram and a calibration to show."""
    return query.intent == DUPLICATES.name and query.view != UNSCALED


def default_threshold(query: QueryState, index: SetIndex, vector: np.ndarray) -> float:
    """What an empty range parameter stands for: the set's duplicate threshold for the duplicates question
    (a key with no copy in the set must find none), else the key's own top 1% (key_threshold)."""
    if in_duplicates_space(query):
        return duplicate_threshold(query.metric, index)
    return key_threshold(index, vector, query.metric, excluded(query), expand=query.expand)


def request_for(ctx: GuiContext, query: QueryState, spec: QuerySpec) -> QueryRequest:
    """The operations.query request of this page's query, its predicate resolved (`spec`, the page's
    defaults filled in): the upload's descriptor or the named image, at most RESULT_LIMIT listed, each
    set read with its own descriptor, as the app's joins read them."""
    if query.upload is not None:
        item = ctx.uploads.get(query.upload)
        if item is None:
            raise LookupError("the uploaded image is no longer available")
        # Turned and mirrored too (a duplicates search tries the turns and says what changed), with the
        # facts of the uploaded file (simages.copies.changes).
        facts = None if item.width is None or item.height is None else ImageFacts(
            item.width, item.height, item.format, item.size_bytes or 0, None, item.sha256, item.thumbnail)
        key: StoredKey | VectorKey = VectorKey(item.filename, item.vector, item.oriented, facts)
    else:
        assert query.key_set is not None and query.image is not None
        key = StoredKey(query.key_set, query.image)
    knn = str(spec.param) if spec.predicate == "knn" else None
    threshold = repr(float(spec.param)) if spec.predicate == "range" else None
    return QueryRequest(key, query.join_set, metric=query.metric, knn=knn, range_threshold=threshold,
                        expand=query.expand, intent=query.intent, limit=RESULT_LIMIT, exact=query.exact,
                        head=head_of(query), view=query.view, apply_chosen=False)


def search(ctx: GuiContext, query: QueryState) -> Outcome:
    """Run the page's query: Waiting while a set is being indexed, Problem (with why) when it cannot run,
    else Answered."""
    vector = resolve_key(ctx, query)
    try:
        index = load_index(ctx, query.join_set, query.intent, head_of(query))
    except ValueError as error:  # no such trained head, or one trained on other stored vectors
        return Problem(str(error))
    if index is not None and query.view == UNSCALED:
        index = unscaled_index(index)
    if isinstance(vector, Problem):
        return vector
    if isinstance(vector, Waiting) or index is None:
        return vector if isinstance(vector, Waiting) else Waiting(query.join_set)
    try:
        spec = query.spec(default_threshold(query, index, vector))
        answer = run_query(request_for(ctx, query, spec), ctx.settings, ctx.descriptors)
        turned = turned_key(ctx, query)
        if turned is not None:  # each image's score as listed: its best over the key's turns
            distribution = turned_key_distribution(index, turned, query.metric, exclude=excluded(query),
                                                   expand=spec.expand)
        else:
            distribution = key_distribution(index, vector, query.metric, exclude=excluded(query),
                                            expand=spec.expand)
    except (ValueError, LookupError, StoreError) as error:  # a bad parameter, descriptors that differ
        return Problem(str(error))
    marked = level_thresholds(index) if in_duplicates_space(query) else None
    return Answered(query, answer, index, vector, excluded(query), distribution, levels_of(ctx, query),
                    marked)


def turned_key(ctx: GuiContext, query: QueryState) -> np.ndarray | None:
    """The uploaded key described turned (t, d) when the duplicates question searches its turns
    (operations.query: an upload's `oriented` descriptors), else None."""
    from simages.copies.turns import TURNS

    if query.upload is None or not in_duplicates_space(query):
        return None
    item = ctx.uploads.get(query.upload)
    if item is None or item.oriented is None:
        return None
    return np.asarray(item.oriented[: len(TURNS)], dtype=np.float32)


def levels_of(ctx: GuiContext, query: QueryState) -> LevelThresholds | None:
    """The level thresholds of the duplicates question's scores (each result shows its level), else None."""
    if query.intent != DUPLICATES.name:
        return None
    try:
        return level_thresholds(ctx.descriptors.get(ctx.settings, query.join_set, DUPLICATES))
    except (LookupError, ValueError, OSError):
        return None


def copies_turned(answered: Answered) -> dict[str, int]:
    """The copies (exact or edited level: those with a "what changed") found with the key turned, and the
    turn (degrees); a look-alike found turned is not said to be a turned copy."""
    changes = answered.answer.changes
    return {image: turn for image, turn in answered.answer.turns.items() if image in changes}


def turned_sentence(turns: dict[str, int]) -> str:
    """"The key is 1 photo below turned 90° clockwise (shown as stored)." for the turns of copies (the key
    turned `turn` degrees counter-clockwise matched the copy: the key is the copy turned clockwise)."""
    by_turn: dict[int, int] = {}
    for turn in turns.values():
        by_turn[turn] = by_turn.get(turn, 0) + 1
    said = "; ".join(f"the key is {'each of ' if count > 1 else ''}{plural(count, 'photo')} below "
                     f"{turn_words(turn)}" for turn, count in sorted(by_turn.items()))
    return f"{said[0].upper()}{said[1:]} (shown as stored)."


def suggested_threshold(
    ctx: GuiContext, listed: QueryState, searched: str | None, view: str, intent: str, head: str | None,
    metric: str, expand: bool,
) -> float | None:
    """The range threshold the settings panel proposes for the listed key in the set `searched`, read as
    the panel shows it now (view, intent, head): the key's own top 1%, the duplicate threshold for the
    duplicates question; None when it cannot be known yet."""
    vector = resolve_key(ctx, listed)
    exclude = listed.image if listed.upload is None and listed.key_set == searched else None
    if view == UNSCALED:
        index = load_index(ctx, searched, intent) if searched else None
        if index is None or not isinstance(vector, np.ndarray):
            return None
        return key_threshold(unscaled_index(index), vector, metric, exclude, expand=False)
    return key_threshold_for(ctx, searched, vector, exclude, metric, expand, intent=intent, head=head)


@dataclass(frozen=True)
class PanelChoice:
    """What the settings panel shows now. `settings_shown`: its metric, predicate, parameter and expansion
    are the listed query's (QueryControls.shows, defaults included); `head` is None without a head picker
    (no trained head: nothing to compare)."""

    join_set: str | None
    settings_shown: bool
    exact: bool
    intent: str | None
    view: str
    head: str | None
    has_head_picker: bool


def is_stale(listed: QueryState, panel: PanelChoice) -> bool:
    """Whether the results on screen no longer match the panel (they are dimmed and say so)."""
    same = (panel.join_set == listed.join_set and panel.settings_shown and panel.exact == listed.exact
            and panel.intent == listed.intent and panel.view == listed.view)
    return not (same and (not panel.has_head_picker or panel.head == listed.head))


def next_page(listed: QueryState, pending: QueryState) -> str | None:
    """Where "Search again" goes: None to search the listed query again in place, else the new query's
    URL (a page and a history entry per query, so Back returns to the one before as it was)."""
    return None if pending == listed else results_url(pending)


def no_duplicate_found(query: QueryState, result: KeyResult) -> bool:
    """Whether an empty answer means "no copy of this photo in the set" (the duplicates question's range),
    rather than "no image passes this query"."""
    return not result.matches and query.intent == DUPLICATES.name and result.predicate == "range"


def atlas_link_text(query: QueryState) -> str:
    """The atlas link's words: with the key on the map when the key is an image of the searched set."""
    return "Show the key and its answers on the atlas" if excluded(query) else "Show this set on the atlas"


def side_by_side_settings(query: QueryState) -> tuple[Setting, Setting] | None:
    """The classic demonstration, cosine against Euclidean under the teaching descriptor where they really
    differ (the same k; a threshold means something else in each, so the default); None for an upload."""
    if query.upload is not None or not query.key_set or not query.image:
        return None
    param = query.param.strip() if query.predicate == "knn" else ""
    return Setting("cosine", query.predicate, param, UNSCALED), Setting("euclidean", query.predicate, param,
                                                                         UNSCALED)
