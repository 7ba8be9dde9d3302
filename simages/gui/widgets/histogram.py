"""A small ECharts histogram of scores (a key against a set, or a set join) with the current cut-off marked;
`threshold_control` makes it a control: clicking or dragging on it sets the range threshold."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

from nicegui import events, ui

from simages.copies.levels import Level, LevelThresholds
from simages.gui.widgets.controls import QueryControls, format_score, score_label
from simages.gui.widgets.levels import LEVEL_COLOURS
from simages.nearest.core.display import (
    THRESHOLD_DIGITS,
    THRESHOLD_DISTANCE_DIGITS,
    format_threshold,
    threshold_from_score,
)
from simages.nearest.core.distribution import ScoreDistribution
from simages.nearest.core.query_spec import higher_is_better


def level_marks(metric: str, thresholds: LevelThresholds) -> list[tuple[float, str, str]]:
    """(score on the chart's axis, label, colour) of the lowest score of each duplicate level (exact,
    edited, look-alike), for scores in the duplicates space: cosine similarities as they are, Euclidean
    distances between unit vectors as sqrt(2 - 2 cos)."""
    marks = []
    for level in (Level.EXACT, Level.EDITED, Level.LOOK_ALIKE):
        cosine = thresholds.of(level)
        if cosine is None:
            continue
        if higher_is_better(metric):
            value, op = cosine, "≥"
        else:
            value, op = math.sqrt(max(0.0, 2.0 - 2.0 * cosine)), "≤"
        marks.append((value, f"{level.title.lower()} {op} {format_threshold(value)}", LEVEL_COLOURS[level]))
    return marks


# What a score at each line means, short enough to be read along the line (the levels are the pairs' chips).
_AT_LINE = {
    Level.EXACT: ": same pixels",
    Level.EDITED: " passes",
    Level.LOOK_ALIKE: ": look-alikes",
}

# Said under a duplicates chart where copies below the threshold can be listed.
BELOW_CHART_NOTE = ("The dashed lines are scores, not levels: a pair's level comes from its keypoints too, "
                    "so copies scoring below the threshold can still be found (marked *).")


def score_marks(metric: str, thresholds: LevelThresholds) -> list[tuple[float, str, str]]:
    """(score on the chart's axis, label, colour) of the lines `level_marks` draws, each labelled as a
    score threshold: "score ≥ 0.9999: same pixels", "score ≥ 0.5 passes" (the default duplicate
    threshold), "score ≥ 0.3: look-alikes"; distances: "distance ≤ 1 passes"."""
    levels = [level for level in (Level.EXACT, Level.EDITED, Level.LOOK_ALIKE)
              if thresholds.of(level) is not None]
    word, op = ("score", "≥") if higher_is_better(metric) else ("distance", "≤")
    return [(value, f"{word} {op} {format_threshold(value)}{_AT_LINE[level]}", colour)
            for level, (value, _, colour) in zip(levels, level_marks(metric, thresholds), strict=True)]


def histogram_options(dist: ScoreDistribution, marker: float | None, marker_label: str,
                      levels: Sequence[tuple[float, str, str]] = ()) -> dict[str, Any]:
    """ECharts options: bars over score bins, a vertical line at `marker` (threshold or k-th score) and,
    for a duplicates answer, dashed lines at the duplicate levels' thresholds (`levels`, from
    `level_marks`), each labelled, in a series of their own (dragging the threshold moves only its line)."""
    edges, counts = dist.bin_edges, dist.counts
    low, high = (edges[0], edges[-1]) if edges else (0.0, 1.0)
    if marker is not None:
        low, high = min(low, marker), max(high, marker)
    for value, _, _ in levels:
        low, high = min(low, value), max(high, value)
    pad = (high - low) * 0.02 or 0.01
    # A step line over the bin edges, filled: exact bin widths on a value axis (bars there come out thin).
    steps = [[edge, count] for edge, count in zip(edges, [*counts, counts[-1] if counts else 0], strict=True)]
    series: dict[str, Any] = {
        "type": "line",
        "step": "end",
        "symbol": "none",
        "data": steps,
        "lineStyle": {"color": "#1e88e5", "width": 1},
        "areaStyle": {"color": "#90caf9", "opacity": 0.8},
    }
    if marker is not None:
        series["markLine"] = {
            "symbol": "none",
            "silent": True,
            "lineStyle": {"color": "#e65100", "width": 2, "type": "solid"},
            # The label runs away from the nearer edge, so it never covers the y axis or leaves the chart.
            "label": {"formatter": marker_label, "position": "end", "color": "#e65100",
                      "align": "left" if marker <= (low + high) / 2 else "right"},
            "data": [{"xAxis": marker}],
        }
    decimals = 2 if dist.metric == "cosine" else 1
    all_series = [series]
    if levels:
        all_series.append({
            "type": "line", "data": [], "silent": True,
            "markLine": {
                "symbol": "none", "silent": True,
                # Written along the line, from its foot: labels of close levels do not overlap the others.
                "data": [{"xAxis": value, "lineStyle": {"color": colour, "type": "dashed", "width": 1},
                          "label": {"formatter": text, "position": "insideStartTop", "color": colour,
                                    "fontSize": 10}}
                         for value, text, colour in levels],
            },
        })
    return {
        "animation": False,
        "grid": {"left": 40, "right": 24, "top": 30, "bottom": 36},
        "xAxis": {
            "type": "value",
            "min": round(low - pad, 4),
            "max": round(high + pad, 4),
            "name": score_label(dist.metric),
            "nameLocation": "middle",
            "nameGap": 24,
            "axisLabel": {"fontSize": 10, "hideOverlap": True, ":formatter": f"v => v.toFixed({decimals})"},
        },
        "yAxis": {"type": "value", "minInterval": 1, "axisLabel": {"fontSize": 10}},
        "series": all_series,
    }


def marker_for(
    dist_metric: str, predicate: str, param: float, kth_score: float | None
) -> tuple[float | None, str]:
    """Where to draw the line: the threshold of a range query, the k-th best score of a kNN query."""
    if predicate == "range":
        op = "≥" if dist_metric == "cosine" else "≤"
        return float(param), f"threshold {op} {format_threshold(float(param))}"
    if kth_score is None:
        return None, ""
    return kth_score, f"k-th: {score_label(dist_metric)} {format_score(dist_metric, kth_score)}"


def score_histogram(dist: ScoreDistribution, marker: float | None, marker_label: str,
                    levels: Sequence[tuple[float, str, str]] = ()) -> ui.echart:
    """The chart (`histogram_options`); `levels` marks the duplicate levels (`level_marks`)."""
    chart = ui.echart(histogram_options(dist, marker, marker_label, levels))
    return chart.classes("w-full").style("height: 190px")


# Runs in the browser: the x pixel under the pointer becomes a score on the chart's axis. While the mouse
# button is held the line follows the pointer without a round trip; releasing it (a click or the end of a
# drag) sends the score to the server. The label while dragging is rounded like
# display.threshold_from_score (a similarity down to 3 decimals, a distance up to 4 significant digits),
# so it shows the threshold the release will set.
_PICK_JS = """(e) => {
  const chart = getElement(%(id)d)?.chart;
  if (!chart) return;
  const value = chart.convertFromPixel({xAxisIndex: 0}, e.offsetX);
  if (!Number.isFinite(value)) return;
  if (e.type === 'mousemove') {
    if (!(e.buttons & 1)) return;
    const d = %(similarity)s ? %(decimals)d
      : Math.max(0, %(significant)d - 1 - Math.floor(Math.log10(Math.max(Math.abs(value), 1))));
    const f = 10 ** d;
    const shown = (%(similarity)s ? Math.floor(value * f + 1e-9) : Math.ceil(value * f - 1e-9)) / f;
    chart.setOption({series: [{markLine: {data: [{xAxis: value}], label: {formatter: shown.toFixed(d)}}}]});
    return;
  }
  emit(value);
}"""


def threshold_control(
    chart: ui.echart, metric: str, on_pick: Callable[[float], object]
) -> ui.echart:
    """Make a score histogram a control: a click on it, or a drag released on it, calls `on_pick` with the
    score under the pointer written as a threshold (`display.threshold_from_score`: toward the side that
    keeps that score, so a click on a pair's bar keeps the pair; the threshold shown is the one used).
    `on_pick` may be a coroutine function."""

    async def picked(e: events.GenericEventArguments) -> None:
        try:
            value = float(e.args)
        except (TypeError, ValueError):
            return
        if math.isfinite(value):
            result = on_pick(float(threshold_from_score(value, metric)))
            if inspect.isawaitable(result):
                await result

    script = _PICK_JS % {"id": chart.id, "decimals": THRESHOLD_DIGITS,
                         "significant": THRESHOLD_DISTANCE_DIGITS,
                         "similarity": "true" if higher_is_better(metric) else "false"}
    chart.on("click", picked, js_handler=script)
    chart.on("mousemove", js_handler=script)
    chart.style("cursor: crosshair").props('title="Click or drag to set the threshold"')
    return chart


def set_range_threshold(controls: QueryControls, value: float) -> str:
    """Switch a settings panel to a range query at `value` (as picked on the histogram, a score or a
    threshold already written from one: rewriting it changes nothing); returns the text put in the
    threshold field."""
    metric = controls.metric_value
    controls.predicate.value = "range"  # first: changing the predicate suggests a threshold of its own
    controls.param.value = threshold_from_score(value, metric)
    return controls.param.value


def picks_threshold(controls: QueryControls, rerun: Callable[[], object]) -> Callable[[float], None]:
    """An `on_pick` for `threshold_control`: set the panel's range threshold, then run the query again."""

    def pick(value: float) -> None:
        set_range_threshold(controls, value)
        rerun()

    return pick
