"""Near-duplicate finding: the pairs of images whose duplicate score passes a threshold, and their groups.

Sets are read with the **duplicates** intent (simages.nearest.core.intents: stored vectors square-rooted
and PCA-whitened with the collection's duplicates space, simages.copies.space, no query expansion). One
whitening for every set gives a pair the same score whatever set it is searched in, so one threshold
means the same thing everywhere: `DUPLICATE_COSINE`, derived from the score distributions of edited
copies and of distinct photos (docs/duplicates.md, `simages bench duplicates`). Only a whole collection
too small to learn a whitening from (fewer than 20 images) is compared on the square-rooted vectors
alone, whose scale differs: it gets `UNWHITENED_DUPLICATE_COSINE`.

Pairs are range joins at the threshold (`iter_set_join`); groups are the connected components of the
graph whose edges are the pairs (scipy.sparse.csgraph), so an image and all its copies, and copies of
copies, form one group. Images are named `set/image` throughout, so pairs across sets stay unambiguous.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.nearest.core.display import full_precision
from simages.nearest.core.intents import DUPLICATE_COSINE
from simages.nearest.core.query_spec import QuerySpec, higher_is_better
from simages.nearest.core.results import Pair
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import is_self_join, iter_set_join

# DUPLICATE_COSINE (nearest.core.intents): the whitened cosine similarity that calls two images duplicates.
# The same for a set too small to whiten (square-rooted vectors only): distinct photos score 0.54 +- 0.10.
UNWHITENED_DUPLICATE_COSINE = 0.9


def is_whitened(index: SetIndex | None) -> bool:
    """Whether the joins of `index` compare whitened vectors (None: assume a set large enough to whiten)."""
    if index is None:
        return True
    try:
        return DescriptorSpec.parse(index.applied).whiten if index.applied else False
    except ValueError:
        return False


def duplicate_threshold(metric: str = "cosine", index: SetIndex | None = None) -> float:
    """The default duplicate threshold for `metric` on the set `index` (read with the duplicates intent):
    `DUPLICATE_COSINE` for cosine similarity, `UNWHITENED_DUPLICATE_COSINE` when the set is too small to
    whiten; for Euclidean distance the distance of unit vectors with that cosine, sqrt(2 - 2 cos) (the
    duplicates space is unit length).

    ValueError for an unknown metric."""
    cosine = DUPLICATE_COSINE if is_whitened(index) else UNWHITENED_DUPLICATE_COSINE
    if higher_is_better(metric):
        return cosine
    if metric != "euclidean":
        raise ValueError(f"unknown metric {metric!r}; choose cosine or euclidean")
    unit = math.sqrt(2.0 - 2.0 * cosine)
    if index is None or not len(index):
        return unit
    length = float(np.median(np.sqrt(index.sq_norms)))
    return unit * (length if abs(length - 1.0) > 1e-3 else 1.0)


def qualified(set_name: str, image: str) -> str:
    """`set/image`: an image named across sets."""
    return f"{set_name}/{image}"


def duplicate_pairs(
    a: SetIndex, b: SetIndex | None = None, threshold: float | None = None, metric: str = "cosine"
) -> list[Pair]:
    """Pairs (a, b, score) of images of `a` and `b` whose score passes `threshold` (default:
    `duplicate_threshold`), names qualified as `set/image`, best first (then by names).

    `b` None or the same index: a self-join, each unordered pair listed once with a < b by name and never
    an image with itself (identical copies under two names are pairs). The indexes should be read with the
    duplicates intent (`get_set_index(settings, name, DUPLICATES)`). ValueError for a bad threshold or
    sets with different descriptors."""
    b = a if b is None else b
    if threshold is None:
        threshold = duplicate_threshold(metric, b)
    spec = QuerySpec.parse(metric, "range", threshold, expand=False)
    self_join = is_self_join(a, b)
    pairs = []
    for a_image, matches in iter_set_join(a, b, spec):
        left = qualified(a.set_name, a_image)
        for match in matches:
            if self_join and match.image <= a_image:
                continue  # the same pair seen from its other end
            pairs.append(Pair(left, qualified(b.set_name, match.image), match.score))
    return sort_pairs(pairs, metric)


def sort_pairs(pairs: Iterable[Pair], metric: str) -> list[Pair]:
    """Best score first, then by the two names: the same pairs always list in the same order."""
    sign = -1.0 if higher_is_better(metric) else 1.0
    return sorted(pairs, key=lambda pair: (sign * pair.score, pair.a, pair.b))


def duplicate_groups(pairs: Iterable[Pair]) -> list[list[str]]:
    """Connected components of the graph whose edges are `pairs`: each a sorted list of names, largest
    group first (then by first name). Images in no pair belong to no group.

    Uses scipy.sparse.csgraph.connected_components (union of all pairs, undirected)."""
    # Imported here: scipy.sparse costs a CLI query, which never needs groups, a quarter of a second.
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = list(pairs)
    names = sorted({pair.a for pair in pairs} | {pair.b for pair in pairs})
    if not names:
        return []
    number = {name: i for i, name in enumerate(names)}
    rows = np.array([number[pair.a] for pair in pairs], dtype=np.int64)
    cols = np.array([number[pair.b] for pair in pairs], dtype=np.int64)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (rows, cols)), shape=(len(names), len(names)))
    count, labels = connected_components(graph, directed=False)
    groups: list[list[str]] = [[] for _ in range(count)]
    for name, label in zip(names, labels.tolist(), strict=True):
        groups[label].append(name)  # names are sorted, so each group is too
    return sorted(groups, key=lambda group: (-len(group), group[0]))


@dataclass(frozen=True)
class DuplicateReport:
    """Duplicate pairs and groups at one threshold, as `simages duplicates` prints them."""

    metric: str
    threshold: float
    pairs: list[Pair]
    groups: list[list[str]] = field(default_factory=list)
    # The sets searched, and whether pairs are within the first set or between it and the others.
    sets: tuple[str, ...] = ()
    within: bool = True

    def to_json(self) -> dict[str, Any]:
        """`{"threshold", "metric", "pairs": [{"a", "b", "score"}], "groups": [[...]]}`, scores at full
        precision (a threshold equal to one keeps that pair)."""
        return {
            "threshold": full_precision(self.threshold),
            "metric": self.metric,
            "sets": list(self.sets),
            "pairs": [{"a": p.a, "b": p.b, "score": full_precision(p.score)} for p in self.pairs],
            "groups": self.groups,
        }


def find_duplicates(
    indexes: Sequence[SetIndex], threshold: float | None = None, metric: str = "cosine"
) -> DuplicateReport:
    """Duplicates within `indexes[0]` when it is the only set, else between `indexes[0]` and each of the
    others (not within any of them). The default threshold is `duplicate_threshold(metric, indexes[0])`.
    ValueError for no set, a bad threshold or sets with different descriptors."""
    if not indexes:
        raise ValueError("name at least one set")
    first = indexes[0]
    if threshold is None:
        threshold = duplicate_threshold(metric, first)
    if len(indexes) == 1:
        pairs = duplicate_pairs(first, None, threshold, metric)
    else:
        pairs = [pair for other in indexes[1:] for pair in duplicate_pairs(first, other, threshold, metric)]
        pairs = sort_pairs(pairs, metric)
    names = tuple(index.set_name for index in indexes)
    return DuplicateReport(metric, float(threshold), pairs, duplicate_groups(pairs), names, len(indexes) == 1)
