"""Every format a curator may drop in becomes the same kind of 224x224 RGB input."""

from __future__ import annotations

from pathlib import Path

import imagegen
import numpy as np
import pytest
from PIL import Image

from simages.extraction.images import UnreadableImage, load_for_network, open_rgb


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_common_formats_load_as_rgb_224(tmp_path: Path, fmt: str) -> None:
    path = imagegen.save(imagegen.photo(0), tmp_path / f"x.{fmt.lower()}", format=fmt)
    array = load_for_network(path)
    assert array.shape == (224, 224, 3) and array.dtype == np.uint8
    assert array.std() > 5, "the picture content should survive decoding"


def test_odd_modes_become_rgb(tmp_path: Path) -> None:
    for make in (
        imagegen.png16,
        imagegen.cmyk_jpeg,
        imagegen.palette_png_with_transparency,
        imagegen.animated_gif,
        imagegen.rgba_png,
    ):
        path = make(tmp_path / f"{make.__name__}.{'jpg' if 'jpeg' in make.__name__ else 'png'}")
        if make is imagegen.animated_gif:
            path = path.rename(path.with_suffix(".gif"))
        image = open_rgb(path)
        assert image.mode == "RGB", make.__name__
    grey = imagegen.save(imagegen.photo(0).convert("L"), tmp_path / "grey.png")
    assert open_rgb(grey).mode == "RGB"


def test_sixteen_bit_range_is_scaled_not_clipped(tmp_path: Path) -> None:
    array = np.asarray(open_rgb(imagegen.png16(tmp_path / "ramp.png")))
    assert array.min() == 0 and array.max() == 255


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    upright = imagegen.photo(0, (120, 60))
    path = imagegen.exif_rotated_jpeg(tmp_path / "rotated.jpg", upright)
    with Image.open(path) as raw:
        assert raw.size == (60, 120)
    assert open_rgb(path).size == (120, 60)


def test_transparent_pixels_are_composited_on_white(tmp_path: Path) -> None:
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    path = imagegen.save(image, tmp_path / "clear.png")
    assert np.asarray(open_rgb(path)).min() == 255


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    path = imagegen.animated_gif(tmp_path / "anim.gif")
    first = np.asarray(imagegen.photo(4).convert("P").convert("RGB"), dtype=np.int16)
    assert np.abs(np.asarray(open_rgb(path), dtype=np.int16) - first).mean() < 3


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "not an image"),
        (lambda p: p.write_text("<html>hello</html>"), "not an image"),
        (imagegen.truncated_jpeg, "damaged or truncated"),
    ],
)
def test_broken_files_raise_unreadable_with_a_reason(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "broken.jpg"
    make(path)
    with pytest.raises(UnreadableImage, match=reason):
        load_for_network(path)


def test_decompression_bomb_is_refused_with_advice(tmp_path: Path) -> None:
    path = imagegen.bomb_png(tmp_path / "bomb.png", side=12000)
    with pytest.raises(UnreadableImage, match="max_image_pixels"):
        load_for_network(path, max_pixels=100_000_000)


@pytest.mark.parametrize("fmt", ["JPEG", "MPO"])
def test_large_jpeg_family_photos_are_decoded_at_reduced_scale(tmp_path: Path, fmt: str) -> None:
    # MPO is the multi-picture JPEG of cameras and of phones' Ultra HDR photos (the picture, then a gain
    # map). It used to escape draft decoding and cost 4-5x a plain JPEG of the same size.
    picture = imagegen.photo(3, (2400, 1800))
    extra = {"save_all": True, "append_images": [picture.resize((600, 450))]} if fmt == "MPO" else {}
    path = imagegen.save(picture, tmp_path / "camera.jpg", format=fmt, quality=90, **extra)
    with Image.open(path) as raw:
        assert raw.format == fmt
    decoded = open_rgb(path)
    assert decoded.size == (600, 450), "the DCT scale keeping both sides >= 448 px is 1/4"
    reference = np.asarray(picture.resize((224, 224), Image.Resampling.BILINEAR), dtype=np.float32)
    assert np.abs(load_for_network(path).astype(np.float32) - reference).mean() < 4


def test_multi_frame_files_give_their_first_frame_after_closing(tmp_path: Path) -> None:
    path = imagegen.animated_gif(tmp_path / "anim.gif")
    first = open_rgb(path)
    first.load()  # still usable: a copy of the first frame, not a view of a closed file
    with Image.open(path) as raw:
        assert np.array_equal(np.asarray(first), np.asarray(raw.convert("RGB")))
