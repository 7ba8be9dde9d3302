"""What a join asks for: a metric, a predicate and its parameter, validated with messages meant for users.

`expand` says whether a key goes through the searched set's query expansion (when its descriptor has `qe`):
on by default; off, every score is measured from the key itself (an exact copy of the key scores 1.0).

The CLI and the GUI both build a `QuerySpec` from text the user typed, so the wording of every error
names the option and the accepted values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

METRICS = ("cosine", "euclidean")
# No Euclidean distance between float32 descriptors exceeds this (its square is float32's largest value),
# so a larger range threshold asks for every image and is answered as this one: `--range 1e308` lists the
# whole set instead of overflowing when the threshold is squared.
MAX_DISTANCE = math.sqrt(3.4028234663852886e38)
PREDICATES = ("knn", "range")


def higher_is_better(metric: str) -> bool:
    """Cosine is a similarity (larger = closer); Euclidean is a distance (smaller = closer)."""
    return metric == "cosine"


@dataclass(frozen=True)
class QuerySpec:
    metric: str
    predicate: str
    param: float | int
    # Average query expansion when the searched set's descriptor has it (`qe`); False measures from the key.
    expand: bool = True

    def __post_init__(self) -> None:
        # Direct construction gets the same checks as parse(), so an invalid spec never exists.
        QuerySpec._check(self.metric, self.predicate, self.param)
        if self.predicate == "range" and self.metric == "euclidean" and self.param > MAX_DISTANCE:
            object.__setattr__(self, "param", MAX_DISTANCE)
        if not isinstance(self.expand, bool):
            raise ValueError(f"query expansion must be on or off (True or False), got {self.expand!r}")

    @property
    def higher_is_better(self) -> bool:
        return higher_is_better(self.metric)

    def describe(self) -> str:
        """Short human text, e.g. `10 nearest by cosine similarity` or `cosine similarity >= 0.8`, followed
        by `, without query expansion` when expansion is switched off."""
        if self.predicate == "knn":
            kind = "similarity" if self.higher_is_better else "distance"
            text = f"{self.param} nearest by {self.metric} {kind}"
        else:
            op = ">=" if self.higher_is_better else "<="
            name = "cosine similarity" if self.higher_is_better else "Euclidean distance"
            text = f"{name} {op} {self.param:g}"
        return text if self.expand else text + ", without query expansion"

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
    def parse(
        cls, metric: str, predicate: str, param: str | float | int, expand: bool | str = True
    ) -> QuerySpec:
        """Build a spec from user input (text or numbers); ValueError with a friendly message if invalid.
        `expand` may be a bool or text (1/0, on/off, true/false, yes/no)."""
        metric = str(metric).strip().lower()
        predicate = str(predicate).strip().lower()
        if predicate in ("k", "nn", "k-nn"):
            predicate = "knn"
        value: float | int = _parse_k(param) if predicate == "knn" else _parse_threshold(param)
        return cls(metric, predicate, value, _parse_switch(expand))


_ON = ("1", "on", "true", "yes")
_OFF = ("0", "off", "false", "no")


def _parse_switch(value: bool | str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _ON or text in _OFF:
        return text in _ON
    raise ValueError(f"query expansion must be on (1) or off (0), got {text!r}")


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
