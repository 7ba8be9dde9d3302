"""What is shown is what is compared: how scores are written for people, and how a threshold is applied.

A range query keeps an image when its score passes the threshold (`passes`: similarity >= T, distance
<= T, on the score exactly as computed). A score is shown *rounded toward the cut-off side*: a similarity
is rounded down, a distance up, to the decimals shown. So a threshold typed from any shown score, at any
precision, always includes that image (shown similarity <= true similarity), and never pulls in an image
whose score the page shows below it. JSON carries the full value (`full_precision`), which passes
exactly. Every display of scores (CLI table and CSV, the app) goes through `format_score` /
`format_score_short`.

A threshold made from a score (a suggested one, a click on a histogram, a default) is written by
`threshold_from_score`: as short as a threshold field shows it, rounded toward the side that keeps that
score. A threshold is printed back by `format_threshold`, exactly as it is compared (never re-rounded as
if it were a score: 0.7 as a float lies below 0.7, and rounding it down would print 0.699).
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

import numpy as np

from simages.nearest.core.query_spec import higher_is_better

# Decimals of scores in CLI tables and CSV: far below any meaningful difference between two images.
SCORE_DECIMALS = 6
# Significant digits of scores on the app's thumbnails, where space is short.
SHORT_DIGITS = 3
# Digits of a threshold made from a score: decimals of a similarity, significant digits of a distance.
THRESHOLD_DIGITS = 3
THRESHOLD_DISTANCE_DIGITS = 4


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


def threshold_from_score(score: float, metric: str) -> str:
    """The text of the range threshold a score becomes (a suggestion, a click on a histogram, a
    default): the value nearest to `score` at THRESHOLD_DIGITS decimals (similarity) or
    THRESHOLD_DISTANCE_DIGITS significant digits (distance), moved one step toward the cut-off side when
    the nearest would leave `score` out. So `passes(score, float(text), metric)` always holds, and a
    threshold already written this way is written again unchanged (0.988 stays 0.988; 0.988844 becomes
    0.988, not 0.989). NaN or infinite scores raise ValueError."""
    value = float(score)
    if not math.isfinite(value):
        raise ValueError(f"cannot make a threshold of {value}")
    higher = higher_is_better(metric)
    decimals = THRESHOLD_DIGITS if higher else short_decimals(value, THRESHOLD_DISTANCE_DIGITS)
    step = Decimal(1).scaleb(-decimals)
    shown = Decimal(value).quantize(step, rounding=ROUND_HALF_EVEN)
    if not passes(value, float(shown), metric):
        shown += -step if higher else step
    return f"{shown + 0:.{decimals}f}"


def format_threshold(threshold: float) -> str:
    """A threshold printed exactly as it is compared: the shortest decimal text that reads back to the
    same float (0.7, 0.988, 12.35), never in exponent form. ValueError for NaN or infinity."""
    value = float(threshold)
    if not math.isfinite(value):
        raise ValueError(f"not a threshold: {value}")
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text
