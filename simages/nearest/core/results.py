"""Answers of joins as small immutable values, with the JSON shape the CLI prints and the GUI consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simages.nearest.core.display import full_precision


def _score(value: float) -> float:
    # Full precision: a threshold copied from the JSON keeps that very image (simages.nearest.core.display).
    return full_precision(value)


@dataclass(frozen=True)
class Match:
    image: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "score": _score(self.score)}


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "score": _score(self.score)}


@dataclass(frozen=True)
class KeyResult:
    """One key against one set. For a range query `passed` counts every image that passed, even when
    `matches` was cut to a display limit; for kNN it is None. `total` is the number of images searched."""

    key: str
    set: str
    metric: str
    predicate: str
    param: float | int
    matches: list[Match]
    passed: int | None
    total: int
    # Neighbours averaged into the key by query expansion; 0 when it was off or the descriptor has none.
    expansion: int = 0
    # "exact", or the ANN method that proposed the candidates (e.g. "hnsw"); `search_note` says in words
    # why an exact search answered a query that could have used an index (missing or stale index...).
    search: str = "exact"
    search_note: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "set": self.set,
            "metric": self.metric,
            "predicate": self.predicate,
            "param": self.param,
            "expansion": self.expansion,
            "search": self.search,
            "results": [m.to_json() for m in self.matches],
        }
        if self.search_note:
            out["search_note"] = self.search_note
        if self.passed is not None:
            out["passed"] = self.passed
        return out


@dataclass(frozen=True)
class JoinResult:
    """Set x set: for every image a of `a_set` (in name order), its matches in `b_set`, best first."""

    a_set: str
    b_set: str
    metric: str
    predicate: str
    param: float | int
    groups: dict[str, list[Match]] = field(default_factory=dict)
    # Neighbours averaged into each key by query expansion; 0 when it was off or the descriptor has none.
    expansion: int = 0

    def pairs(self) -> list[Pair]:
        return [Pair(a, m.image, m.score) for a, matches in self.groups.items() for m in matches]

    @property
    def pair_count(self) -> int:
        return sum(len(matches) for matches in self.groups.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "a_set": self.a_set,
            "b_set": self.b_set,
            "metric": self.metric,
            "predicate": self.predicate,
            "param": self.param,
            "expansion": self.expansion,
            "results": {a: [m.to_json() for m in matches] for a, matches in self.groups.items()},
        }
