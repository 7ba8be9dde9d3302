"""From a validated join URL to a join that can run: the sets exist and are indexed, the parameter is
resolved (an empty range threshold becomes the join's suggested one, written so that the pair it was
taken from passes), or a message says why not.

Shared by the join page and the exports, so `/join.csv` and the page always run the very same join.
"""

from __future__ import annotations

from dataclasses import dataclass

from simages.gui.context import GuiContext
from simages.gui.state.sets import known_sets, set_exists
from simages.gui.urls.join import JoinState
from simages.jobs.join_runner import other_sets
from simages.naming import InvalidName
from simages.nearest.core.display import threshold_from_score
from simages.nearest.core.distribution import default_threshold
from simages.nearest.core.intents import DUPLICATES, Intent
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import duplicate_threshold
from simages.nearest.joins.distribution import join_threshold
from simages.nearest.sets.cache import NotIndexed
from simages.operations.join import JoinRequest
from simages.store.npz_store import StoreError
from simages.training.registry import resolve_descriptor


class JoinProblem(Exception):
    """Why a join cannot run: a title and a message for the user, the HTTP status of an export, and the
    sets still without a store (the page waits for them)."""

    def __init__(self, title: str, message: str, status: int = 404, waiting: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.title, self.message, self.status, self.waiting = title, message, status, waiting


def searched_sets(ctx: GuiContext, state: JoinState) -> tuple[str, ...]:
    """B's name, or every other set for "all other sets"."""
    return (state.b,) if state.b is not None else other_sets(known_sets(ctx), state.a)


def load_for(ctx: GuiContext, name: str, intent: Intent, head: str | None = None) -> SetIndex | None:
    """The set's index as the intent reads it (with the trained head `head` for the similar intent); None
    while it has no usable store, or when the head cannot be applied (the join itself says why)."""
    try:
        if head and intent.keeps_learned_parts:
            spec = resolve_descriptor(f"head:{head}", ctx.settings.features)
            return ctx.descriptors.get(ctx.settings, name, spec)
        return ctx.descriptors.get(ctx.settings, name, intent)
    except (NotIndexed, StoreError, InvalidName, ValueError):
        return None


def suggested_threshold(ctx: GuiContext, state: JoinState) -> float | None:
    """The range threshold a join uses when none is given: the duplicate threshold for the duplicates
    intent (nearest.duplicates.exact), else the join's own suggestion (A against the searched sets, sampled:
    nearest/joins/distribution.join_threshold). None while a set is not indexed."""
    names = searched_sets(ctx, state)
    return _threshold(ctx, names, state) if names else None


def _threshold(ctx: GuiContext, names: tuple[str, ...], state: JoinState) -> float | None:
    indexes = [load_for(ctx, name, state.intent_spec, state.head) for name in names]
    searched = [index for index in indexes if index is not None]
    if not searched:
        return None
    if state.intent_spec == DUPLICATES:
        return duplicate_threshold(state.metric, searched[0])
    a = load_for(ctx, state.a, state.intent_spec, state.head)
    if a is None:
        return None
    try:
        return join_threshold(a, searched, state.metric, expand=state.expand)
    except ValueError:
        # Sets of different descriptors cannot be joined (the join says so); suggest from B meanwhile.
        return default_threshold(searched[0], state.metric, expand=state.expand)


@dataclass(frozen=True)
class ResolvedJoin:
    """`state` with its parameter written out, the request to run, and the sets "all other sets" had to
    leave out because they are not indexed yet."""

    state: JoinState
    request: JoinRequest
    left_out: tuple[str, ...] = ()


def resolve(ctx: GuiContext, state: JoinState) -> ResolvedJoin:
    """The join to run for this state; JoinProblem when it cannot run (yet)."""
    for name, what in ((state.a, "set A"), (state.b, "set B")):
        if name is not None and not set_exists(ctx, name):
            raise JoinProblem("No such image set", f"There is no image set named “{name}” ({what}).")
    names = searched_sets(ctx, state)
    if not names:
        raise JoinProblem("Nothing to search", f"There is no set besides {state.a} to search.")
    intent = state.intent_spec
    waiting = tuple(n for n in (state.a, *names) if load_for(ctx, n, intent) is None)
    left_out: tuple[str, ...] = ()
    if state.b is None:
        left_out = tuple(n for n in names if n in waiting)
        # "All other sets" searches those that can be searched now, and says which ones were left out.
        names = tuple(n for n in names if n not in waiting)
        waiting = tuple(n for n in waiting if n == state.a)
        if not names and not waiting:
            raise JoinProblem("Nothing to search", f"No set besides {state.a} is indexed yet.", 409)
    if waiting:
        raise JoinProblem("Not indexed yet", f"{', '.join(waiting)} is not indexed yet.", 409, waiting)
    param = state.param
    if not param.strip():
        if state.predicate == "knn":
            param = str(state.spec().param)
        else:
            value = _threshold(ctx, names, state)
            param = threshold_from_score(value, state.metric) if value is not None else ""
    resolved = state.with_(param=param)
    try:
        spec = resolved.spec()
    except ValueError as error:
        raise JoinProblem("This join cannot run", str(error), 400) from None
    return ResolvedJoin(resolved, JoinRequest(state.a, names, spec, state.intent, state.head), left_out)
