"""Duplicate levels: the order of thresholds, the level of a score, identity and the duplicate rule."""

import math

import numpy as np
import pytest

from simages.copies.levels import (
    DEFAULT_THRESHOLDS,
    EDITED_COSINE,
    EXACT_COSINE,
    LOOK_ALIKE_COSINE,
    Level,
    LevelThresholds,
    identical_vectors,
    is_duplicate,
    level_of,
)


def test_levels_have_titles_meanings_and_json_words():
    assert [level.value for level in Level] == ["exact", "edited", "look-alike", "new"]
    assert all(level.title and level.meaning for level in Level)
    assert "never called a duplicate" in Level.LOOK_ALIKE.meaning
    assert sorted(Level, key=lambda level: level.rank) == list(Level)


def test_scores_map_to_levels_at_the_thresholds():
    assert EXACT_COSINE > EDITED_COSINE > LOOK_ALIKE_COSINE
    assert level_of(1.0) is Level.EXACT
    assert level_of(EXACT_COSINE - 1e-4) is Level.EDITED
    assert level_of(EDITED_COSINE) is Level.EDITED
    assert level_of(EDITED_COSINE - 1e-6) is Level.LOOK_ALIKE
    assert level_of(LOOK_ALIKE_COSINE) is Level.LOOK_ALIKE
    assert level_of(LOOK_ALIKE_COSINE - 1e-6) is Level.NEW
    assert level_of(-0.2) is Level.NEW
    assert level_of(float("nan")) is Level.NEW


def test_identical_descriptors_are_exact_whatever_the_score():
    v = np.random.default_rng(0).random(512).astype(np.float32)
    assert identical_vectors(v, v.copy())
    assert not identical_vectors(v, v + np.float32(1e-6))
    assert level_of(0.2, identical=True) is Level.EXACT


def test_euclidean_distance_on_unit_vectors_gives_the_same_level():
    for cosine in (1.0, 0.9, EDITED_COSINE, 0.4, LOOK_ALIKE_COSINE, 0.0):
        distance = math.sqrt(2 - 2 * cosine)
        assert level_of(distance, metric="euclidean") is level_of(cosine)
    with pytest.raises(ValueError, match="unknown metric"):
        level_of(0.5, metric="manhattan")


def test_only_exact_and_edited_are_duplicates():
    assert [is_duplicate(level) for level in Level] == [True, True, False, False]


def test_thresholds_must_be_ordered():
    assert DEFAULT_THRESHOLDS.of(Level.EDITED) == EDITED_COSINE
    assert DEFAULT_THRESHOLDS.of(Level.NEW) is None
    with pytest.raises(ValueError, match="exact >= edited"):
        LevelThresholds(exact=0.9, edited=0.95, look_alike=0.3)


def test_keypoints_that_show_two_photos_make_a_passing_pair_a_look_alike():
    from simages.copies.verification import Verdict, Verification

    asked = []

    def saying(verdict):
        def verified():
            asked.append(verdict)
            return Verification(verdict)
        return verified

    assert level_of(0.8, verified=saying(Verdict.NOT_COPY)) is Level.LOOK_ALIKE
    assert level_of(0.8, verified=saying(Verdict.UNSURE)) is Level.EDITED  # the score decides
    assert level_of(0.8, verified=saying(Verdict.COPY)) is Level.EDITED
    assert level_of(0.8, verified=lambda: None) is Level.EDITED
    asked.clear()
    # Only a pair that would be an edited copy is verified: not an exact one, not one below the threshold.
    assert level_of(1.0, verified=saying(Verdict.NOT_COPY)) is Level.EXACT
    assert level_of(0.9, identical=True, verified=saying(Verdict.NOT_COPY)) is Level.EXACT
    assert level_of(0.4, verified=saying(Verdict.NOT_COPY)) is Level.LOOK_ALIKE
    assert level_of(0.1, verified=saying(Verdict.NOT_COPY)) is Level.NEW
    assert asked == []


def test_a_candidate_below_the_threshold_is_an_edited_copy_only_on_proof():
    from simages.copies.verification import PROOF_AGREEMENT, PROOF_INLIERS, Verdict, Verification

    proof = Verification(Verdict.COPY, inliers=PROOF_INLIERS, agreement=PROOF_AGREEMENT)
    weak = Verification(Verdict.COPY, inliers=PROOF_INLIERS - 1, agreement=1.0)
    thumbnail = Verification(Verdict.COPY, inliers=42, agreement=0.92, detailed=False)
    assert level_of(0.1, verified=lambda: proof, promote=True) is Level.EDITED
    assert level_of(0.1, verified=lambda: proof) is Level.NEW  # not a candidate: the score decides
    assert level_of(0.1, verified=lambda: thumbnail, promote=True) is Level.EDITED
    assert level_of(0.1, verified=lambda: weak, promote=True) is Level.NEW  # too weak to prove a copy
    assert level_of(0.4, verified=lambda: weak, promote=True) is Level.EDITED  # a look-alike score agrees
    assert level_of(0.1, verified=lambda: Verification(Verdict.NOT_COPY), promote=True) is Level.NEW


@pytest.mark.parametrize(("starred", "named"), [
    ("a turned copy (changes: turned)", "turns"),
    ("a half crop (changes: cropped)", "crops"),
    ("a screenshot or a caption (changes: framed)", "frames"),
    ("a collage (changes: framed)", "collages"),
    ("a grey copy (changes: grayscale)", "grey"),
    ("a 64-px thumbnail (changes: smaller)", "thumbnails"),
])
def test_the_star_s_reason_names_every_kind_of_copy_it_marks(starred, named):
    """The '*' reason is true of every copy so marked: walk 5's starred copies were grey, a half crop, a
    thumbnail, a collage and a screenshot, under a reason naming only "a turned, collaged or framed copy"."""
    from simages.copies.levels import BELOW_THRESHOLD_NOTE, below_threshold_note

    for note in (BELOW_THRESHOLD_NOTE, below_threshold_note("key")):
        assert note.startswith("* scored below the threshold, but one of the "), note
        assert f" {named}" in note.split("(", 1)[1], (starred, note)
