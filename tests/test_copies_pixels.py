"""An exact copy is the same pixels (simages.copies.pixels, simages.copies.levels): a score near 1 or an
identical descriptor is confirmed by the files wherever they are known."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageOps

from simages.copies.levels import Level, level_of
from simages.copies.pixels import image_files, same_pixels
from tests.imagegen import photo


def test_same_pixels_holds_only_for_byte_or_pixel_identical_files(tmp_path: Path) -> None:
    image = photo(2, (96, 64))
    original = tmp_path / "original.jpg"
    image.save(original, quality=90)
    shutil.copyfile(original, tmp_path / "bytes.jpg")
    with Image.open(original) as decoded:
        decoded.save(tmp_path / "lossless.png")
        decoded.resize((192, 128)).save(tmp_path / "upscaled.png")
        ImageOps.mirror(decoded).save(tmp_path / "mirrored.png")
        ImageOps.grayscale(decoded).save(tmp_path / "gray.png")
        decoded.save(tmp_path / "requality.jpg", quality=97)
    assert same_pixels(original, tmp_path / "bytes.jpg") is True
    assert same_pixels(original, tmp_path / "lossless.png") is True
    for other in ("upscaled.png", "mirrored.png", "gray.png", "requality.jpg"):
        assert same_pixels(original, tmp_path / other) is False, other
    assert same_pixels(original, tmp_path / "missing.jpg") is None
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert same_pixels(original, tmp_path / "broken.jpg") is None


def test_an_exact_level_stands_only_when_the_files_are_the_same_pixels() -> None:
    calls = []

    def answer(value):
        def check():
            calls.append(value)
            return value
        return check

    for score, identical in ((1.0, False), (0.99995, False), (0.2, True)):
        assert level_of(score, identical, same_pixels=answer(True)) == Level.EXACT
        assert level_of(score, identical, same_pixels=answer(False)) == Level.EDITED
    # Unreadable files: identical descriptors still say exact, a score alone does not.
    assert level_of(0.2, True, same_pixels=answer(None)) == Level.EXACT
    assert level_of(0.99995, False, same_pixels=answer(None)) == Level.EDITED
    assert level_of(0.001, False, metric="euclidean", same_pixels=answer(False)) == Level.EDITED
    calls.clear()
    # Below the exact level the files are never read.
    assert level_of(0.998, False, same_pixels=answer(True)) == Level.EDITED
    assert level_of(0.4, False, same_pixels=answer(True)) == Level.LOOK_ALIKE
    assert calls == []


def test_image_files_maps_qualified_names_into_the_sets_folder(tmp_path: Path) -> None:
    files = image_files(tmp_path)
    assert files("inbox/IMG_1.jpg") == tmp_path / "inbox" / "IMG_1.jpg"
    assert files("archive/beach/1_100.jpg") == tmp_path / "archive" / "beach" / "1_100.jpg"


def test_duplicates_call_a_pair_exact_only_when_its_files_are_the_same_pixels(tmp_path: Path) -> None:
    """`simages duplicates` and the join downloads (find_duplicates / pair_levels with the files): an
    upscale stored with the very descriptor of its original is an edited copy, a byte copy exact."""
    import numpy as np

    from simages.nearest.duplicates.exact import find_duplicates
    from tests.test_nearest_duplicates import duplicates_index

    folder = tmp_path / "s"
    folder.mkdir()
    photo(4, (96, 64)).save(folder / "a.jpg", quality=90)
    shutil.copyfile(folder / "a.jpg", folder / "b.jpg")
    with Image.open(folder / "a.jpg") as decoded:
        decoded.resize((192, 128)).save(folder / "c.png")
    rng = np.random.default_rng(0)
    others = np.abs(rng.standard_normal((30, 64))).astype(np.float32)
    same = others[:1].copy()
    vectors = np.vstack([same, same, same, others[1:]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = ["a.jpg", "b.jpg", "c.png", *(f"o{i:02d}.jpg" for i in range(29))]
    index = duplicates_index("s", names, vectors)
    report = find_duplicates([index], files=image_files(tmp_path))
    levels = {(p.a, p.b): report.level(n) for n, p in enumerate(report.pairs)}
    assert levels[("s/a.jpg", "s/b.jpg")] == Level.EXACT
    assert levels[("s/a.jpg", "s/c.png")] == Level.EDITED and levels[("s/b.jpg", "s/c.png")] == Level.EDITED
    # Without the files (vectors only), identical descriptors are all the evidence there is.
    unchecked = find_duplicates([index])
    mine = {"s/a.jpg", "s/b.jpg", "s/c.png"}
    assert {unchecked.level(n) for n, p in enumerate(unchecked.pairs) if {p.a, p.b} <= mine} == {Level.EXACT}


def test_the_join_page_calls_a_pair_exact_only_when_its_files_are_the_same_pixels(tmp_path: Path) -> None:
    """The /join pairs and Compare captions (pair_level with the pair's files): a pair scoring 1 is an
    exact copy when its files are the same pixels, an edited copy otherwise."""
    from simages.copies.levels import DEFAULT_THRESHOLDS
    from simages.gui.join.compare import view_pair
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.joins.pairs import JoinPair

    for name in ("inbox", "archive"):
        (tmp_path / name).mkdir()
    photo(5, (96, 64)).save(tmp_path / "archive" / "1_100.jpg", quality=90)
    shutil.copyfile(tmp_path / "archive" / "1_100.jpg", tmp_path / "inbox" / "IMG_1.jpg")
    with Image.open(tmp_path / "archive" / "1_100.jpg") as decoded:
        decoded.resize((144, 96)).save(tmp_path / "inbox" / "IMG_10.jpg", quality=95)
    spec = QuerySpec.parse("cosine", "range", 0.5)
    files = image_files(tmp_path)
    captions = {image: view_pair("inbox", JoinPair(image, "archive", "1_100.jpg", 1.0), spec,
                                 DEFAULT_THRESHOLDS, files=files).caption
                for image in ("IMG_1.jpg", "IMG_10.jpg")}
    assert "Exact copy" in captions["IMG_1.jpg"]
    assert "Edited copy" in captions["IMG_10.jpg"] and "Exact copy" not in captions["IMG_10.jpg"]
