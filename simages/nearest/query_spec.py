"""What a join asks for: a metric, a predicate and its parameter, validated with messages meant for users.

The CLI and the GUI both build a `QuerySpec` from text the user typed, so the wording of every error
names the option and the accepted values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

METRICS = ("cosine", "euclidean")
PREDICATES = ("knn", "range")


def higher_is_better(metric: str) -> bool:
    """Cosine is a similarity (larger = closer); Euclidean is a distance (smaller = closer)."""
    return metric == "cosine"


@dataclass(frozen=True)
class QuerySpec:
    metric: str
    predicate: str
    param: float | int

    def __post_init__(self) -> None:
        # Direct construction gets the same checks as parse(), so an invalid spec never exists.
        QuerySpec._check(self.metric, self.predicate, self.param)

    @property
    def higher_is_better(self) -> bool:
        return higher_is_better(self.metric)

    def describe(self) -> str:
        """Short human text, e.g. `10 nearest by cosine` or `cosine >= 0.8`."""
        if self.predicate == "knn":
            kind = "similarity" if self.higher_is_better else "distance"
            return f"{self.param} nearest by {self.metric} {kind}"
        op = ">=" if self.higher_is_better else "<="
        name = "cosine similarity" if self.higher_is_better else "Euclidean distance"
        return f"{name} {op} {self.param:g}"

    @staticmethod
    def _check(metric: str, predicate: str, param: float | int) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose {' or '.join(METRICS)}")
        if predicate not in PREDICATES:
            raise ValueError(f"unknown predicate {predicate!r}; choose knn (k nearest) or range (threshold)")
        if predicate == "knn":
            if isinstance(param, bool) or not isinstance(param, int) or param < 1:
                raise ValueError(f"k must be a positive integer, got {param!r}")
            return
        if isinstance(param, bool) or not isinstance(param, (int, float)) or not math.isfinite(param):
            raise ValueError(f"the range threshold must be a finite number, got {param!r}")
        if metric == "cosine" and not -1.0 <= param <= 1.0:
            raise ValueError(f"a cosine similarity threshold must lie between -1 and 1, got {param:g}")
        if metric == "euclidean" and param < 0:
            raise ValueError(f"a Euclidean distance threshold must be 0 or more, got {param:g}")

    @classmethod
    def parse(cls, metric: str, predicate: str, param: str | float | int) -> QuerySpec:
        """Build a spec from user input (text or numbers); ValueError with a friendly message if invalid."""
        metric = str(metric).strip().lower()
        predicate = str(predicate).strip().lower()
        if predicate in ("k", "nn", "k-nn"):
            predicate = "knn"
        value: float | int = _parse_k(param) if predicate == "knn" else _parse_threshold(param)
        return cls(metric, predicate, value)


def _parse_k(param: str | float | int) -> int:
    if isinstance(param, bool):
        raise ValueError("k must be a positive integer")
    if isinstance(param, int):
        return param
    if isinstance(param, float):
        if param.is_integer():
            return int(param)
        raise ValueError(f"k must be a positive integer, got {param:g}")
    text = str(param).strip()
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"k must be a positive integer, got {text!r}") from None


def _parse_threshold(param: str | float | int) -> float:
    if isinstance(param, bool):
        raise ValueError("the range threshold must be a number")
    if isinstance(param, (int, float)):
        return float(param)
    text = str(param).strip()
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"the range threshold must be a number, got {text!r}") from None
