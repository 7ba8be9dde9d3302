"""A small ECharts histogram of a key's scores against a whole set, with the current cut-off marked."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from simages.gui.controls import format_score, score_label
from simages.nearest.distribution import ScoreDistribution


def histogram_options(dist: ScoreDistribution, marker: float | None, marker_label: str) -> dict[str, Any]:
    """ECharts options: bars over score bins and a vertical line at `marker` (threshold or k-th score)."""
    edges, counts = dist.bin_edges, dist.counts
    low, high = (edges[0], edges[-1]) if edges else (0.0, 1.0)
    if marker is not None:
        low, high = min(low, marker), max(high, marker)
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
        "series": [series],
    }


def marker_for(
    dist_metric: str, predicate: str, param: float, kth_score: float | None
) -> tuple[float | None, str]:
    """Where to draw the line: the threshold of a range query, the k-th best score of a kNN query."""
    if predicate == "range":
        op = "≥" if dist_metric == "cosine" else "≤"
        return float(param), f"threshold {op} {format_score(dist_metric, float(param))}"
    if kth_score is None:
        return None, ""
    return kth_score, f"k-th: {format_score(dist_metric, kth_score)}"


def score_histogram(dist: ScoreDistribution, marker: float | None, marker_label: str) -> ui.echart:
    return ui.echart(histogram_options(dist, marker, marker_label)).classes("w-full").style("height: 190px")
