"""The query settings panel shared by both pages: metric, predicate and its parameter, validated as typed."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from simages.gui.query_url import DEFAULT_K, QueryState
from simages.nearest.query_spec import QuerySpec

METRIC_LABELS = {
    "cosine": "Cosine similarity (higher = more alike)",
    "euclidean": "Euclidean distance (lower = more alike)",
}
PREDICATE_LABELS = {"knn": "k nearest", "range": "within threshold"}


def format_score(metric: str, score: float) -> str:
    """Similarity with three decimals (0.873); distance with about three significant digits (12.4)."""
    if metric == "cosine":
        return f"{score:.3f}"
    if abs(score) >= 100:
        return f"{score:,.0f}"
    return f"{score:.3g}" if abs(score) >= 1 else f"{score:.3f}"


def score_label(metric: str) -> str:
    return "similarity" if metric == "cosine" else "distance"


def format_threshold(metric: str, value: float) -> str:
    return f"{value:.3f}" if metric == "cosine" else f"{value:.4g}"


class QueryControls:
    """Metric select, predicate toggle and parameter input. `default_threshold(metric)` gives the suggested
    range threshold for the searched set (None while it is not indexed)."""

    def __init__(
        self,
        metric: str,
        predicate: str,
        param: str,
        default_threshold: Callable[[str], float | None],
        on_submit: Callable[[], None] | None = None,
    ) -> None:
        self.default_threshold = default_threshold
        with ui.column().classes("w-full gap-2"):
            self.metric = ui.select(METRIC_LABELS, value=metric, label="Compare by").classes("w-full")
            self.metric.mark("metric")
            self.predicate = ui.toggle(PREDICATE_LABELS, value=predicate).props("no-caps spread")
            self.predicate.classes("w-full").mark("predicate")
            self.param = ui.input(
                label=self._param_label(), value=param or self._default_param(), validation=self._validate
            ).classes("w-full").mark("param")
            self.param.props("dense outlined")
            if on_submit is not None:
                self.param.on("keydown.enter", lambda: on_submit())
        self.metric.on_value_change(lambda _: self._settings_changed())
        self.predicate.on_value_change(lambda _: self._settings_changed())

    def _param_label(self) -> str:
        if self.predicate_value == "knn":
            return "k (how many results)"
        if self.metric_value == "cosine":
            return "Threshold: similarity at least (-1 to 1)"
        return "Threshold: distance at most (0 or more)"

    def _default_param(self) -> str:
        if self.predicate_value == "knn":
            return str(DEFAULT_K)
        value = self.default_threshold(self.metric_value)
        return "" if value is None else format_threshold(self.metric_value, value)

    @property
    def metric_value(self) -> str:
        return getattr(getattr(self, "metric", None), "value", None) or "cosine"

    @property
    def predicate_value(self) -> str:
        return getattr(getattr(self, "predicate", None), "value", None) or "knn"

    def _settings_changed(self) -> None:
        # A k makes no sense as a threshold (and a cosine threshold none as a distance): suggest afresh.
        self.param.props(f'label="{self._param_label()}"')
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
        state = QueryState("-", metric=self.metric_value, predicate=self.predicate_value, param=text or "")
        return state.spec(self.default_threshold(self.metric_value))

    def settings(self) -> tuple[str, str, str]:
        """(metric, predicate, parameter text) as they are now."""
        return self.metric_value, self.predicate_value, (self.param.value or "").strip()

    def check(self) -> bool:
        """True if the parameter is valid; otherwise show why (next to the field and as a message)."""
        error = self._validate(self.param.value or "")
        if error is not None:
            self.param.validate()
            ui.notify(f"Please fix the query setting: {error}", type="warning")
            return False
        return True
