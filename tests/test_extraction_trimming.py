"""Border trimming before description (`trim`): a letterboxed, pillarboxed or framed copy is
described as its photo; a photo's own flat areas (a sky) are kept; a store written without trimming is
never silently compared with trimmed keys."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from simages.cli import main
from simages.copies.edits import apply_edit
from simages.extraction.describe import describe_images
from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR, DescriptorSpec
from simages.extraction.network import TinyNetwork
from simages.extraction.trimming import content_box, trim_inputs
from simages.jobs.indexer import index_set
from simages.nearest.core.set_index import DescriptorMismatch, check_query_time_change
from simages.store.npz_store import load_store
from tests.imagegen import photo


def squashed(image: Image.Image) -> np.ndarray:
    return np.asarray(image.resize((224, 224), Image.Resampling.BILINEAR, reducing_gap=None))


def padded(image: Image.Image, size: tuple[int, int], colour: tuple[int, int, int]) -> Image.Image:
    canvas = Image.new("RGB", size, colour)
    canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return canvas


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (30, 120, 200)])
def test_the_box_of_a_padded_photo_is_the_photo(colour):
    picture = photo(3, (120, 80))
    assert content_box(np.asarray(padded(picture, (120, 120), colour))) == (0, 20, 120, 100)  # letterbox
    assert content_box(np.asarray(padded(picture, (240, 80), colour))) == (60, 0, 180, 80)  # pillarbox
    assert content_box(np.asarray(padded(picture, (140, 100), colour))) == (10, 10, 130, 90)  # frame


def test_a_photo_keeps_its_own_flat_areas():
    picture = np.asarray(photo(4, (120, 80))).copy()
    picture[:25] = (110, 160, 230)  # a clear sky along the top, nothing like it at the bottom
    assert content_box(picture) == (0, 0, 120, 80)
    assert content_box(np.asarray(photo(5, (120, 80)))) == (0, 0, 120, 80)
    flat = np.full((80, 120, 3), 90, np.uint8)  # nothing but margin: described whole
    assert content_box(flat) == (0, 0, 120, 80)


def test_padding_of_unequal_colours_or_widths_is_not_a_pair():
    picture = photo(6, (120, 80))
    canvas = Image.new("RGB", (120, 120), (0, 0, 0))
    canvas.paste(picture, (0, 20))
    canvas.paste(Image.new("RGB", (120, 20), (255, 255, 255)), (0, 100))  # black above, white below
    assert content_box(np.asarray(canvas))[1::2] == (0, 120)
    lopsided = Image.new("RGB", (120, 120), (0, 0, 0))
    lopsided.paste(picture, (0, 36))  # 36 rows above, 4 below
    assert content_box(np.asarray(lopsided))[1::2] == (0, 120)


@pytest.mark.parametrize("kind", ["letterboxed", "pillarboxed", "bordered"])
def test_a_padded_copy_gets_the_descriptor_of_its_photo(kind):
    picture = photo(7, (144, 96))
    copy = apply_edit(kind, picture, seed=11)
    images = np.stack([squashed(picture), squashed(copy)])
    trimmed = trim_inputs(images)
    # Stretched back to the input size: they differ by resampling only.
    assert np.abs(trimmed[1].astype(int) - trimmed[0].astype(int)).mean() < 6
    network = TinyNetwork()
    plain = describe_images(network, images, DescriptorSpec.parse("gap+l2"))
    trim = describe_images(network, images, DescriptorSpec.parse("gap+trim+l2"))
    assert float(trim[0] @ trim[1]) > 0.999
    assert float(trim[0] @ trim[1]) > float(plain[0] @ plain[1])
    assert np.allclose(trim[0], plain[0])  # a photo without margins is described as before


def test_hairline_margins_are_left_as_they_are():
    # A tilted copy's corner tips, a one-pixel frame: cutting them would only resample the whole image.
    tilted = squashed(apply_edit("rotated", photo(8, (144, 96)), seed=2))
    assert content_box(tilted) == (0, 0, 224, 224)
    framed = np.asarray(padded(photo(9, (222, 222)), (224, 224), (0, 0, 0)))
    assert content_box(framed) == (0, 0, 224, 224)


def test_inputs_without_margins_are_returned_as_they_are():
    images = np.stack([squashed(photo(9, (96, 64))), squashed(photo(10, (96, 64)))])
    assert trim_inputs(images) is images


def test_trim_is_an_index_time_part_of_the_descriptor():
    spec = DescriptorSpec.parse("gap+trim+l2+pca128+qe10")
    assert spec.trim and spec.key() == "gap+trim+l2+pca128+qe10"
    assert spec.extraction_key() == "gap+trim+l2"
    assert DescriptorSpec.parse("gap+l2+trim").key() == "gap+trim+l2"
    assert DescriptorSpec.parse("gap+trim+l2+head:shop+pca128").key() == "gap+trim+l2+head:shop+pca128"
    assert "margins" in spec.explain()


def test_a_store_described_without_trimming_is_flagged_not_mixed():
    with pytest.raises(DescriptorMismatch, match="re-indexed"):
        check_query_time_change("old", "gap+l2+pca128+qe10", DescriptorSpec.parse("gap+trim+l2+pca128+qe10"))
    with pytest.raises(DescriptorMismatch, match="re-indexed"):
        check_query_time_change("new", "gap+trim+l2", DescriptorSpec.parse("gap+l2"))
    check_query_time_change("same", DEFAULT_DESCRIPTOR.key(), DEFAULT_DESCRIPTOR)


def test_a_store_written_before_trimming_is_described_again_and_its_copies_become_one(settings):
    folder = settings.image_sets / "s"
    folder.mkdir(parents=True)
    picture = photo(12, (144, 96))
    picture.save(folder / "photo.png")
    apply_edit("letterboxed", picture, seed=1).save(folder / "letterboxed.png")
    photo(13, (144, 96)).save(folder / "other.png")
    old = settings.with_(descriptor=DescriptorSpec.parse("gap+l2+pca128+qe10"))
    index_set(old, "s", network_factory=TinyNetwork)
    before = load_store(settings.store_path("s"))
    assert before.meta["descriptor"] == "gap+l2"
    summary = index_set(settings, "s", network_factory=TinyNetwork)  # the default: trimmed
    assert summary.rebuilt_because == "settings changed: descriptor" and summary.computed == 3
    after = load_store(settings.store_path("s"))
    assert after.meta["descriptor"] == DEFAULT_DESCRIPTOR.extraction_key() == "gap+trim+l2"
    rows = {name: after.vectors[row] for row, name in enumerate(after.names)}
    old_rows = {name: before.vectors[row] for row, name in enumerate(before.names)}
    assert float(rows["photo.png"] @ rows["letterboxed.png"]) > 0.999
    assert float(old_rows["photo.png"] @ old_rows["letterboxed.png"]) < 0.999
    assert np.allclose(rows["other.png"], old_rows["other.png"])


def test_a_set_not_yet_described_again_is_not_joined_with_a_trimmed_one(settings, monkeypatch, capsys):
    monkeypatch.setattr("simages.jobs.distributor.network_for", lambda weights, cache=None: TinyNetwork())
    for name, seed in (("old", 20), ("new", 30)):
        for i in range(3):
            photo(seed + i, (96, 64)).save(_folder(settings, name) / f"p{i}.png")
    old = settings.with_(descriptor=DescriptorSpec.parse("gap+l2+pca128+qe10"))
    index_set(old, "old", network_factory=TinyNetwork)
    index_set(settings, "new", network_factory=TinyNetwork)
    assert main(["--root", str(settings.root), "join", "new", "old"]) == 2
    assert "re-index one of them" in capsys.readouterr().err


def _folder(settings, name):
    folder = settings.image_sets / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
