"""A query as URL parameters and back, so a results page can be bookmarked and shared.

The URL carries names only (sets, an image relative to its set, an upload id), never a file-system path;
every name is validated here, before any page touches the disk. Parsing is pure: no I/O.
Query expansion is on unless the URL says `expand=0` (only 0 and 1 are accepted).
`intent=duplicates` asks "is this photo already in the set?" (nearest.intents); without a predicate it
is a range query at the duplicate threshold. No intent means similar images.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from simages.extraction.descriptor_spec import HEAD_NAME
from simages.naming import InvalidName, validate_image_name, validate_set_name
from simages.nearest.core.intents import DUPLICATES, INTENTS, SIMILAR, intent_named
from simages.nearest.core.query_spec import METRICS, PREDICATES, QuerySpec
from simages.nearest.teaching.views import UNSCALED, VIEWS

DEFAULT_METRIC = "cosine"
DEFAULT_PREDICATE = "knn"
DEFAULT_K = 10

# Upload ids are uuid4 hex strings made by the app; anything else is refused before a lookup.
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class InvalidQuery(ValueError):
    """A URL that does not describe a query; the message is meant for the user."""


@dataclass(frozen=True)
class QueryState:
    """Everything a results page needs: the key (an image of a set, or an upload), the searched set and the
    query settings. `param` is the text the user typed; empty means "the default for this predicate"."""

    join_set: str
    key_set: str | None = None
    image: str | None = None
    upload: str | None = None
    metric: str = DEFAULT_METRIC
    predicate: str = DEFAULT_PREDICATE
    param: str = ""
    # Query expansion of a `qe` descriptor; off only when the URL says expand=0.
    expand: bool = True
    # Exact kNN search even where an ANN index would answer; on only when the URL says exact=1.
    exact: bool = False
    # The question asked (nearest.intents): "similar" images, or "duplicates" of the key photo.
    intent: str = SIMILAR.name
    # A teaching view of the descriptors (nearest.teaching_view): "" is the searched descriptor itself,
    # "unscaled" keeps each vector's length so cosine and Euclidean rank differently.
    view: str = ""
    # A trained head (simages train) applied to the searched set's descriptor; None: the untrained one.
    head: str | None = None

    @property
    def is_upload(self) -> bool:
        return self.upload is not None

    def with_(self, **changes: object) -> QueryState:
        return replace(self, **changes)

    def spec(self, default_threshold: float | None = None) -> QuerySpec:
        """The validated QuerySpec; ValueError with a friendly message for a bad parameter."""
        return spec_from_form(self.metric, self.predicate, self.param, self.expand, default_threshold)


def to_params(state: QueryState) -> dict[str, str]:
    """URL parameters in a stable order; defaults are written out so a shared link never changes meaning."""
    params: dict[str, str] = {}
    if state.upload is not None:
        params["upload"] = state.upload
    else:
        params["key_set"] = state.key_set or ""
        params["image"] = state.image or ""
    params["set"] = state.join_set
    params["metric"] = state.metric
    params["predicate"] = state.predicate
    if state.param.strip():
        params["param"] = state.param.strip()
    if not state.expand:
        params["expand"] = "0"
    if state.exact:
        params["exact"] = "1"
    if state.intent != SIMILAR.name:
        params["intent"] = state.intent
    if state.view:
        params["view"] = state.view
    if state.head:
        params["head"] = state.head
    return params


def results_url(state: QueryState) -> str:
    return "/similar?" + urlencode(to_params(state), encoding="utf-8", errors="surrogateescape")


def home_url(join_set: str | None = None, key_set: str | None = None, **settings: str) -> str:
    """The home page, keeping the chosen sets and query settings so going back loses nothing."""
    params = {k: v for k, v in {"key_set": key_set, "set": join_set, **settings}.items() if v}
    return "/?" + urlencode(params, encoding="utf-8", errors="surrogateescape") if params else "/"


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    value = value.strip().lower()
    if value not in allowed:
        raise InvalidQuery(f"unknown {what} {value!r}; choose {' or '.join(allowed)}")
    return value


def parse_settings(params: Mapping[str, str]) -> tuple[str, str, str]:
    """(metric, predicate, param text) from URL parameters, with defaults for missing ones."""
    metric = _choice(params.get("metric") or DEFAULT_METRIC, METRICS, "metric")
    predicate = _choice(params.get("predicate") or DEFAULT_PREDICATE, PREDICATES, "predicate")
    param = (params.get("param") or "").strip()
    if len(param) > 32:
        raise InvalidQuery("the query parameter is too long to be a number")
    return metric, predicate, param


def parse_expand(params: Mapping[str, str]) -> bool:
    """Whether query expansion is on: absent (or empty) or `1` means on, `0` off; anything else is refused."""
    value = (params.get("expand") or "1").strip()
    if value not in ("0", "1"):
        raise InvalidQuery(f"expand must be 0 (query expansion off) or 1 (on), got {value[:32]!r}")
    return value == "1"


def parse_exact(params: Mapping[str, str]) -> bool:
    """Whether the exact search is forced: `1` yes, absent (or empty) or `0` no; anything else is refused."""
    value = (params.get("exact") or "0").strip()
    if value not in ("0", "1"):
        raise InvalidQuery(f"exact must be 0 (an index may answer) or 1 (exact search), got {value[:32]!r}")
    return value == "1"


def parse_intent(params: Mapping[str, str]) -> str:
    """The intent's name: absent (or empty) means similar images; an unknown one is refused."""
    try:
        return intent_named((params.get("intent") or SIMILAR.name).strip().lower()).name
    except ValueError:
        raise InvalidQuery(f"unknown intent; choose {' or '.join(INTENTS)}") from None


def parse_view(params: Mapping[str, str]) -> str:
    """The teaching view: absent (or empty) is the searched descriptor, `unscaled` the view whose vectors
    keep their lengths (nearest.teaching_view); anything else is refused."""
    value = (params.get("view") or "").strip().lower()
    if value not in VIEWS:
        raise InvalidQuery(f"unknown view {value[:32]!r}; the only teaching view is {UNSCALED!r}")
    return value


def parse_head(params: Mapping[str, str]) -> str | None:
    """The trained head's name (simages train), None when absent; a name that cannot be one is refused
    (whether the head exists is checked when the set is read with it)."""
    value = (params.get("head") or "").strip()
    if not value:
        return None
    if not HEAD_NAME.fullmatch(value):
        raise InvalidQuery(f"{value[:32]!r} cannot be the name of a trained head")
    return value


def parse_set(value: str | None, what: str = "set") -> str:
    if not value:
        raise InvalidQuery(f"the link names no {what}")
    try:
        return validate_set_name(value)
    except InvalidName as error:
        raise InvalidQuery(str(error)) from None


def from_params(params: Mapping[str, str]) -> QueryState:
    """A validated QueryState from the parameters of a results URL; InvalidQuery otherwise."""
    join_set = parse_set(params.get("set"), "set to search")
    metric, predicate, param = parse_settings(params)
    expand = parse_expand(params)
    exact = parse_exact(params)
    intent = parse_intent(params)
    view = parse_view(params)
    head = parse_head(params)
    if intent == DUPLICATES.name and not params.get("predicate"):
        predicate = "range"  # duplicates are a range query at the duplicate threshold
    upload = params.get("upload")
    if upload:
        if not _UPLOAD_ID.match(upload):
            raise InvalidQuery("this upload link is not valid")
        return QueryState(join_set, upload=upload, metric=metric, predicate=predicate, param=param,
                          expand=expand, exact=exact, intent=intent, view=view, head=head)
    key_set = parse_set(params.get("key_set") or join_set, "key set")
    image = params.get("image")
    if not image:
        raise InvalidQuery("the link names no key image")
    try:
        validate_image_name(image)
    except InvalidName as error:
        raise InvalidQuery(str(error)) from None
    return QueryState(join_set, key_set=key_set, image=image, metric=metric, predicate=predicate, param=param,
                      expand=expand, exact=exact, intent=intent, view=view, head=head)


def spec_from_form(
    metric: str,
    predicate: str,
    param: str,
    expand: bool,
    default_threshold: float | None,
    what: str = "query",
) -> QuerySpec:
    """The QuerySpec a page's settings ask for: an empty parameter stands for k = DEFAULT_K, or for
    `default_threshold` in a range `what` (ValueError asking for one when there is none); any other
    invalid value gets QuerySpec's friendly ValueError."""
    value: str | float | int = param.strip()
    if value == "":
        if predicate == "knn":
            value = DEFAULT_K
        elif default_threshold is not None:
            value = default_threshold
        else:
            raise ValueError(f"enter a threshold for the range {what}")
    return QuerySpec.parse(metric, predicate, value, expand)
