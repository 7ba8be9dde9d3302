"""What the score chart of a duplicates join says beside its lines: score thresholds, not levels.

A pair's level comes from its score and its keypoints (an edited copy can score 0.003 and be listed, marked
*), so the chart's dashed lines are named by what a score there means, never as the levels themselves.
"""

from __future__ import annotations

from simages.copies.levels import Level, LevelThresholds
from simages.gui.widgets.histogram import level_marks
from simages.nearest.core.display import format_threshold
from simages.nearest.core.query_spec import higher_is_better

# What a score at each line means, short enough to be read along the line (the levels are the pairs' chips).
_AT_LINE = {
    Level.EXACT: ": same pixels",
    Level.EDITED: " passes",
    Level.LOOK_ALIKE: ": look-alikes",
}

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
