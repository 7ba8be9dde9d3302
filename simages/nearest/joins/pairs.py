"""What the app keeps of a set join: the passing pairs best first (at most `keep` of them), counts, groups.

A join of large sets may pass far more pairs than anyone can page through (a loose range threshold on
100k x 100k passes billions), so the collector keeps only the best `keep` pairs, in bounded memory, and
counts all of them; the CSV export streams every pair from the join itself instead (see gui/join_export).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from simages.nearest.joins.multi import SetMatch

# Pairs kept for display: far more than anyone pages through, ~30 MB at most.
DEFAULT_KEEP = 200_000


@dataclass(frozen=True)
class JoinPair:
    """One passing pair: image `a` of set A, image `b` of set `b_set`, their score."""

    a: str
    b_set: str
    b: str
    score: float


def node(set_name: str, image: str) -> str:
    """An image's name across sets, `set/image`, as in the groups of `simages duplicates --format json`."""
    return f"{set_name}/{image}"


class PairCollector:
    """Keeps the best `keep` pairs seen so far (ties by names), counts every pair added."""

    def __init__(self, higher_is_better: bool, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.higher_is_better = higher_is_better
        self.keep = keep
        self.passed = 0
        self._pairs: list[JoinPair] = []

    def _sort_key(self, pair: JoinPair) -> tuple[float, str, str, str]:
        return (-pair.score if self.higher_is_better else pair.score, pair.a, pair.b_set, pair.b)

    def add(self, a_image: str, matches: Iterable[SetMatch]) -> None:
        for m in matches:
            self._pairs.append(JoinPair(a_image, m.set, m.image, m.score))
            self.passed += 1
        # Trimming only when twice over keeps the cost of sorting amortised over many rows.
        if len(self._pairs) > 2 * self.keep:
            self._trim()

    def _trim(self) -> None:
        self._pairs.sort(key=self._sort_key)
        del self._pairs[self.keep :]

    def best(self) -> list[JoinPair]:
        """The kept pairs, best first."""
        self._trim()
        return list(self._pairs)


@dataclass(frozen=True)
class JoinPairs:
    """The outcome of a join as the app shows it.

    `pairs` are the best passing pairs, best first (all of them unless `passed` > len(pairs));
    `keys` are A's images in name order; `total` is how many pairs were compared (|A| x |B| summed over
    the searched sets, less the image-with-itself pairs of a self-join), both counted per direction.
    `pairs_of_images`: for a range self-join, how many pairs of images pass (each unordered pair once,
    as its CSV lists them: nearest/pairs_once), else None. `below`: see `is_below`."""

    a_set: str
    b_sets: tuple[str, ...]
    higher_is_better: bool
    keys: list[str]
    pairs: list[JoinPair]
    passed: int
    total: int
    self_join: bool = False
    pairs_of_images: int | None = None
    # The last `below` of `pairs`: copies whose score misses the threshold, found among each new photo's
    # nearest by their keypoints (a join of A against other sets, duplicates intent:
    # simages.nearest.duplicates.exact.copies_among_nearest); not counted in `passed`.
    below: int = 0
    # For each image of A, the positions of its pairs in `pairs` (best first).
    by_key: dict[str, list[int]] = field(init=False, repr=False, compare=False)
    # Positions of the pairs to list one per pair of images: a self-join finds x ~ y and y ~ x, and a
    # person reviewing duplicates wants to see them once (with the better of the two scores).
    distinct: list[int] = field(init=False, repr=False, compare=False)
    distinct_set: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[int]] = {}
        for position, pair in enumerate(self.pairs):
            grouped.setdefault(pair.a, []).append(position)
        object.__setattr__(self, "by_key", grouped)
        object.__setattr__(self, "distinct", self._distinct())
        object.__setattr__(self, "distinct_set", frozenset(self.distinct))

    def _distinct(self) -> list[int]:
        if not self.self_join:
            return list(range(len(self.pairs)))
        seen: set[tuple[str, str]] = set()
        keep = []
        for position, pair in enumerate(self.pairs):
            if pair.b_set != self.a_set:
                keep.append(position)
                continue
            edge = (pair.a, pair.b) if pair.a < pair.b else (pair.b, pair.a)
            if edge not in seen:  # pairs are best first: the first seen has the better score
                seen.add(edge)
                keep.append(position)
        return keep

    @property
    def images_compared_once(self) -> int:
        """Pairs of images a self-join compares, each once: |A| (|A| - 1) / 2."""
        return len(self.keys) * (len(self.keys) - 1) // 2

    @property
    def complete(self) -> bool:
        """Whether every passing pair is kept (else only the best `len(pairs)`)."""
        return self.passed == len(self.pairs) - self.below

    def is_below(self, position: int) -> bool:
        """Whether `pairs[position]` is a copy listed below the threshold (one of the `below` last)."""
        return position >= len(self.pairs) - self.below

    def with_below(self, found: Iterable[JoinPair]) -> JoinPairs:
        """These pairs and, after them, copies `found` below the threshold (best first; see `is_below`)."""
        found = list(found)
        return dataclasses.replace(self, pairs=[*self.pairs, *found], below=self.below + len(found))

    def edges(self) -> list[tuple[str, str]]:
        """The kept pairs as edges between `set/image` nodes; a self-join's A and B are the same nodes."""
        return [(node(self.a_set, p.a), node(p.b_set, p.b)) for p in self.pairs]
