"""The join page (`/join`) apart from drawing: one tab's state -- the join listed (the URL's), what it
resolved to, the background job and which of its outcomes is drawn -- and the decisions the page shows.
The join itself is resolved in gui/join/setup.py and run by operations.join in the background
(jobs/join_runner.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simages.copies.changes import FactsCache, changes_between
from simages.copies.changes import describe as describe_changes
from simages.copies.levels import LevelThresholds
from simages.copies.verification import Verification
from simages.gui.context import GuiContext
from simages.gui.join.setup import ResolvedJoin, load_for
from simages.gui.state.join_views import (
    GROUPS_PER_PAGE,
    KEYS_PER_PAGE,
    PAIRS_PER_PAGE,
    listed_keys,
    page_count,
)
from simages.gui.state.sets import DUPLICATES_NO_EXPANSION, Expansion, load_index, status_of
from simages.gui.state.teaching import TeachingMemory
from simages.gui.urls.join import JoinState, join_url
from simages.jobs.join_runner import JoinJob, JoinOutcome
from simages.nearest.core.intents import DEFAULT_INTENT, DUPLICATES, intent_named
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.duplicates.exact import level_thresholds
from simages.operations.join import JoinRequest
from simages.wording import plural

# The value of "all other sets" in the B picker: set names never contain '/', so it is never a set.
ALL_OTHERS = "/all-other-sets"
VIEW_LABELS = {"pairs": "Pairs", "knn": "Matches per image", "groups": "Groups"}


@dataclass
class JoinTab:
    """One browser tab's join page between events, made by the page builder for that tab (never shared):
    the join listed (the page's URL, its view and page included), what it resolved to (the parameter
    written out, the request run), the background job, the finished job last drawn (each is drawn once),
    and what the teaching panel keeps."""

    listed: JoinState
    resolved: ResolvedJoin | None = None
    job: JoinJob | None = None
    drawn: tuple[JoinJob, object] | None = None
    teaching: TeachingMemory = field(default_factory=TeachingMemory)

    def started(self, job: JoinJob) -> None:
        """A job now answers the listed join; its outcome is not drawn yet."""
        self.job, self.drawn = job, None

    def to_draw(self, job: JoinJob) -> bool:
        """Whether the finished `job` still has to be drawn: once per job, and once more when its outcome
        is replaced (a duplicates join whose keypoints were checked after its pairs were shown)."""
        outcome = getattr(job, "outcome", None)
        if self.drawn is not None and self.drawn[0] is job and self.drawn[1] is outcome:
            return False
        self.drawn = (job, outcome)
        return True


def groups_apply(state: JoinState) -> bool:
    """Groups mean something for self-joins and range joins (a kNN join links everything to something)."""
    return state.self_join or state.predicate == "range"


def b_of(value: str | None) -> str | None:
    """The set B a picker value names: None for "all other sets" (or nothing picked)."""
    return None if value == ALL_OTHERS else value


def b_value(state: JoinState, options: Mapping[str, str]) -> str | None:
    """The B picker's value for the listed join (None when the set is no longer offered)."""
    value = ALL_OTHERS if state.b is None else state.b
    return value if value in options else None


def picked(listed: JoinState, a: str | None, b: str | None, intent: str, head: str | None,
           has_head_picker: bool, **changes: Any) -> JoinState:
    """The join the pickers describe now (before it is applied): set A (the listed one while none is
    picked), the B picker's value, the intent and -- with a head picker -- the head, then `changes`."""
    chosen: dict[str, Any] = {"a": a or listed.a, "b": b_of(b), "intent": intent}
    if has_head_picker:
        chosen["head"] = head or None
    return listed.with_(**chosen | changes)


def applied(listed: JoinState, new: JoinState) -> tuple[JoinState, str | None]:
    """What "Join" does with the join `new` the panel describes: groups fall back to pairs where they do
    not apply; then None to run the listed join again in place, else the new join's URL (a page and a
    history entry per join, as on /similar)."""
    if new.view == "groups" and not groups_apply(new):
        new = new.with_(view="pairs")
    return new, None if new == listed else join_url(new)


def view_choices(state: JoinState) -> tuple[dict[str, str], str]:
    """The view toggle's options for a finished join and the one shown (groups only where they apply)."""
    if groups_apply(state):
        return dict(VIEW_LABELS), state.view
    return {k: v for k, v in VIEW_LABELS.items() if k != "groups"}, (
        "pairs" if state.view == "groups" else state.view)


@dataclass(frozen=True)
class ViewPage:
    """The page of the current view shown: `page` of `pages` (the listed page, kept within them)."""

    page: int
    pages: int


def view_page(state: JoinState, outcome: JoinOutcome, spec: QuerySpec) -> ViewPage:
    """How many pages the listed view has for this outcome, and which one is shown."""
    if state.view == "pairs":
        items, per_page = len(outcome.pairs.distinct), PAIRS_PER_PAGE
    elif state.view == "knn":
        items, per_page = len(listed_keys(outcome.pairs, spec)), KEYS_PER_PAGE
    else:
        items, per_page = len(outcome.groups), GROUPS_PER_PAGE
    pages = page_count(items, per_page)
    return ViewPage(min(state.page, pages), pages)


def join_levels(ctx: GuiContext, request: JoinRequest) -> LevelThresholds | None:
    """The duplicate level thresholds of a duplicates join's space (None for another intent)."""
    if request.intent != DUPLICATES.name:
        return None
    searched = load_for(ctx, request.bs[0], DUPLICATES) if request.bs else None
    return level_thresholds(searched)


def pair_changes(ctx: GuiContext, verified: Mapping[tuple[str, str, str], Verification] | None = None
                 ) -> Callable[[str, str, str, str], str]:
    """What changed between the two images of a copy pair, in words (simages.copies.changes): read from
    their headers when a page of pairs is drawn, each file once per page; the turn and mirror from the
    keypoints the join's check found (`verified`: JoinOutcome.verified), as `simages duplicates` says."""
    cache = FactsCache()

    def changed(a_set: str, a: str, b_set: str, b: str) -> str:
        root = ctx.settings.image_sets
        known = verified.get((a, b_set, b)) if verified is not None else None
        return describe_changes(changes_between(cache.facts(root / a_set / a), cache.facts(root / b_set / b),
                                                verification=known, cache=cache,
                                                names=(f"{a_set}/{a}", f"{b_set}/{b}")))

    return changed


def expansion_for(ctx: GuiContext, b: str | None, intent: str = DEFAULT_INTENT.name) -> Expansion:
    """The query expansion of the searched set as the intent reads it (unknown for "all other sets" or a set
    not indexed; none for duplicates)."""
    if intent == DUPLICATES.name:
        return Expansion(0, DUPLICATES_NO_EXPANSION)
    index = load_for(ctx, b, intent_named(intent)) if b else None
    return Expansion() if index is None else Expansion(index.expansion, index.expansion_left_out())


def progress_text(job: JoinJob) -> str:
    """The line beside a running join's progress bar."""
    if job.total:
        return f"Joining: {job.done:,} of {plural(job.total, 'image')} of {job.request.a}"
    return f"{job.phase[:1].upper()}{job.phase[1:]}…"


def checking_text(job: JoinJob) -> str:
    """The one line said while a duplicates join's keypoints are checked, with what is left."""
    request = job.request
    follow = ("the levels, the groups and any copy scoring below the threshold follow"
              if request.a not in request.bs and request.spec.predicate == "range"
              else "the levels and groups follow")
    if not job.to_check:
        return f"Checking keypoints… ({follow})"
    return f"Checking keypoints: {job.checked:,} of {plural(job.to_check, 'pair')}… ({follow})"


def self_join_note(state: JoinState) -> str:
    """For a duplicates range self-join: that it checks the pairs at its threshold only (None otherwise)."""
    if state.intent != DUPLICATES.name or not state.self_join or state.predicate != "range":
        return ""
    return ("A self-join lists the pairs at the threshold only: a turned, framed or collaged copy that "
            "scores lower is not looked for here (three keypoint checks per image). To check new photos "
            "against a collection, join them with it (set B), or use Triage.")


def sets_ready(ctx: GuiContext, names: tuple[str, ...]) -> bool:
    """Whether the sets a waiting join needs are indexed and none is being indexed again: it starts."""
    ready = all(load_index(ctx, n) is not None for n in names)
    busy = any(getattr(status_of(ctx, n), "state", None) == "indexing" for n in names)
    return ready and not busy


def waiting_summary(names: tuple[str, ...]) -> str:
    """The summary while sets the join needs are being indexed."""
    return f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} not indexed yet"
