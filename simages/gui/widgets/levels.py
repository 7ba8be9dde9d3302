"""The duplicate level of a pair as a coloured chip (exact copy, edited copy, look-alike, new)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from nicegui import ui

from simages.copies.levels import Level, LevelThresholds, level_of
from simages.copies.pixels import same_pixels
from simages.nearest.core.query_spec import higher_is_better

LEVEL_COLOURS = {Level.EXACT: "#2e7d32", Level.EDITED: "#1565c0", Level.LOOK_ALIKE: "#757575",
                 Level.NEW: "#9e9e9e"}


def pair_level(score: float, metric: str, thresholds: LevelThresholds,
               files: tuple[Path, Path] | None = None,
               same: Callable[[], bool | None] | None = None) -> Level:
    """The level of a pair scored in the duplicates space (an exact copy scores 1 / distance 0); with the
    pair's `files`, an exact level is confirmed by them (simages.copies.pixels.same_pixels), else it is
    an edited copy. `same` replaces that check where one side is no file (an upload: its bytes' digest);
    None from it (cannot tell) makes a score alone an edited copy."""
    kind = "cosine" if higher_is_better(metric) else "euclidean"
    check = same if same is not None else None if files is None else partial(same_pixels, *files)
    return level_of(score, metric=kind, thresholds=thresholds, same_pixels=check)


def level_chip(level: Level) -> ui.label:
    """The level of a pair (`Level.pair_title`: never "New", which says a photo has no copy), coloured, its
    meaning as a tooltip (a look-alike is never called a duplicate); marked `pair-level:<level>`."""
    chip = ui.label(level.pair_title).classes("text-caption text-weight-medium")
    chip.mark(f"pair-level:{level.value}")
    chip.style(f"color: white; background: {LEVEL_COLOURS[level]}; border-radius: 10px; padding: 0 8px")
    chip.tooltip(level.pair_meaning)
    return chip
