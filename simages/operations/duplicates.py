"""Duplicates: the near-duplicate pairs within a set, or between a set and others, and their groups --
"which of these photos are already here?".

The sets are read with the duplicates intent and compared at the duplicate threshold unless another is
given. Within one large set with a fresh ANN index the pairs come through its kNN graph
(`nearest.duplicates.ann_graph`, each image's nearest images, then the threshold); otherwise every pair is
compared (`nearest.duplicates.exact`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simages.copies import changes as copy_changes
from simages.copies.calibration import CalibrationStatus
from simages.copies.calibration import status as calibration_status
from simages.copies.pixels import image_files
from simages.copies.verification import LocalFeatureCache
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import DuplicateReport, duplicate_threshold, find_duplicates
from simages.nearest.sets.cache import DescriptorCache
from simages.operations import schema
from simages.operations.join import ANN_GRAPH, EXACT
from simages.operations.sets import read_set, require_same_descriptor
from simages.settings import Settings
from simages.wording import plural

Progress = Callable[[int, int], None]
Notice = Callable[[str], None]


@dataclass(frozen=True)
class DuplicatesRequest:
    """Duplicates within `sets[0]`, or between it and each of the others. `threshold`: as typed (None: the
    duplicate threshold of the searched set); `exact`: compare every pair even on a large set."""

    sets: tuple[str, ...]
    threshold: str | None = None
    metric: str = "cosine"
    exact: bool = False


@dataclass(frozen=True)
class DuplicatesAnswer:
    """The pairs and groups (`report`), the sets as read, whether the threshold was chosen by the user,
    the search used (`search`: exact or ann-graph), in words which pairs were compared (`how`), and how
    well the default threshold works on the collection's own photos (`calibration`)."""

    report: DuplicateReport
    indexes: list[SetIndex]
    chosen: bool
    search: str
    how: str
    calibration: CalibrationStatus | None = None
    # What changed between the two images of each copy pair (same order as report.pairs; empty lists for
    # look-alikes and for what cannot be told: simages.copies.changes).
    changes: tuple[list[copy_changes.Change], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The answer in the JSON schema of `operations.schema`: pairs `set/image`, groups, threshold."""
        index = schema.ANN if self.search == ANN_GRAPH else schema.BRUTE
        body = self.report.to_json()
        for row, found in zip(body["pairs"], self.changes, strict=False):
            row.update(copy_changes.to_json(found))
        answer = {**schema.header(DUPLICATES.name, body["sets"], index), "predicate": "range", **body}
        if self.calibration is not None:
            answer["calibration"] = self.calibration.to_json()
        return answer


def open_duplicate_sets(cache: DescriptorCache, settings: Settings, names: list[str]) -> list[SetIndex]:
    """The sets read with the duplicates intent (SET named again among the others means within SET);
    ValueError when their stored descriptors differ."""
    indexes: list[SetIndex] = []
    for name in names:
        index = read_set(cache, settings, name, DUPLICATES)
        if indexes:
            require_same_descriptor(indexes[0], index)
        indexes.append(index)
    return indexes


def run_duplicates(
    request: DuplicatesRequest,
    settings: Settings,
    cache: DescriptorCache,
    *,
    progress: Progress | None = None,
    notice: Notice | None = None,
) -> DuplicatesAnswer:
    """Find the duplicates. `notice` hears, before a long search starts, why every pair of a large set is
    compared; `progress` (images done, images) follows the kNN graph. Raises the user errors of the
    layers below (ValueError, LookupError, StoreError), never prints."""
    indexes = open_duplicate_sets(cache, settings, list(request.sets))
    threshold = None
    if request.threshold is not None:
        threshold = float(QuerySpec.parse(request.metric, "range", request.threshold).param)
    report = None
    local = LocalFeatureCache()  # the pairs' verifications, kept to say what changed
    if len(indexes) == 1:
        report = _graph(cache, settings, indexes[0], threshold, request, progress, notice, local)
    chosen = request.threshold is not None
    calibration = calibration_status(settings, cache)
    if report is not None:
        from simages.nearest.duplicates.ann_graph import GRAPH_K

        how = f"each image's {GRAPH_K} nearest (ANN index)"
        return DuplicatesAnswer(report, indexes, chosen, ANN_GRAPH, how, calibration,
                                pair_changes(report, settings, local))
    report = find_duplicates(indexes, threshold, request.metric, image_files(settings.image_sets), local)
    return DuplicatesAnswer(report, indexes, chosen, EXACT, "every pair", calibration,
                            pair_changes(report, settings, local))


def pair_changes(report: DuplicateReport, settings: Settings, local: LocalFeatureCache | None = None
                 ) -> tuple[list[copy_changes.Change], ...]:
    """What changed between the images of each copy pair (exact or edited level), from their files
    (simages.copies.changes; the turn and mirror of a pair `local` verified, from its keypoints); nothing
    for look-alikes, which are not copies."""
    from simages.copies.levels import is_duplicate

    cache = copy_changes.FactsCache()
    found = []
    for number, pair in enumerate(report.pairs):
        if not is_duplicate(report.level(number)):
            found.append([])
            continue
        first, second = (settings.image_sets / name for name in (pair.a, pair.b))
        known = local.known(first, second) if local is not None else None
        found.append(copy_changes.changes_between(cache.facts(first), cache.facts(second), verification=known,
                                                  cache=cache, names=(pair.a, pair.b)))
    return tuple(found)


def _graph(
    cache: DescriptorCache,
    settings: Settings,
    stored: SetIndex,
    threshold: float | None,
    request: DuplicatesRequest,
    progress: Progress | None,
    notice: Notice | None,
    local: LocalFeatureCache,
) -> DuplicateReport | None:
    """Duplicates within one large set through its ANN kNN graph; None for the exact self-join (saying
    why through `notice` when a graph could have run)."""
    from simages.nearest.duplicates.ann_graph import graph_duplicates, graph_join_index

    if threshold is None:
        threshold = duplicate_threshold(request.metric, stored)
    spec = QuerySpec.parse(request.metric, "range", threshold)
    found = graph_join_index(settings, stored, spec, request.exact, cache=cache)
    if found is None:
        return None
    if isinstance(found, str):
        if notice is not None:
            notice(f"comparing every pair of {plural(len(stored), 'image')} (slow), because {found}")
        return None
    searched, index = found
    return graph_duplicates(stored, searched, index, threshold, request.metric, progress=progress,
                            files=image_files(settings.image_sets), local=local)
