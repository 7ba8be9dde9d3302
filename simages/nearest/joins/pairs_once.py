"""A range self-join's pairs of images, each listed once.

A self-join finds x ~ y from x's row and y ~ x from y's row. A curator counting duplicates wants each
pair of images once, so a range self-join lists the unordered pair {x, y} once, as (a, b) with a < b by
name, scored with the better of its two directed scores (they differ with query expansion: each key is
expanded with its own neighbours). The pair passes when either direction passes, as the app's pairs view
counts it (`join_pairs.JoinPairs.distinct`).

A pair is written when the second of its two rows has been seen, so the rows may come in any order and
memory holds only the passing pairs whose second row is still to come (never |A|^2 scores). kNN
self-joins stay directed: x's k nearest need not count x among theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from simages.nearest.core.results import Match


class PairOnce(NamedTuple):
    """One pair of images of a self-join: names a < b, the better of its two directed scores."""

    a: str
    b: str
    score: float


class PairsOnce:
    """Feed it a range self-join's rows (image, matches best first); `add` returns the pairs completed
    by that row, best first (then by names)."""

    def __init__(self, higher_is_better: bool) -> None:
        self.higher_is_better = higher_is_better
        self.count = 0
        self._seen: set[str] = set()
        # For a row still to come, the scores its partners already seen gave it.
        self._waiting: dict[str, dict[str, float]] = {}

    def _better(self, x: float, y: float) -> float:
        return max(x, y) if self.higher_is_better else min(x, y)

    def add(self, image: str, matches: Iterable[Match]) -> list[PairOnce]:
        """The pairs whose second row is `image`: its matches with images seen before, and the pairs
        those images found with it (whether or not `image` found them back)."""
        earlier = self._waiting.pop(image, {})
        done: dict[str, float] = {}
        for match in matches:
            if match.image == image:
                continue
            if match.image in self._seen:
                score = match.score
                if match.image in earlier:
                    score = self._better(score, earlier.pop(match.image))
                done[match.image] = self._better(score, done.get(match.image, score))
            else:
                later = self._waiting.setdefault(match.image, {})
                later[image] = self._better(match.score, later.get(image, match.score))
        done.update(earlier)  # found only from the other end
        self._seen.add(image)
        sign = -1.0 if self.higher_is_better else 1.0
        pairs = sorted(
            (PairOnce(*sorted((image, other)), float(score)) for other, score in done.items()),
            key=lambda p: (sign * p.score, p.a, p.b),
        )
        self.count += len(pairs)
        return pairs

    def rest(self) -> list[PairOnce]:
        """Pairs whose second image never had a row (a join of only some rows): best first."""
        sign = -1.0 if self.higher_is_better else 1.0
        pairs = sorted((PairOnce(*sorted((later, first)), float(score))
                        for later, firsts in self._waiting.items() for first, score in firsts.items()),
                       key=lambda p: (sign * p.score, p.a, p.b))
        self._waiting.clear()
        self.count += len(pairs)
        return pairs


def iter_pairs_once(
    rows: Iterable[tuple[str, list[Match]]], higher_is_better: bool
) -> Iterator[list[PairOnce]]:
    """For each row of a range self-join, the pairs of images it completes (see the module)."""
    once = PairsOnce(higher_is_better)
    for image, matches in rows:
        yield once.add(image, matches)
    rest = once.rest()
    if rest:
        yield rest
