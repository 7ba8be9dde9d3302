"""Seeded, deterministic splits of a labelled set: per class into train / test, and whole classes held out.

Every choice depends only on the seed, the class name and the sorted image names, so the same folder and
seed always give the same split whatever order the images were listed in, and adding a class does not
reshuffle the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simages.wording import plural


@dataclass(frozen=True)
class Split:
    """Rows of one set: `train` and `test` are disjoint, sorted row indices."""

    train: tuple[int, ...]
    test: tuple[int, ...]

    def as_dict(self) -> dict[str, int]:
        return {"train": len(self.train), "test": len(self.test)}


def _rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator seeded by `seed` and names: stable across runs and platforms (sha256, not hash())."""
    digest = hashlib.sha256("\0".join([str(seed), *parts]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def rows_by_class(labels: Sequence[str]) -> dict[str, list[int]]:
    """Class -> its rows, classes sorted by name, rows in input order."""
    classes: dict[str, list[int]] = {}
    for row, label in enumerate(labels):
        classes.setdefault(label, []).append(row)
    return dict(sorted(classes.items()))


def per_class_split(
    names: Sequence[str], labels: Sequence[str], test_fraction: float, seed: int
) -> Split:
    """Each class's images split at random (seeded) into train and test, `test_fraction` of them to test.

    A class of n >= 2 images keeps at least one image on each side; a class of one image goes to train
    (it has no neighbour of its class to be evaluated against). ValueError unless 0 < test_fraction < 1.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"the test split must be a fraction between 0 and 1, not {test_fraction}")
    if len(names) != len(labels):
        raise ValueError(f"{len(names)} names but {len(labels)} labels")
    train: list[int] = []
    test: list[int] = []
    for label, rows in rows_by_class(labels).items():
        ordered = sorted(rows, key=lambda row: names[row])
        order = _rng(seed, "split", label).permutation(len(ordered))
        shuffled = [ordered[i] for i in order]
        count = 0 if len(rows) < 2 else min(max(round(len(rows) * test_fraction), 1), len(rows) - 1)
        test.extend(shuffled[:count])
        train.extend(shuffled[count:])
    return Split(tuple(sorted(train)), tuple(sorted(test)))


def held_out_classes(classes: Sequence[str], count: int, seed: int) -> list[str]:
    """`count` of `classes` chosen at random (seeded), sorted: classes kept out of training entirely."""
    ordered = sorted(set(classes))
    if not 0 <= count <= len(ordered):
        raise ValueError(f"cannot hold out {count} of {plural(len(ordered), 'class')}")
    chosen = _rng(seed, "held-out").permutation(len(ordered))[:count]
    return sorted(ordered[i] for i in chosen)


def unseen_class_count(classes: int) -> int:
    """How many classes the unseen-class check holds out: half, when at least 2 remain on each side
    (fewer classes cannot tell learning a space from memorising labels); 0 means no check."""
    return classes // 2 if classes >= 4 else 0
