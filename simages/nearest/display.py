"""What is shown is what is compared: how scores are written for people, and how a threshold is applied.

A range query keeps an image when its score passes the threshold (`passes`: similarity >= T, distance
<= T, on the score exactly as computed). A score is shown *rounded toward the cut-off side*: a similarity
is rounded down, a distance up, to the decimals shown. So a threshold typed from any shown score, at any
precision, always includes that image (shown similarity <= true similarity), and never pulls in an image
whose score the page shows below it. JSON carries the full value (`full_precision`), which passes
exactly. Every display of scores (CLI table and CSV, the app) goes through `format_score` /
`format_score_short`.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np

from simages.nearest.query_spec import higher_is_better

# Decimals of scores in CLI tables and CSV: far below any meaningful difference between two images.
SCORE_DECIMALS = 6
# Significant digits of scores on the app's thumbnails, where space is short.
SHORT_DIGITS = 3


def passes(scores: np.ndarray | float, threshold: float, metric: str) -> np.ndarray | bool:
    """Whether scores pass a range threshold: similarity >= T (cosine), distance <= T (Euclidean).

    `scores` are the values joins compute (float32 or float); the comparison is exact, so a threshold
    equal to a score, or to that score as `format_score` writes it, keeps the image."""
    if higher_is_better(metric):
        return np.asarray(scores) >= threshold if isinstance(scores, np.ndarray) else scores >= threshold
    return np.asarray(scores) <= threshold if isinstance(scores, np.ndarray) else scores <= threshold


def shown_value(score: float, metric: str, decimals: int = SCORE_DECIMALS) -> Decimal:
    """The score rounded to `decimals` toward the cut-off side: down for a similarity, up for a distance.

    Exact (the float is converted to Decimal without error), so `passes(score, float(shown), metric)` holds
    for every score. NaN or infinite scores raise ValueError."""
    value = float(score)
    if not math.isfinite(value):
        raise ValueError(f"cannot show a score of {value}")
    step = Decimal(1).scaleb(-decimals)
    rounding = ROUND_FLOOR if higher_is_better(metric) else ROUND_CEILING
    shown = Decimal(value).quantize(step, rounding=rounding)
    return shown + 0  # turns -0.000 into 0.000


def format_score(score: float, metric: str, decimals: int = SCORE_DECIMALS) -> str:
    """`shown_value` as text with exactly `decimals` decimals (CLI tables, CSV): 0.869171, 1.000000."""
    return f"{shown_value(score, metric, decimals):.{decimals}f}"


def short_decimals(score: float, digits: int = SHORT_DIGITS) -> int:
    """Decimals that show `digits` significant digits of a score of this size (at least `digits`
    decimals below 1, none from 10**digits up): 0.873, 12.4, 1234."""
    magnitude = abs(float(score))
    if magnitude < 1:
        return digits
    return max(0, digits - 1 - math.floor(math.log10(magnitude)))


def format_score_short(score: float, metric: str, digits: int = SHORT_DIGITS) -> str:
    """A score for a crowded screen: similarities with `digits` decimals (0.873), distances with about
    `digits` significant digits (0.412, 12.4, 1,235), rounded like `format_score` so a threshold typed
    from it includes the image."""
    decimals = digits if higher_is_better(metric) else short_decimals(score, digits)
    shown = shown_value(score, metric, decimals)
    return f"{shown:,.{decimals}f}" if abs(shown) >= 1000 else f"{shown:.{decimals}f}"


def full_precision(score: float) -> float:
    """The score as a JSON number carrying every bit: a float32 score converts to float exactly, and
    Python writes the shortest text that reads back to the same value."""
    return float(score)
