"""A set join as URL parameters and back: `/join?a=A&b=B&metric=...&predicate=...&param=...`.

The URL describes the join completely, like `/similar`'s: set A (the keys), the searched set B (`b=A` is a
self-join; `others=1` instead of `b` searches every other set), the intent (`intent=similar|duplicates`:
which question the scores answer, see nearest/core/intents.py; `similar` when absent, as in the CLI), the
metric, the predicate and its parameter, query expansion (`expand=0` switches it off) and which view is
shown (`view`, `page`). The same
parameters name the join's CSV (`/join.csv?...`) and groups (`/join.json?...`). Every name is validated
here, before anything touches the disk; parsing is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from simages.gui.urls.query import (
    InvalidQuery,
    parse_expand,
    parse_head,
    parse_set,
    parse_settings,
    spec_from_form,
)
from simages.nearest.core.intents import DEFAULT_INTENT, INTENTS, Intent, intent_named
from simages.nearest.core.query_spec import QuerySpec

VIEWS = ("pairs", "knn", "groups")
# Pages beyond this are refused: it is not a number a person types, and it bounds the work of a page.
_MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class JoinState:
    """Everything the join page needs. `b` is None for "all other sets". `param` is the text of the
    predicate's parameter; empty means the default (k = 10, or the searched set's suggested threshold)."""

    a: str
    b: str | None
    metric: str = "cosine"
    predicate: str = "range"
    param: str = ""
    expand: bool = True
    view: str = "pairs"
    page: int = 1
    intent: str = DEFAULT_INTENT.name
    # A trained head (simages train) for the similar intent; None: the sets' own descriptor.
    head: str | None = None

    @property
    def self_join(self) -> bool:
        return self.b == self.a

    @property
    def intent_spec(self) -> Intent:
        return intent_named(self.intent)

    def with_(self, **changes: object) -> JoinState:
        return replace(self, **changes)

    def spec(self, default_threshold: float | None = None) -> QuerySpec:
        """The validated QuerySpec; ValueError with a friendly message for a bad parameter."""
        return spec_from_form(self.metric, self.predicate, self.param, self.expand, default_threshold, "join")


def join_params(state: JoinState, *, with_view: bool = True) -> dict[str, str]:
    """URL parameters in a stable order; the view and page only for the page itself, not the exports."""
    params = {"a": state.a}
    if state.b is None:
        params["others"] = "1"
    else:
        params["b"] = state.b
    params["intent"] = state.intent
    params["metric"] = state.metric
    params["predicate"] = state.predicate
    if state.param.strip():
        params["param"] = state.param.strip()
    if not state.expand:
        params["expand"] = "0"
    if state.head:
        params["head"] = state.head
    if with_view:
        params["view"] = state.view
        if state.page > 1:
            params["page"] = str(state.page)
    return params


def join_url(state: JoinState) -> str:
    return "/join?" + _encoded(join_params(state))


def csv_url(state: JoinState) -> str:
    """The pairs as CSV (a,b,score), as `simages join A B ... --output -` writes them."""
    return "/join.csv?" + _encoded(join_params(state, with_view=False))


def groups_url(state: JoinState) -> str:
    """The pairs and groups as JSON, in the shape of `simages duplicates --format json`."""
    return "/join.json?" + _encoded(join_params(state, with_view=False))


def _page(value: str | None) -> int:
    text = (value or "1").strip()
    if not text.isdigit() or not 1 <= int(text) <= _MAX_PAGE:
        raise InvalidQuery(f"page must be a positive whole number, got {text[:32]!r}")
    return int(text)


def join_from_params(params: Mapping[str, str]) -> JoinState:
    """A validated JoinState from the parameters of a join URL; InvalidQuery (a message for the user)."""
    a = parse_set(params.get("a"), "set A (the keys)")
    others = (params.get("others") or "0").strip()
    if others not in ("0", "1"):
        raise InvalidQuery(f"others must be 1 (search every other set) or 0, got {others[:32]!r}")
    if others == "1":
        if params.get("b"):
            raise InvalidQuery("the link names set B and also asks for all other sets; choose one")
        b = None
    else:
        b = parse_set(params.get("b"), "set B (the set searched)")
    metric, predicate, param = parse_settings({"predicate": "range", **params})
    expand = parse_expand(params)
    intent = (params.get("intent") or DEFAULT_INTENT.name).strip().lower()
    if intent not in INTENTS:
        raise InvalidQuery(f"unknown intent {intent[:32]!r}; choose {' or '.join(INTENTS)}")
    view = (params.get("view") or "pairs").strip().lower()
    if view not in VIEWS:
        raise InvalidQuery(f"unknown view {view[:32]!r}; choose {', '.join(VIEWS)}")
    head = parse_head(params)
    return JoinState(a, b, metric, predicate, param, expand, view, _page(params.get("page")), intent, head)


def _encoded(params: dict[str, str]) -> str:
    # Set names travel as their file-system bytes (naming.url_quote's rule), also when they are not UTF-8.
    return urlencode(params, encoding="utf-8", errors="surrogateescape")
