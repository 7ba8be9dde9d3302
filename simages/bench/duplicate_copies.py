"""Edited copies of a labeled photo folder, the ground truth of the near-duplicate benchmark.

From each class sub-folder a seeded sample of photos is drawn; each chosen photo gets one copy per kind of
edit (simages.copies.edits), written losslessly (PNG) so that the only change is the edit itself (the
`reencoded` edit carries its own JPEG round trip). Copies go to a folder the caller owns (a temporary one
in the benchmark): they are never part of the repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from simages.copies.edits import EDITS, apply_edit
from simages.store.scan import scan_set


@dataclass(frozen=True)
class EditedCopy:
    """`copy` (relative to the copies folder) is `kind` applied to `original` (relative to the source)."""

    copy: str
    original: str
    kind: str


def choose_originals(source: Path, per_class: int, seed: int = 0) -> list[str]:
    """`per_class` photos of each class sub-folder of `source` (all of them if it has fewer), drawn with
    `seed`; names relative to `source`, sorted. Images directly in `source` belong to no class and are
    never chosen."""
    files = sorted(scan_set(source, source.parent).files)
    by_class: dict[str, list[str]] = {}
    for name in files:
        if "/" in name:
            by_class.setdefault(name.split("/", 1)[0], []).append(name)
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for label in sorted(by_class):
        names = by_class[label]
        picks = rng.choice(len(names), size=min(per_class, len(names)), replace=False)
        chosen.extend(names[i] for i in sorted(picks.tolist()))
    return chosen


def write_copies(
    source: Path,
    originals: Sequence[str],
    target: Path,
    kinds: Sequence[str] = tuple(EDITS),
    seed: int = 0,
) -> list[EditedCopy]:
    """One copy of each original per kind of edit, written to `target` as `<original stem>__<kind>.png`
    in the original's class folder. KeyError for an unknown kind; OSError if an original cannot be read."""
    copies = []
    for number, original in enumerate(originals):
        with Image.open(source / original) as opened:
            image = opened.convert("RGB")
        stem = Path(original).with_suffix("")
        for kind_number, kind in enumerate(kinds):
            name = f"{stem.as_posix()}__{kind}.png"
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            # One seed per (photo, kind): a copy does not change when other kinds are added or left out.
            apply_edit(kind, image, seed * 1_000_003 + number * 101 + kind_number).save(path)
            copies.append(EditedCopy(name, original, kind))
    return copies
