"""Compare: the pairs of a join in the shared full-size viewer, two images side by side with their names,
file information and score (for a duplicates join also the pair's level, what it means, and what changed);
left/right steps through the pairs, Esc closes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from simages.copies.levels import Level, LevelThresholds, below_threshold_note, is_duplicate
from simages.gui.urls.image import full_url
from simages.gui.widgets.controls import format_score, score_label
from simages.gui.widgets.levels import pair_level
from simages.gui.widgets.viewer import Viewer, ViewItem, ViewPair
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.joins.pairs import JoinPair, JoinPairs

# Pairs handed to the viewer around the one clicked: stepping through a thousand is plenty, and a join
# that keeps 200,000 pairs does not build 200,000 viewer items for one click.
WINDOW = 500


def view_pair(a_set: str, pair: JoinPair, spec: QuerySpec, levels: LevelThresholds | None = None,
              changed: Callable[[str, str, str, str], str] | None = None,
              files: Callable[[str], Path] | None = None, level: Level | None = None,
              below: bool = False) -> ViewPair:
    """The pair in the viewer; with `levels` (a duplicates join) its caption also gives the pair's level
    (`level`, the join's own; else from its score, an exact level confirmed by the pair's `files`,
    qualified name -> file) and meaning, and what changed for a copy (`changed`, as the pairs view says
    it); `below`: a copy listed below the threshold, which says why."""
    score = f"{score_label(spec.metric)} {format_score(spec.metric, pair.score)}"
    if levels is not None:
        if level is None:
            level = pair_level(pair.score, spec.metric, levels, pair_files(files, a_set, pair))
        score = f"{score} · {level.pair_title}: {level.pair_meaning}"
        copy = changed is not None and is_duplicate(level)
        said = changed(a_set, pair.a, pair.b_set, pair.b) if copy else ""
        if said:
            score = f"{score} · changed: {said}"
        if below:
            score = f"{score} · {below_threshold_note()}"
    left = ViewItem(name=f"{a_set}/{pair.a}", url=full_url(a_set, pair.a), set_name=a_set, image=pair.a)
    right = ViewItem(name=f"{pair.b_set}/{pair.b}", url=full_url(pair.b_set, pair.b), set_name=pair.b_set,
                     image=pair.b)
    return ViewPair(left=left, right=right, caption=score)


def open_compare(viewer: Viewer, pairs: JoinPairs, position: int, spec: QuerySpec,
                 levels: LevelThresholds | None = None,
                 changed: Callable[[str, str, str, str], str] | None = None,
                 files: Callable[[str], Path] | None = None, known: Sequence[Level] | None = None) -> None:
    """Open the viewer on pair `position` (of all kept pairs, best first) with its neighbours in the list
    the pairs view shows (a self-join's x ~ y and y ~ x once) to step through; `known`: the join's level
    of each kept pair (by position)."""
    shown = pairs.distinct if position in pairs.distinct_set else list(range(len(pairs.pairs)))
    index = shown.index(position)
    start = max(0, index - WINDOW)
    window = shown[start : index + WINDOW]
    viewer.open([view_pair(pairs.a_set, pairs.pairs[p], spec, levels, changed, files,
                           None if known is None else known[p], pairs.is_below(p)) for p in window],
                index - start)


def pair_files(files: Callable[[str], Path] | None, a_set: str, pair: JoinPair) -> tuple[Path, Path] | None:
    """The two files of a join pair, when `files` (qualified name -> file) is known."""
    if files is None:
        return None
    return files(f"{a_set}/{pair.a}"), files(f"{pair.b_set}/{pair.b}")
