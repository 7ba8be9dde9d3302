"""Near-duplicate finding: the pairs of images whose duplicate score passes a threshold, and their groups.

Sets are read with the **duplicates** intent (simages.nearest.core.intents: stored vectors square-rooted
and PCA-whitened with the collection's duplicates space, simages.copies.space, no query expansion). One
whitening for every set gives a pair the same score whatever set it is searched in, so one threshold
means the same thing everywhere: `DUPLICATE_COSINE`, derived from the score distributions of edited
copies and of distinct photos (docs/duplicates.md, `simages bench duplicates`). Only a whole collection
too small to learn a whitening from (fewer than 20 images) is compared on the square-rooted vectors
alone, whose scale differs: it gets `UNWHITENED_DUPLICATE_COSINE`.

Pairs are range joins at the threshold (`iter_set_join`), each with its level (simages.copies.levels:
exact, edited, or look-alike when a chosen threshold lies below the edited one); groups are complete-link
clusters of the duplicate pairs: a photo and its copies, every two of them a pair, so look-alikes never
chain unrelated photos into one group. Images are named `set/image` throughout, so pairs across sets
stay unambiguous.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from simages.copies.levels import (
    DEFAULT_THRESHOLDS,
    UNWHITENED_THRESHOLDS,
    Level,
    LevelThresholds,
    below_threshold,
    identical_vectors,
    is_duplicate,
    level_of,
)
from simages.copies.pixels import same_pixels
from simages.copies.verification import PROMOTED, LocalFeatureCache, file_verifier
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.nearest.core.display import full_precision, passes
from simages.nearest.core.intents import DUPLICATE_COSINE, UNWHITENED_DUPLICATE_COSINE
from simages.nearest.core.query_spec import QuerySpec, higher_is_better
from simages.nearest.core.results import Pair
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.plain_nearest import plain_nearest_pairs
from simages.nearest.joins.join import is_self_join, iter_set_join

# DUPLICATE_COSINE and UNWHITENED_DUPLICATE_COSINE (nearest.core.intents, where the CLI's help reads them):
# the whitened cosine similarity that calls two images duplicates, and the same for a set too small to whiten.


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
    return sorted(pairs, key=lambda pair: _order(pair, metric))


def linked_groups(pairs: Iterable[Pair]) -> list[list[str]]:
    """Connected components of the graph whose edges are `pairs` (scipy.sparse.csgraph): the groups of a
    similar-images join, where a chain of alike images is one group. Sorted lists of names, largest first
    (then by first name); images in no pair belong to no group. Duplicates use `duplicate_groups`."""
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


def duplicate_groups(pairs: Iterable[Pair], higher_is_better: bool = True,
                     compared: Callable[[str, str], bool] | None = None) -> list[list[str]]:
    """Groups of copies that do not chain: complete-link clustering of the graph whose edges are `pairs`,
    cut where a pair is missing. Every two images of a group that were compared form a pair (a photo and
    its copies are all copies of one another), so a chain of look-alikes (A~B, B~C, but not A~C) never
    makes one group. `compared(x, y)`: whether the search compared those two images (`compared_pairs`;
    None: every two were, a self-join); a pair never searched for (two images of the new set in a join
    of the new set against the collection) is no evidence against a group.
    Edges are taken strongest first: most shared partners first (the images both are paired with: an edge
    inside a group of copies shares the rest of the group, a stray look-alike pair shares nothing;
    shared-neighbour support, Jarvis & Patrick, IEEE Trans. Computers 1973), then best score
    (`higher_is_better`: scores are similarities, else distances); two groups merge when every compared
    image of one pairs with every image of the other. Complete linkage splits, it never drops: an image
    of a pair whose partners all went to groups it cannot join forms a group of two with its best
    partner, who is then in two groups (both pairs are copies; the two others were not found alike).
    Each group is a sorted list of names, largest first (then by first name).

    Complete linkage: e.g. Manning, Raghavan & Schuetze, "Introduction to Information Retrieval", 17.2."""
    pairs = list(pairs)
    neighbours: dict[str, set[str]] = {}
    for pair in pairs:
        neighbours.setdefault(pair.a, set()).add(pair.b)
        neighbours.setdefault(pair.b, set()).add(pair.a)
    group_of = {name: name for name in neighbours}
    members = {name: [name] for name in neighbours}
    sign = -1.0 if higher_is_better else 1.0
    def strength(pair: Pair) -> tuple[int, float, str, str]:
        shared = len(neighbours[pair.a] & neighbours[pair.b])
        return (-shared, sign * pair.score, pair.a, pair.b)

    def linked(member: str, other: str) -> bool:
        return other in neighbours[member] or (compared is not None and not compared(member, other))

    for pair in sorted(pairs, key=strength):
        first, second = group_of[pair.a], group_of[pair.b]
        if first == second:
            continue
        big, small = (first, second) if len(members[first]) >= len(members[second]) else (second, first)
        if all(linked(member, other) for other in members[small] for member in members[big]):
            for name in members[small]:
                group_of[name] = big
            members[big].extend(members.pop(small))
    groups = [sorted(group) for group in members.values() if len(group) > 1]
    alone = sorted(name for name, group in members.items() if len(group) == 1)
    groups += [sorted((name, best_by_score(name, pairs, higher_is_better))) for name in alone]
    return sorted(groups, key=lambda group: (-len(group), group[0]))


def best_by_score(name: str, pairs: Sequence[Pair], higher_is_better: bool = True) -> str:
    """The partner of `name` in its best-scoring pair among `pairs` (ties: the first name)."""
    sign = -1.0 if higher_is_better else 1.0
    scored = [(sign * p.score, p.b if p.a == name else p.a) for p in pairs if name in (p.a, p.b)]
    return min(scored)[1]


def compared_pairs(a_set: str, b_sets: Iterable[str]) -> Callable[[str, str], bool]:
    """Which two images (qualified `set/image`) a join of `a_set` against `b_sets` compared: one of A with
    one of a searched set (A with itself when A is among them, a self-join); two images of A in a join
    against other sets, or of two searched sets, never were."""
    searched = frozenset(b_sets)

    def were_compared(x: str, y: str) -> bool:
        x_set, y_set = x.partition("/")[0], y.partition("/")[0]
        return (x_set == a_set and y_set in searched) or (y_set == a_set and x_set in searched)

    return were_compared


def pair_levels(pairs: Sequence[Pair], indexes: Sequence[SetIndex], metric: str,
                files: Callable[[str], Path] | None = None,
                local: LocalFeatureCache | None = None,
                promoted: set[tuple[str, str]] | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[Level]:
    """The level of each pair (simages.copies.levels): EXACT when the two stored vectors are identical,
    else from its score with the thresholds of the space the sets are compared in (`level_thresholds`).
    `files` (qualified name -> image file, `simages.copies.pixels.image_files`): an EXACT pair is
    confirmed by its files (the same pixels), else it is EDITED; an EDITED pair is verified on the files'
    local features (simages.copies.verification, features kept in `local`, one cache for the whole call
    when None): two different photos are a LOOK_ALIKE. A pair in `promoted` (one of a new photo's nearest)
    is verified even below the threshold, and is EDITED when its keypoints prove a copy. `progress(done,
    total)` is called after each pair (the app counts the keypoint checks left)."""
    by_set = {index.set_name: index for index in indexes}
    thresholds = level_thresholds(indexes[-1] if indexes else None)
    if files is not None and local is None:
        local = LocalFeatureCache()
    levels = []
    for pair in pairs:
        check = verified = None
        if files is not None:
            check = partial(same_pixels, files(pair.a), files(pair.b))
            verified = file_verifier(files(pair.a), files(pair.b), local)
        levels.append(level_of(pair.score, _identical(pair, by_set), metric=_level_metric(metric),
                               thresholds=thresholds, same_pixels=check, verified=verified,
                               promote=promoted is not None and (pair.a, pair.b) in promoted))
        if progress is not None:
            progress(len(levels), len(pairs))
    return levels


def _level_metric(metric: str) -> str:
    return "cosine" if higher_is_better(metric) else "euclidean"


def _identical(pair: Pair, by_set: dict[str, SetIndex]) -> bool:
    try:
        a_set, a_image = pair.a.split("/", 1)
        b_set, b_image = pair.b.split("/", 1)
        return identical_vectors(by_set[a_set].raw_vector(a_image), by_set[b_set].raw_vector(b_image))
    except (KeyError, LookupError, ValueError):
        return False


def level_thresholds(index: SetIndex | None) -> LevelThresholds:
    """The level thresholds for pairs scored in `index`'s duplicates space: DEFAULT_THRESHOLDS when it is
    whitened, UNWHITENED_THRESHOLDS on square-rooted vectors alone (a collection under 20 images)."""
    return DEFAULT_THRESHOLDS if is_whitened(index) else UNWHITENED_THRESHOLDS


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
    # The level of each pair (same order as `pairs`); empty for a report made without them.
    levels: tuple[Level, ...] = ()

    def level(self, number: int) -> Level:
        """The level of `pairs[number]` (EDITED when the report has none: it passed the threshold)."""
        return self.levels[number] if self.levels else Level.EDITED

    def to_json(self) -> dict[str, Any]:
        """`{"threshold", "metric", "sets", "pairs": [{"a", "b", "score", "level"}], "levels": {level:
        pairs}, "groups": [[...]]}`, scores at full precision (a threshold equal to one keeps that pair).
        Levels are "exact", "edited", or "look-alike" / "new" for a pair kept by a threshold chosen below
        the edited one (not a duplicate; "Different" in tables); a copy listed below the threshold has
        `"below_threshold": true`; a report without levels (a similar-images join) has neither
        "level" nor "levels"."""
        pairs: list[dict[str, Any]] = [
            {"a": p.a, "b": p.b, "score": full_precision(p.score)} for p in self.pairs
        ]
        body: dict[str, Any] = {
            "threshold": full_precision(self.threshold),
            "metric": self.metric,
            "sets": list(self.sets),
            "pairs": pairs,
        }
        if self.levels:
            counts = {level.value: 0 for level in Level}
            for row, pair, level in zip(pairs, self.pairs, self.levels, strict=True):
                row["level"] = level.value
                counts[level.value] += 1
                if below_threshold(pair.score, level, self.threshold, higher_is_better(self.metric)):
                    row["below_threshold"] = True  # a new photo's nearest, a copy by its keypoints
            body["levels"] = counts
        body["groups"] = self.groups
        return body

    def level_counts(self) -> dict[Level, int]:
        """How many pairs have each level (every level listed, strongest first)."""
        counts = dict.fromkeys(Level, 0)
        for number in range(len(self.pairs)):
            counts[self.level(number)] += 1
        return counts


def find_duplicates(
    indexes: Sequence[SetIndex], threshold: float | None = None, metric: str = "cosine",
    files: Callable[[str], Path] | None = None, local: LocalFeatureCache | None = None,
) -> DuplicateReport:
    """Duplicates within `indexes[0]` when it is the only set, else between `indexes[0]` and each of the
    others (not within any of them): there each new photo's nearest are verified below the threshold too
    (`copies_among_nearest`, when the `files` are known). The default threshold is
    `duplicate_threshold(metric, indexes[0])`. `files` and `local`: as `pair_levels` takes them (the
    verifications are kept in `local`). ValueError for no set, a bad threshold or sets with different
    descriptors."""
    if not indexes:
        raise ValueError("name at least one set")
    first = indexes[0]
    if threshold is None:
        threshold = duplicate_threshold(metric, first)
    if len(indexes) == 1:
        pairs = duplicate_pairs(first, None, threshold, metric)
        return report_of(indexes, pairs, threshold, metric, files, local=local)
    pairs = [pair for other in indexes[1:] for pair in duplicate_pairs(first, other, threshold, metric)]
    pairs = sort_pairs(pairs, metric)
    if files is not None and local is None:
        local = LocalFeatureCache()
    found: list[tuple[Pair, Level]] = []
    if files is not None:  # new photos against the collection: their nearest are verified too
        spec = QuerySpec.parse(metric, "range", threshold, expand=False)
        found = copies_among_nearest(first, indexes[1:], spec, files, local=local)
    promoted = nearest_pairs(pairs, higher_is_better(metric))
    return report_of(indexes, pairs, threshold, metric, files, promoted, local, found)


def copies_among_nearest(
    a: SetIndex, others: Sequence[SetIndex], spec: QuerySpec, files: Callable[[str], Path], *,
    candidates: Sequence[Pair] | None = None, local: LocalFeatureCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[Pair, Level]]:
    """The copies of new photos that a range join of `a` against `others` at `spec` misses: of the
    `candidates` (default `candidates_below`: each image of `a`'s PROMOTED nearest over all of `others`
    whose score does not pass `spec`), those whose keypoints make them a copy (`pair_levels` with the
    pairs promoted: a turned, framed or collaged copy scores low), each with its level (EXACT or EDITED),
    best first. The one rule behind `simages duplicates NEW SET` and a join of A against other sets
    (`simages join`, /join); triage and queries apply it to one photo. `progress(done, total)` follows
    the keypoint checks."""
    if candidates is None:
        candidates = candidates_below(a, others, spec)
    levels = pair_levels(candidates, [a, *others], spec.metric, files, local,
                         {(p.a, p.b) for p in candidates}, progress=progress)
    return [(pair, level) for pair, level in zip(candidates, levels, strict=True) if is_duplicate(level)]


def candidates_below(a: SetIndex, others: Sequence[SetIndex], spec: QuerySpec, count: int = PROMOTED
                     ) -> list[Pair]:
    """Each image of `a`'s `count` nearest images over all of `others` (qualified names) whose score does
    not pass the range `spec`, best first: what `copies_among_nearest` verifies (a kNN join: cheap
    beside the keypoint checks, about 0.1 s a pair)."""
    nearest = nearest_candidates(a, others, spec.metric, count, set())
    missed = [pair for pair in nearest if not passes(pair.score, float(spec.param), spec.metric)]
    return sort_pairs(missed, spec.metric)


def nearest_candidates(a: SetIndex, others: Sequence[SetIndex], metric: str, count: int,
                       known: set[tuple[str, str]]) -> list[Pair]:
    """Each image of `a`'s `count` nearest images over all of `others` (qualified names) in their
    duplicates space, and its `count` nearest on the square-rooted vectors alone (plain_nearest: a
    relearned space never hides an original), less the pairs already `known`: the candidates a question
    about new photos verifies below the threshold, scored in the duplicates space."""
    spec = QuerySpec.parse(metric, "knn", count, expand=False)
    nearest: dict[str, list[Pair]] = {}
    for other in others:
        for a_image, matches in iter_set_join(a, other, spec):
            left = qualified(a.set_name, a_image)
            nearest.setdefault(left, []).extend(
                Pair(left, qualified(other.set_name, m.image), m.score) for m in matches)
    chosen: dict[tuple[str, str], Pair] = {}
    for found in nearest.values():
        for pair in sort_pairs(found, metric)[:count]:
            chosen.setdefault((pair.a, pair.b), pair)
    for pair in plain_nearest_pairs(a, others, metric, count):
        chosen.setdefault((pair.a, pair.b), pair)
    return [pair for key, pair in chosen.items() if key not in known]


def report_of(
    indexes: Sequence[SetIndex], pairs: list[Pair], threshold: float, metric: str,
    files: Callable[[str], Path] | None = None, promoted: set[tuple[str, str]] | None = None,
    local: LocalFeatureCache | None = None, found: Sequence[tuple[Pair, Level]] = (),
) -> DuplicateReport:
    """The report of `pairs` (best first) found in `indexes` at `threshold`: their levels (`promoted`:
    the pairs verified even below the threshold), the copies `found` below it (`copies_among_nearest`,
    with their levels) merged in, and groups of copies (pairs of a duplicate level only: look-alikes
    never group) that do not chain."""
    levels = pair_levels(pairs, indexes, metric, files, local, promoted)
    if found:
        merged = sorted([*zip(pairs, levels, strict=True), *found],
                        key=lambda row: _order(row[0], metric))
        pairs, levels = [pair for pair, _ in merged], [level for _, level in merged]
    copies = [pair for pair, level in zip(pairs, levels, strict=True) if is_duplicate(level)]
    compared = None if len(indexes) == 1 else compared_pairs(indexes[0].set_name,
                                                             [index.set_name for index in indexes[1:]])
    groups = duplicate_groups(copies, higher_is_better(metric), compared)
    names = tuple(index.set_name for index in indexes)
    return DuplicateReport(metric, float(threshold), pairs, groups, names, len(indexes) == 1, tuple(levels))


def _order(pair: Pair, metric: str) -> tuple[float, str, str]:
    """`sort_pairs`' key: best score first, then by the two names."""
    return (-pair.score if higher_is_better(metric) else pair.score, pair.a, pair.b)


def nearest_pairs(pairs: Sequence[Pair], higher_is_better: bool = True, count: int = PROMOTED
                  ) -> set[tuple[str, str]]:
    """The (a, b) of each image a's `count` best pairs among `pairs`: the candidates a join of new photos
    against other sets verifies even below its threshold (simages.copies.verification.PROMOTED)."""
    sign = -1.0 if higher_is_better else 1.0
    by_a: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_a.setdefault(pair.a, []).append(pair)
    return {(p.a, p.b) for found in by_a.values()
            for p in sorted(found, key=lambda p: sign * p.score)[:count]}
