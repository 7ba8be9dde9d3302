"""Decoding any image a curator may drop into a set into the 224x224 RGB array VGG-16 expects.

Every format Pillow reads is accepted; EXIF orientation is applied; grayscale, CMYK, palette, alpha and
16-bit images become 8-bit RGB (alpha composited on white, as a viewer shows it). Large JPEGs are
decoded at a reduced scale (JPEG "draft" mode) since we only need 224x224 in the end: a 12-megapixel
photo then costs about as much as a small one. The resize is bilinear with Pillow's antialiasing.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

INPUT_SIZE = 224
# Draft decoding keeps at least this many pixels per side, so the final antialiased
# resize still sees every detail it would see in the full image.
_DRAFT_MIN_SIDE = 2 * INPUT_SIZE


# The reason given for a file removed between listing and decoding; the indexer treats it as removed.
VANISHED = "file disappeared before it could be read"


class UnreadableImage(Exception):
    """An image that cannot be decoded; the message says why, for the index summary."""


def _decode(path: Path, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(path)
    except UnidentifiedImageError as error:
        raise UnreadableImage(
            "not an image Pillow can read (wrong extension or unsupported format)"
        ) from error
    except FileNotFoundError as error:
        raise UnreadableImage(VANISHED) from error
    except OSError as error:
        raise UnreadableImage(f"cannot open: {error}") from error
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise UnreadableImage(
            f"{width}x{height} pixels exceeds the limit of {max_pixels:,} (possible decompression bomb); "
            "raise max_image_pixels in the settings to index it"
        )
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float images: scale their real range to 8 bits instead of clipping at 255.
        array = np.asarray(image, dtype=np.float32)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) * (255.0 / (high - low)) if high > low else np.zeros_like(array)
        image = Image.fromarray(scaled.astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


def open_rgb(
    path: Path, max_pixels: int = 120_000_000, draft_side: int | None = _DRAFT_MIN_SIDE
) -> Image.Image:
    """The image as upright 8-bit RGB (first frame of animations); UnreadableImage if it cannot be."""
    with warnings.catch_warnings():
        # Pillow warns before it refuses; the limit above already decided, so keep logs clean.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = _decode(path, max_pixels)
        try:
            with image:
                if draft_side is not None and image.format == "JPEG":
                    # Only the size we need: draft() picks a DCT scale of 1/2, 1/4 or 1/8 that stays above it.
                    image.draft("RGB", (draft_side, draft_side))
                image.seek(0)
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                return _to_rgb(upright)
        except UnreadableImage:
            raise
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, EOFError) as error:
            raise UnreadableImage(f"damaged or truncated image data: {error}") from error


def load_for_network(path: Path, max_pixels: int = 120_000_000, size: int = INPUT_SIZE) -> np.ndarray:
    """A (size, size, 3) uint8 RGB array, stretched to the square input as VGG-16 was trained."""
    image = open_rgb(path, max_pixels)
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    return np.asarray(image, dtype=np.uint8)


# Truncated files are refused rather than half-decoded: a grey lower half would poison the descriptor.
ImageFile.LOAD_TRUNCATED_IMAGES = False
