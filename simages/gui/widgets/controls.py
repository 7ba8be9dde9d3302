"""The query settings panel shared by both pages: metric, predicate and its parameter, validated as typed,
and the query expansion switch (it matters only for sets whose descriptor has `qe`)."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import events, ui

from simages.gui.state.sets import Expansion
from simages.gui.urls.query import DEFAULT_K, QueryState
from simages.naming import display_name
from simages.nearest.core.display import format_score_short, threshold_from_score
from simages.nearest.core.query_spec import QuerySpec

METRIC_LABELS = {
    "cosine": "Cosine similarity (higher = more alike)",
    "euclidean": "Euclidean distance (lower = more alike)",
}
PREDICATE_LABELS = {"knn": "k nearest", "range": "within threshold"}


def format_score(metric: str, score: float) -> str:
    """Similarity with three decimals (0.873); distance with about three significant digits (12.4), rounded
    toward the cut-off side so a threshold typed from a shown score keeps that image (nearest.display)."""
    return format_score_short(score, metric)


def score_label(metric: str) -> str:
    return "similarity" if metric == "cosine" else "distance"


def expansion_hint(k: int | None, left_out: str | None = None) -> str:
    """What the query expansion switch does, for a searched set averaging `k` neighbours (None: unknown);
    `left_out` says why a set whose descriptor asks for expansion does not use it."""
    if k:
        return (f"Average the key with its {k} nearest images: better rankings; each image keeps the better "
                "of its scores against the key and the expanded key.")
    text = ("Average the key with its nearest images: better rankings; each image keeps the better of its "
            "scores against the key and the expanded key.")
    if k == 0 and left_out:
        return f"{text} Not used here: {left_out}."
    if k == 0:
        return text + " The set searched does not use it (its descriptor has no qe)."
    return text + " Only for sets whose descriptor uses query expansion (qe)."


class QueryControls:
    """Metric select, predicate toggle, parameter input and query expansion switch.
    `default_threshold(metric, expand)` gives the suggested range threshold for the searched set (None while
    it is not indexed). The switch is always shown with `always_show_expansion`, otherwise only while the
    searched set uses query expansion (see `set_expansion`)."""

    def __init__(
        self,
        metric: str,
        predicate: str,
        param: str,
        default_threshold: Callable[[str, bool], float | None],
        on_submit: Callable[[], None] | None = None,
        *,
        expand: bool = True,
        expansion: Expansion | None = None,
        always_show_expansion: bool = True,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.default_threshold = default_threshold
        self.on_change = on_change
        self.always_show_expansion = always_show_expansion
        self._initial_expand = expand  # what expand_value says until the switch exists
        # While the searched set does not use expansion the switch shows off and disabled; the user's own
        # choice is kept here and comes back with a set that uses it.
        self._wanted_expand = expand
        self._syncing = False
        # The k-th score of the kNN answer on screen, per (metric, expansion): switching that query to a
        # range query starts from it, so the range answer first reproduces the kNN answer.
        self._kth: dict[tuple[str, bool], float] = {}
        with ui.column().classes("w-full gap-2"):
            self.metric = ui.select(METRIC_LABELS, value=metric, label="Compare by").classes("w-full")
            self.metric.props("dense options-dense")
            self.metric.mark("metric")
            self.predicate = ui.toggle(PREDICATE_LABELS, value=predicate).props("no-caps spread")
            self.predicate.classes("w-full").mark("predicate")
            self.param = ui.input(
                label=self._param_label(), value=param or self._default_param(), validation=self._validate
            ).classes("w-full").mark("param")
            self.param.props("dense outlined hide-bottom-space")
            if on_submit is not None:
                self.param.on("keydown.enter", lambda: on_submit())
            with ui.column().classes("w-full gap-0").mark("expansion-box") as self.expansion_box:
                self.expansion = ui.switch("Query expansion", value=expand).mark("expand")
                self.expansion_note = ui.label("").classes("text-caption text-grey-7").mark("expand-hint")
        self.set_expansion(expansion or Expansion())
        self.metric.on_value_change(lambda _: self._settings_changed())
        self.predicate.on_value_change(lambda _: self._settings_changed())
        self.expansion.on_value_change(self._expansion_changed)
        # Registered last: by the time it runs, a changed metric or predicate has its new suggestion.
        self.param.on_value_change(lambda _: self._changed())

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def set_expansion(self, expansion: Expansion) -> None:
        """Show the searched set's expansion: where it is known not to be used (k = 0: a set too small, a
        descriptor without qe, the duplicates question) the switch is shown off and disabled, with why;
        elsewhere it shows the user's choice."""
        self.expansion_note.text = display_name(expansion_hint(expansion.k, expansion.left_out))
        self.expansion_box.set_visibility(self.always_show_expansion or bool(expansion.k))
        unused = expansion.k == 0
        if unused and self.expansion.enabled:
            self._wanted_expand = bool(self.expansion.value)
            self._show_expansion(False)
            self.expansion.disable()
        elif not unused and not self.expansion.enabled:
            self.expansion.enable()
            self._show_expansion(self._wanted_expand)

    def _show_expansion(self, value: bool) -> None:
        """Set the switch without it counting as the user's change."""
        self._syncing = True
        try:
            self.expansion.value = value
        finally:
            self._syncing = False

    def _param_label(self) -> str:
        if self.predicate_value == "knn":
            return "k (how many results)"
        if self.metric_value == "cosine":
            return "Threshold: similarity at least (-1 to 1)"
        return "Threshold: distance at most (0 or more)"

    def _default_param(self) -> str:
        if self.predicate_value == "knn":
            return str(DEFAULT_K)
        kth = self._kth.get((self.metric_value, self.expand_value))
        if kth is not None:
            return threshold_from_score(kth, self.metric_value)
        return self._suggested(self.expand_value)

    def remember_kth(self, metric: str, expand: bool, score: float | None) -> None:
        """The k-th score of the kNN answer now shown (None: no kNN answer on screen): switching to a range
        query with the same metric and expansion pre-fills it, the threshold that gives the same images
        (ties at the k-th score included), as the histogram's k-th mark shows."""
        self._kth = {} if score is None else {(metric, expand): float(score)}

    def _suggested(self, expand: bool) -> str:
        value = self.default_threshold(self.metric_value, expand)
        return "" if value is None else threshold_from_score(value, self.metric_value)

    @property
    def metric_value(self) -> str:
        return getattr(getattr(self, "metric", None), "value", None) or "cosine"

    @property
    def predicate_value(self) -> str:
        return getattr(getattr(self, "predicate", None), "value", None) or "knn"

    @property
    def expand_value(self) -> bool:
        switch = getattr(self, "expansion", None)
        if switch is None:
            return self._initial_expand
        # Disabled: the set does not use it, and the user's choice stands for the next set.
        return bool(switch.value) if switch.enabled else self._wanted_expand

    def _expansion_changed(self, e: events.ValueChangeEventArguments) -> None:
        if self._syncing:
            return
        self._wanted_expand = bool(e.value)
        # Expansion moves the scores, hence the suggested threshold: follow it unless the user typed another.
        if self.predicate_value == "range" and (self.param.value or "").strip() in ("", self._suggested(
                not e.value), *(threshold_from_score(v, m) for (m, _), v in self._kth.items())):
            self.param.value = self._default_param()
        self.param.validate()
        self._changed()

    def _settings_changed(self) -> None:
        # A k makes no sense as a threshold (and a cosine threshold none as a distance): suggest afresh.
        self.param.props(f'label="{self._param_label()}"')
        self.param.value = self._default_param()
        self.param.validate()
        self._changed()

    def suggest_afresh(self) -> None:
        """The scores changed scale (another descriptor view): forget the k-th score shown and, for a range
        query, put the new suggestion in the threshold field."""
        self._kth = {}
        if self.predicate_value == "range":
            self.param.value = self._default_param()
            self.param.validate()

    def refresh_default(self) -> None:
        """Fill in the suggested threshold once it is known (the searched set was indexed meanwhile)."""
        if self.predicate_value == "range" and not (self.param.value or "").strip():
            self.param.value = self._default_param()

    def _validate(self, text: str) -> str | None:
        try:
            self._spec_from(text)
        except ValueError as error:
            return str(error)
        return None

    def _spec_from(self, text: str) -> QuerySpec:
        state = QueryState("-", metric=self.metric_value, predicate=self.predicate_value, param=text or "",
                           expand=self.expand_value)
        return state.spec(self.default_threshold(self.metric_value, self.expand_value))

    def settings(self) -> tuple[str, str, str]:
        """(metric, predicate, parameter text) as they are now."""
        return self.metric_value, self.predicate_value, (self.param.value or "").strip()

    def effective_param(self, metric: str, predicate: str, param: str, expand: bool) -> str:
        """`param` with an empty text replaced by the default it stands for (k = 10, or the suggested
        threshold), so "" and the suggestion count as the same setting."""
        if param.strip():
            return param.strip()
        if predicate == "knn":
            return str(DEFAULT_K)
        value = self.default_threshold(metric, expand)
        return "" if value is None else threshold_from_score(value, metric)

    def shows(self, metric: str, predicate: str, param: str, expand: bool) -> bool:
        """Whether the panel shows these settings (the query a results page lists), defaults included."""
        now_metric, now_predicate, now_param = self.settings()
        if (now_metric, now_predicate) != (metric, predicate):
            return False
        if self.expand_value != expand and (self.expansion_box.visible or self.always_show_expansion):
            return False
        return (self.effective_param(metric, predicate, now_param, expand)
                == self.effective_param(metric, predicate, param, expand))

    def valid(self) -> bool:
        """Whether the parameter is valid, silently."""
        return self._validate(self.param.value or "") is None

    def check(self) -> bool:
        """True if the parameter is valid; otherwise show why (next to the field and as a message)."""
        error = self._validate(self.param.value or "")
        if error is not None:
            self.param.validate()
            ui.notify(f"Please fix the query setting: {error}", type="warning")
            return False
        return True
