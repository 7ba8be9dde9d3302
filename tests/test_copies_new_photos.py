"""New photos judged out of sample: how often the duplicate threshold calls a photo the collection has
never seen a copy (simages.copies.new_photos), and the calibration's sentence that tells a curator.

A duplicates space learned on few or very alike photos fits them: the next frame of a burst scores like a
copy. The estimate sets photos aside, learns without them and searches them as new ones, so it must be high
on a collection of bursts, low on one of distinct photos, and must not count a photo stored twice.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simages.copies.calibration import WARN_NEW_RATE, Calibration
from simages.copies.new_photos import estimate_new_photos

DIM = 64


def _distinct(n: int, seed: int = 0) -> np.ndarray:
    rows = np.abs(np.random.default_rng(seed).normal(size=(n, DIM))).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _bursts(scenes: int, frames: int, seed: int = 0) -> np.ndarray:
    """`frames` shots of each scene, a little apart: look-alikes, not copies."""
    rng = np.random.default_rng(seed)
    base = np.abs(rng.normal(size=(scenes, DIM)))
    rows = np.repeat(base, frames, axis=0) + 0.08 * np.abs(rng.normal(size=(scenes * frames, DIM)))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_new_shots_of_the_same_scenes_are_counted_as_wrongly_called_copies():
    bursty = estimate_new_photos("gap+l2", _bursts(40, 3), sets=1)
    distinct = estimate_new_photos("gap+l2", _distinct(120), sets=1)
    assert bursty is not None and distinct is not None
    assert bursty.searched == distinct.searched == 120  # every photo set aside once
    assert bursty.rate > 0.5
    assert distinct.rate < 0.05


def test_new_shots_whose_images_show_other_photos_are_not_called_copies():
    vectors = _bursts(40, 3)
    scored = estimate_new_photos("gap+l2", vectors, sets=1)
    asked = []

    def two_photos(i, j):
        asked.append((i, j))
        return True

    verified = estimate_new_photos("gap+l2", vectors, sets=1, two_photos=two_photos)
    unsure = estimate_new_photos("gap+l2", vectors, sets=1, two_photos=lambda i, j: False)
    assert scored.called > 0 and verified.called == 0 and unsure.called == scored.called
    # Only passing pairs are verified, each between a photo set aside and one of the others.
    assert asked and all(i != j for i, j in asked)


def test_a_photo_stored_twice_is_a_duplicate_not_a_false_one():
    rows = _distinct(100)
    twice = np.vstack([rows, rows[:20]])  # 20 photos kept twice: an exact copy is rightly found
    estimate = estimate_new_photos("gap+l2", twice, sets=2)
    assert estimate is not None
    assert estimate.called <= 0.05 * estimate.searched


def test_too_few_photos_to_learn_without_the_ones_set_aside_gives_no_estimate():
    assert estimate_new_photos("gap+l2", _distinct(21), sets=1) is None
    with pytest.raises(ValueError, match="2 folds"):
        estimate_new_photos("gap+l2", _distinct(50), sets=1, folds=1)


def _calibration(searched: int, called: int) -> Calibration:
    return Calibration("f" * 16, 0.5, 40, 300, 0.95, 1, 0.97, 0.0, searched, called)


def test_the_sentence_says_what_happens_to_new_photos_and_warns_when_many_are_called_copies():
    quiet = _calibration(300, 0)
    assert "New photos with no copy among yours: none was wrongly called a copy (300 photos tried)." \
        in quiet.sentence()
    assert "side by side" not in quiet.sentence()
    few = _calibration(300, 3)  # 1%: under the warning
    assert "about 1% were wrongly called a copy, even after the keypoint check (3 of 300 photos tried)" \
        in few.sentence()
    assert "side by side" not in few.sentence()
    many = _calibration(60, 18)
    assert many.new_rate > WARN_NEW_RATE
    assert "about 30% were wrongly called a copy" in many.sentence()
    assert "side by side before acting" in many.sentence()
    assert many.sentence().startswith(
        "Threshold 0.5, tested on 40 copies of your photos with everyday edits, searched among all 300 "
        "indexed photos: 95% were found by their score alone; about 97% of the pairs that passed were real "
        "copies. Harder edits (large crops, collages, screenshots, tiny thumbnails) often score lower and "
        "are found by their keypoints instead (marked *).")


def test_an_estimate_without_the_new_photo_measure_says_nothing_about_it():
    old = Calibration("f" * 16, 0.5, 40, 300, 0.95, 1, 0.97, 0.0)
    assert math.isnan(old.new_rate)
    assert "new photo" not in old.sentence().lower()


def test_with_copy_pairs_the_estimate_learns_the_copy_space_and_still_sees_the_bursts():
    from simages.copies.learned_space import CopyPairs

    rows = _bursts(40, 3)
    noise = 0.02 * np.abs(np.random.default_rng(1).normal(size=(60, DIM))).astype(np.float32)
    pairs = CopyPairs("gap+l2", rows[:60], rows[:60] + noise, len(rows), 60, "f" * 16)
    estimate = estimate_new_photos("gap+l2", rows, sets=1, pairs=pairs)
    assert estimate is not None and estimate.searched == 120
    assert estimate.rate > 0.5
