"""Where a copy is found, SIMages says what changed, deciding from the two images' pixels and headers
(smaller and which, cropped, framed, different aspect, turned, mirrored, grayscale, re-encoded, edited),
and names nothing it cannot tell."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from simages.cli import main
from simages.copies.changes import (
    ASPECT,
    CROPPED,
    EDITED,
    FRAMED,
    GRAYSCALE,
    MIRRORED,
    REENCODED,
    SMALLER,
    TURNED,
    FactsCache,
    ImageFacts,
    changes_between,
    codes,
    describe,
    image_facts,
)
from tests.imagegen import photo, scene


def saved(image: Image.Image, path: Path, **params) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **params)
    return path


def between(a: Path, b: Path, **kwargs) -> list[str]:
    return codes(changes_between(image_facts(a), image_facts(b), cache=FactsCache(), **kwargs))


def test_each_change_is_told_from_the_pixels_and_headers_and_nothing_is_guessed(tmp_path: Path):
    original = scene(1)
    a = saved(original, tmp_path / "a.jpg", quality=92)
    assert between(a, saved(original, tmp_path / "same.jpg", quality=92)) == []  # the same bytes
    # Re-encoded only when the pixels are nearly the same: another format, another JPEG quality.
    png = saved(original, tmp_path / "png.png")
    assert between(a, png) == [REENCODED]
    assert "(JPEG vs PNG)" in describe(changes_between(image_facts(a), image_facts(png)))
    assert between(a, saved(original, tmp_path / "q50.jpg", quality=50)) == [REENCODED]
    # Resized: which of the two is the smaller is said, either way round.
    small = saved(original.resize((120, 80)), tmp_path / "small.jpg", quality=92)
    assert between(a, small) == [SMALLER]
    said = describe(changes_between(image_facts(a), image_facts(small), names=("a.jpg", "small.jpg")))
    assert said == "small.jpg is smaller (120×80 vs 240×160), resized"
    said = describe(changes_between(image_facts(small), image_facts(a), names=("small.jpg", "a.jpg")))
    assert said == "small.jpg is smaller (120×80 vs 240×160), resized"
    # Cropped, keeping the aspect or not: the first (the copy) found inside the second; the other way
    # round, the second is framed in the first (something was added around it, walk 5).
    crop = saved(original.crop((30, 20, 212, 141)), tmp_path / "crop.jpg", quality=92)
    assert between(crop, a) == [CROPPED] and between(a, crop) == [FRAMED]
    said = describe(changes_between(image_facts(crop), image_facts(a), names=("crop.jpg", "a.jpg")))
    assert said.startswith("cropped: crop.jpg is part of a.jpg (57% of it; 182×121 in 240×160)"), said
    said = describe(changes_between(image_facts(a), image_facts(crop), names=("a.jpg", "crop.jpg")))
    assert said.startswith("framed: crop.jpg fills 57% of a.jpg (182×121 in 240×160: a frame, a caption, "
                           "a screenshot or a collage around it)"), said
    square = saved(original.crop((40, 0, 200, 160)), tmp_path / "square.jpg", quality=92)
    assert between(square, a) == [CROPPED] and between(a, square) == [FRAMED]
    # Cropped and resized: no longer the same pixels at any offset, so neither "resized" nor "cropped".
    both = saved(original.crop((30, 20, 212, 141)).resize((120, 80)), tmp_path / "both.jpg", quality=92)
    assert between(a, both) == [SMALLER, EDITED]
    assert "resized" not in describe(changes_between(image_facts(a), image_facts(both)))
    # Edits that keep the size: mirrored, grayscale (which one), or just edited -- never "re-encoded".
    assert between(a, saved(ImageOps.mirror(original), tmp_path / "mirror.jpg", quality=92)) == [MIRRORED]
    gray = saved(ImageOps.grayscale(original), tmp_path / "gray.jpg", quality=92)
    assert between(a, gray) == [GRAYSCALE]
    assert describe(changes_between(image_facts(a), image_facts(gray), names=("a.jpg", "gray.jpg"))) == (
        "gray.jpg is grayscale, the other in colour")
    brighter = saved(ImageEnhance.Brightness(original).enhance(1.3), tmp_path / "bright.jpg", quality=92)
    assert between(a, brighter) == [EDITED]
    captioned = original.copy()
    ImageDraw.Draw(captioned).rectangle((0, 140, 240, 160), fill=(0, 0, 0))
    assert between(a, saved(captioned, tmp_path / "caption.jpg", quality=92)) == [EDITED]
    # A mirror told by the scores alone is dropped when the pixels show it is not mirrored.
    assert between(a, png, mirrored=True) == [REENCODED]
    # Turned: compared turned back, so a turned copy is neither "different aspect" nor "edited".
    sideways = saved(original.transpose(Image.Transpose.ROTATE_90), tmp_path / "side.jpg", quality=92)
    assert between(sideways, a, turn=270) == [TURNED, REENCODED]
    assert between(sideways, a) == [ASPECT]  # without the turn that matched: only what the headers say
    # A turn the scores found is dropped when the pixels explain the copy as it is, and kept when only the
    # turned key explains it (even with an edit on top).
    assert between(crop, a, turn=180) == [CROPPED]
    assert between(a, png, turn=90) == [REENCODED]
    bright_side = saved(ImageEnhance.Brightness(original).enhance(1.3).transpose(Image.Transpose.ROTATE_90),
                        tmp_path / "bright_side.jpg", quality=92)
    assert between(bright_side, a, turn=270) == [TURNED, EDITED]
    # Unreadable: only what the scores told.
    assert between(a, tmp_path / "gone.jpg", turn=90, mirrored=True) == [TURNED, MIRRORED]


def test_an_uploads_pixels_come_from_its_preview(tmp_path: Path):
    import io

    original = scene(3)
    a = saved(original, tmp_path / "a.jpg", quality=92)
    data = io.BytesIO()
    ImageOps.mirror(original).save(data, "JPEG", quality=90)
    upload = ImageFacts(240, 160, "JPEG", 1234, None, "0" * 64, data.getvalue())
    assert codes(changes_between(upload, image_facts(a))) == [MIRRORED]
    assert codes(changes_between(ImageFacts(240, 160, "JPEG", 1234, None, "0" * 64), image_facts(a))) == []


def test_exif_orientation_gives_the_upright_size(tmp_path: Path):
    original = photo(2, (120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise
    stored = saved(original.transpose(Image.Transpose.ROTATE_90), tmp_path / "exif.jpg", exif=exif.tobytes())
    facts = image_facts(stored)
    assert (facts.width, facts.height) == (120, 80)


def corel_collection(corel_path: Path, folder: Path) -> None:
    """24 photos, three of each of eight Corel-1k classes, as p00.jpg ... p23.jpg (copied for the test)."""
    classes = sorted(p for p in corel_path.iterdir() if p.is_dir())[:8]
    photos = [path for kind in classes for path in sorted(kind.glob("*.jpg"))[:3]]
    for number, path in enumerate(photos):
        saved(Image.open(path).convert("RGB"), folder / f"p{number:02d}.jpg", quality=92)


def test_a_copy_is_called_mirrored_only_when_the_mirrored_key_matches_it_clearly_better():
    from simages.copies.changes import MIRROR_MARGIN
    from simages.copies.turns import mirrored_matches
    from simages.nearest.core.results import KeyResult, Match

    def result(matches, metric="cosine"):
        return KeyResult("k", "s", metric, "range", 0.5, [Match(i, v) for i, v in matches], len(matches), 9)

    merged = result([("flip", 0.80), ("near", 0.90), ("turned", 0.70), ("gone", 0.6)])
    mirror = result([("flip", 0.80 + MIRROR_MARGIN + 0.01), ("near", 0.90 + MIRROR_MARGIN / 2),
                     ("turned", 0.99)])
    assert mirrored_matches(merged, mirror, {"turned": 90}, MIRROR_MARGIN) == {"flip"}
    # Distances: compared as the cosines they stand for.
    as_distance = [(i, float(np.sqrt(2 - 2 * v))) for i, v in [("flip", 0.8), ("near", 0.9)]]
    better = [(i, float(np.sqrt(2 - 2 * v))) for i, v in [("flip", 0.9), ("near", 0.91)]]
    assert mirrored_matches(result(as_distance, "euclidean"), result(better, "euclidean"), {},
                            MIRROR_MARGIN) == {"flip"}


def test_the_cli_says_what_changed_for_copies_in_a_set_and_for_a_file_key(
        weights_path: Path, corel_path: Path, tmp_path: Path, capsys):
    folder = tmp_path / "image_sets" / "holidays"
    corel_collection(corel_path, folder)
    original = Image.open(folder / "p03.jpg").convert("RGB")
    small_size = (original.width * 2 // 3, original.height * 2 // 3)
    saved(original.resize(small_size), folder / "p03_small.jpg", quality=92)
    saved(original, folder / "p03_copy.png")
    mirrored = saved(ImageOps.mirror(Image.open(folder / "p07.jpg").convert("RGB")), tmp_path / "mirror.png")
    plain = saved(Image.open(folder / "p09.jpg").convert("RGB"), tmp_path / "plain.png")
    base = ["--root", str(tmp_path), "--weights", str(weights_path)]
    assert main([*base, "index", "holidays"]) == 0
    capsys.readouterr()
    assert main([*base, "duplicates", "holidays", "--format", "json"]) == 0
    pairs = {frozenset((p["a"], p["b"])): p for p in json.loads(capsys.readouterr().out)["pairs"]}
    small = pairs[frozenset(("holidays/p03.jpg", "holidays/p03_small.jpg"))]
    sizes = f"{small_size[0]}×{small_size[1]} vs {original.width}×{original.height}"
    assert small["changes"] == [SMALLER]
    assert small["changed"] == f"holidays/p03_small.jpg is smaller ({sizes}), resized"
    assert pairs[frozenset(("holidays/p03.jpg", "holidays/p03_copy.png"))]["changes"] == [REENCODED]
    assert main([*base, "duplicates", "holidays"]) == 0
    assert "changed: holidays/p03_small.jpg is smaller (" in capsys.readouterr().out
    query = [*base, "query", "--set", "holidays", "--intent", "duplicates", "--format", "json"]
    assert main([*query, str(mirrored)]) == 0
    first = json.loads(capsys.readouterr().out)["results"][0]
    # The pixels tell the mirror, however little the scores do in a collection this small.
    assert first["image"] == "p07.jpg" and first["changes"] == [MIRRORED]
    assert main([*query, str(plain)]) == 0
    first = json.loads(capsys.readouterr().out)["results"][0]
    assert first["image"] == "p09.jpg" and first["changes"] == [REENCODED]  # not called mirrored


def test_the_answer_says_a_copy_was_found_turned_only_when_what_changed_says_so(tmp_path: Path):
    from simages.operations.query import turns_confirmed

    original = scene(4)
    a = saved(original, tmp_path / "a.jpg", quality=92)
    crop = saved(original.crop((30, 20, 212, 141)), tmp_path / "crop.jpg", quality=92)
    side = saved(original.transpose(Image.Transpose.ROTATE_90), tmp_path / "side.jpg", quality=92)
    changes = {"crop.jpg": changes_between(image_facts(crop), image_facts(a), turn=180),
               "side.jpg": changes_between(image_facts(side), image_facts(a), turn=270)}
    # "look-alike.jpg": no copy, so nothing was checked: its turn is what the scores found.
    turns = {"crop.jpg": 180, "side.jpg": 270, "look-alike.jpg": 90}
    assert turns_confirmed(turns, changes) == {"side.jpg": 270, "look-alike.jpg": 90}
