"""One set A joined with one or several sets B ("check a new folder against the whole collection").

With one B this is exactly `iter_set_join` (the code path of `simages join`). With several, each B is
joined on its own -- each scores in its own space (its PCA, its query expansion) -- and the rows of all of
them are merged per image of A, best first; a kNN join then keeps the k best over all the sets, which
are among the union of each set's k best.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.results import Match
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import iter_set_join


@dataclass(frozen=True)
class SetMatch:
    """An image `image` of set `set` and its score against a key of A."""

    set: str
    image: str
    score: float


def _best_first(matches: list[SetMatch], higher_is_better: bool) -> list[SetMatch]:
    # Ties broken by (set, image) names, as the single-set join breaks them by image name.
    if higher_is_better:
        return sorted(matches, key=lambda m: (-m.score, m.set, m.image))
    return sorted(matches, key=lambda m: (m.score, m.set, m.image))


def iter_multi_join(
    a: SetIndex, bs: Sequence[SetIndex], spec: QuerySpec
) -> Iterator[tuple[str, list[SetMatch]]]:
    """For each image of A in name order, its matches in the sets `bs`, best first.

    Raises ValueError when `bs` is empty or a set holds descriptors of another dimension (from
    `iter_set_join`). A set of `bs` that is A itself is a self-join: no image is paired with itself."""
    if not bs:
        raise ValueError("choose at least one set to search")
    if len(bs) == 1:
        b = bs[0]
        for a_image, matches in iter_set_join(a, b, spec):
            yield a_image, [SetMatch(b.set_name, m.image, m.score) for m in matches]
        return
    streams = [iter_set_join(a, b, spec) for b in bs]
    for rows in zip(*streams, strict=True):
        a_image = rows[0][0]
        merged = [SetMatch(b.set_name, m.image, m.score)
                  for b, (_, ms) in zip(bs, rows, strict=True) for m in ms]
        merged = _best_first(merged, spec.higher_is_better)
        if spec.predicate == "knn":
            merged = merged[: int(spec.param)]
        yield a_image, merged


def as_matches(row: list[SetMatch]) -> list[Match]:
    """The plain matches of a one-set join row (for code written against `iter_set_join`)."""
    return [Match(m.image, m.score) for m in row]
