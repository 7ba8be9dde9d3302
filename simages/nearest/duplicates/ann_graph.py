"""Near-duplicates of a large set through its ANN kNN graph: each image's k nearest, then the threshold.

The exact self-join (`duplicates.duplicate_pairs`) compares every pair: hours for a million images. Here
the set's ANN index (built after indexing for the similar-images search, on its PCA vectors) proposes each
image's `GRAPH_K` nearest images; each proposed pair is scored exactly on the stored vectors, as the
duplicates intent scores them (no PCA, no query expansion), and kept when it passes the duplicate
threshold. Pairs, groups and the report are those of `simages.nearest.duplicates.exact` (shared, not copied).

What it can miss: a pair the index does not propose, i.e. a copy that is not among an image's `GRAPH_K`
nearest in the PCA space; a photo with more than `GRAPH_K` copies may then form smaller groups (groups
are complete-link clusters: every two images of a group must be a pair). `simages bench ann-duplicates`
measures the recall of pairs against the exact self-join.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from simages.copies.verification import LocalFeatureCache
from simages.nearest.ann import index as ann
from simages.nearest.ann.search import knn_graph
from simages.nearest.core.display import passes
from simages.nearest.core.query_spec import QuerySpec, higher_is_better
from simages.nearest.core.results import Match, Pair
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import (
    DuplicateReport,
    duplicate_threshold,
    qualified,
    report_of,
    sort_pairs,
)
from simages.nearest.sets.cache import DescriptorCache
from simages.settings import Settings

# Neighbours proposed per image: an image rarely has more than a few copies, and copies of copies join
# through their own neighbours; 10 also keeps the graph of 1M images to 10M candidate pairs.
GRAPH_K = 10


def graph_duplicate_pairs(
    stored: SetIndex,
    searched: SetIndex,
    ann_index: ann.AnnIndex,
    threshold: float | None = None,
    metric: str = "cosine",
    *,
    k: int = GRAPH_K,
    progress: Callable[[int, int], None] | None = None,
) -> list[Pair]:
    """Duplicate pairs within one set, each unordered pair once (a < b by name), best first, names
    qualified as `set/image`, like `duplicates.duplicate_pairs(stored)` but from the kNN graph.

    `stored`: the set read with the duplicates intent (its stored vectors); `searched`: the same store
    read for similar images, whose vectors `ann_index` was built on (same rows: ValueError otherwise).
    `progress(done, total)` after each batch of images."""
    if stored.names != searched.names and list(stored.names) != list(searched.names):
        raise ValueError("the two readings of the set come from different versions of its store")
    if threshold is None:
        threshold = duplicate_threshold(metric, stored)
    rows, scores = knn_graph(stored, ann_index, k, metric, progress=progress, searched=searched)
    keep = passes(scores, threshold, metric)
    keep &= rows >= 0
    a_rows = np.repeat(np.arange(len(stored)), k).reshape(-1, k)[keep]
    b_rows, values = rows[keep], scores[keep]
    # Each pair once, from the end whose name sorts first (name_rank orders names).
    first = stored.name_rank[a_rows] < stored.name_rank[b_rows]
    lo = np.where(first, a_rows, b_rows)
    hi = np.where(first, b_rows, a_rows)
    _, unique = np.unique(lo * len(stored) + hi, return_index=True)
    names, set_name = stored.names, stored.set_name
    pairs = [
        Pair(qualified(set_name, names[i]), qualified(set_name, names[j]), float(v))
        for i, j, v in zip(lo[unique].tolist(), hi[unique].tolist(), values[unique].tolist(), strict=True)
    ]
    return sort_pairs(pairs, metric)


def graph_duplicates(
    stored: SetIndex,
    searched: SetIndex,
    ann_index: ann.AnnIndex,
    threshold: float | None = None,
    metric: str = "cosine",
    *,
    k: int = GRAPH_K,
    progress: Callable[[int, int], None] | None = None,
    files: Callable[[str], Path] | None = None,
    local: LocalFeatureCache | None = None,
) -> DuplicateReport:
    """`duplicates.find_duplicates([stored])` through the kNN graph (see `graph_duplicate_pairs`);
    `files` confirms exact pairs by their pixels and verifies edited ones (`pair_levels`, the verdicts
    kept in `local`)."""
    if threshold is None:
        threshold = duplicate_threshold(metric, stored)
    pairs = graph_duplicate_pairs(stored, searched, ann_index, threshold, metric, k=k, progress=progress)
    return report_of([stored], pairs, threshold, metric, files, local=local)


def iter_graph_join(
    stored: SetIndex,
    searched: SetIndex,
    ann_index: ann.AnnIndex,
    spec: QuerySpec,
    *,
    k: int = GRAPH_K,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[str, list[Match]]]:
    """The range self-join of `stored` at `spec`'s threshold through the kNN graph, in the shape of
    `joins.iter_set_join`: each image in name order with its matches best first (a pair is listed from
    both ends, never an image with itself). The graph is computed before the first image is yielded."""
    pairs = graph_duplicate_pairs(stored, searched, ann_index, float(spec.param), spec.metric, k=k,
                                  progress=progress)
    prefix = len(stored.set_name) + 1
    by_image: dict[str, list[Match]] = {}
    for pair in pairs:
        a, b = pair.a[prefix:], pair.b[prefix:]
        by_image.setdefault(a, []).append(Match(b, pair.score))
        by_image.setdefault(b, []).append(Match(a, pair.score))
    sign = -1.0 if higher_is_better(spec.metric) else 1.0
    for row in np.argsort(stored.name_rank).tolist():
        name = stored.names[row]
        matches = by_image.get(name, [])
        yield name, sorted(matches, key=lambda m: (sign * m.score, m.image))


def graph_join_index(
    settings: Settings,
    stored: SetIndex,
    spec: QuerySpec,
    exact: bool = False,
    *,
    cache: DescriptorCache | None = None,
) -> tuple[SetIndex, ann.AnnIndex] | str | None:
    """Whether a duplicates self-join of `stored` (read with the duplicates intent) goes through the kNN
    graph: (the similar-images reading its index is built on, the index); or, for a set large enough
    for one, why not (text); None when the exact self-join is simply right (small set, --exact, kNN).

    The similar-images reading comes from `cache`, the caller's (the app's, so a large set is not held
    twice); without one it is read for this call only."""
    if exact or spec.predicate != "range" or len(stored) < ann.AUTO_MIN_IMAGES:
        return None
    searched = (cache or DescriptorCache()).get(settings, stored.set_name)
    if searched.source != stored.source:
        return "the set changed while it was read"
    found = ann.lookup(settings.features, searched.set_name, searched.source, searched.applied,
                       len(searched), spec.metric)
    if found.index is None:
        return found.reason
    return searched, found.index
