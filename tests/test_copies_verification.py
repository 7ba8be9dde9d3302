"""Copy verification on local features (simages.copies.verification): every kind of edit of a photo is
never called another photo, two different photos are never called copies, and too little texture is
said to be unsure rather than guessed. The demo photos are real photos the repository ships."""

from __future__ import annotations

import itertools
import os
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from simages.copies.edits import ALL_EDITS, apply_edit
from simages.copies.verification import (
    LocalFeatureCache,
    Verdict,
    local_features,
    verify,
    verify_files,
)

DEMO = Path(__file__).resolve().parents[1] / "image_sets" / "demo"
PHOTOS = {path.stem: path for path in sorted(DEMO.rglob("*.jpg"))}
# Edits that move, turn, mirror, frame or paste the photo: the homography must find them all.
GEOMETRIC = ("resized", "cropped", "mirrored", "rotated", "letterboxed", "turned90", "turned180",
             "turned270", "half-cropped", "bordered", "pillarboxed", "screenshot", "collaged", "captioned")


def photo(stem: str) -> Image.Image:
    with Image.open(PHOTOS[stem]) as image:
        return image.convert("RGB")


@pytest.fixture(scope="module")
def originals():
    return {stem: local_features(photo(stem)) for stem in ("astronaut", "rocket", "cameraman")}


@pytest.mark.parametrize("stem", ["astronaut", "rocket", "cameraman"])
def test_no_edit_of_a_photo_is_called_another_photo(originals, stem):
    image = photo(stem)
    verdicts = {}
    for kind in ALL_EDITS:
        edited = apply_edit(kind, image, zlib.crc32(f"{stem}/{kind}".encode()))
        verdicts[kind] = verify(local_features(edited), originals[stem])
    refuted = [kind for kind, found in verdicts.items() if found.verdict is Verdict.NOT_COPY]
    assert not refuted, f"{stem}: copies called other photos: {refuted}"
    missed = [kind for kind in GEOMETRIC if verdicts[kind].verdict is not Verdict.COPY]
    assert not missed, f"{stem}: edits the homography should find: {missed}"
    assert verdicts["mirrored"].mirrored and not verdicts["resized"].mirrored
    assert {verdicts[f"turned{angle}"].turn for angle in (90, 180, 270)} == {90, 180, 270}
    assert verdicts["resized"].turn == 0
    # Enough to call a copy its score missed (simages.copies.levels.level_of's `promote`).
    weak = [kind for kind in ("mirrored", "turned90", "turned180", "turned270", "resized", "cropped")
            if not verdicts[kind].proves_copy]
    assert not weak, f"{stem}: {weak}"


def test_a_copy_is_found_whichever_side_is_the_key(originals):
    collage = apply_edit("collaged", photo("rocket"), 7)
    assert verify(originals["rocket"], local_features(collage)).is_copy
    assert verify(local_features(collage), originals["rocket"]).is_copy


def test_two_different_photos_are_never_copies():
    features = {stem: local_features(photo(stem)) for stem in PHOTOS if stem != "chelsea_edited"}
    called = [(a, b) for a, b in itertools.permutations(features, 2)
              if verify(features[a], features[b]).is_copy]
    assert not called
    refuted = [(a, b) for a, b in itertools.combinations(("astronaut", "cameraman", "rocket", "chelsea"), 2)
               if verify(features[a], features[b]).verdict is Verdict.NOT_COPY]
    assert len(refuted) == 6, "photos with plenty of texture are told apart, not left unsure"


def test_the_demo_sets_edited_cat_is_a_copy_of_the_cat():
    cache = LocalFeatureCache()
    assert verify_files(PHOTOS["chelsea_edited"], PHOTOS["chelsea"], cache).is_copy


def test_too_little_texture_is_unsure_never_a_verdict_against_the_copy(originals):
    blurred = photo("astronaut").filter(ImageFilter.GaussianBlur(12))
    assert verify(local_features(blurred), originals["astronaut"]).verdict is Verdict.UNSURE
    flat = Image.new("RGB", (300, 200), (120, 140, 160))
    assert verify(local_features(flat), originals["rocket"]).verdict is Verdict.UNSURE


def test_an_unreadable_or_missing_file_is_unsure(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    cache = LocalFeatureCache()
    assert verify_files(broken, PHOTOS["rocket"], cache).verdict is Verdict.UNSURE
    assert verify_files(tmp_path / "gone.jpg", PHOTOS["rocket"], cache).verdict is Verdict.UNSURE


def test_a_file_changed_since_it_was_read_is_read_again(tmp_path):
    path = tmp_path / "photo.jpg"
    photo("rocket").save(path)
    cache = LocalFeatureCache()
    assert verify_files(path, PHOTOS["rocket"], cache).is_copy
    photo("cameraman").save(path)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert verify_files(path, PHOTOS["rocket"], cache).verdict is Verdict.NOT_COPY


def test_the_cache_keeps_at_most_its_capacity():
    cache = LocalFeatureCache(capacity=2)
    for stem in ("rocket", "astronaut", "cameraman"):
        cache.of_file(PHOTOS[stem])
    assert len(cache._kept) == 2
