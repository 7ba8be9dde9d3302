"""Decoding any image a curator may drop into a set into the 224x224 RGB array VGG-16 expects.

Every format Pillow reads is accepted, decided by the file's content, not its extension (HEIC/HEIF
through `pillow-heif` when it is installed); EXIF orientation is applied; an embedded ICC colour profile
is converted to sRGB (the colour space ImageNet's photos, hence VGG-16, assume); grayscale, CMYK,
palette, alpha, 16-bit and float images become 8-bit RGB (alpha composited on white, as a viewer shows
it; float pixels scaled from their finite values only, so a NaN no-data band does not blacken the rest).
Large JPEGs are decoded at a reduced scale (JPEG "draft" mode) since we only need 224x224 in the end: a
12-megapixel photo then costs about as much as a small one. The resize is bilinear with Pillow's antialiasing.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path, PurePath
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from simages.extraction.image_errors import NOT_AN_IMAGE, VANISHED, NotAnImage, UnreadableImage

try:  # HEIC/HEIF (iPhone photos): an optional plug-in; without it such files are reported unreadable.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - depends on the environment
    pass

INPUT_SIZE = 224
# Draft decoding keeps at least this many pixels per side, so the final antialiased
# resize still sees every detail it would see in the full image.
_DRAFT_MIN_SIDE = 2 * INPUT_SIZE


def image_extensions() -> frozenset[str]:
    """Extensions (lower case, with the dot) of the formats the installed Pillow and plug-ins can open."""
    return frozenset(ext.lower() for ext in Image.registered_extensions()) | {".heic", ".heif", ".avif"}


def claims_image(name: str) -> bool:
    """Whether the file name says it is an image (only to choose the wording of a refusal, or to browse
    a set before it is indexed: what gets indexed is decided by content)."""
    return PurePath(name).suffix.lower() in image_extensions()


def open_image(path: Path | BinaryIO, max_pixels: int | None = None) -> Image.Image:
    """The image, opened lazily (header read, pixels not decoded): the one place SIMages calls
    `Image.open`, so every path (indexing, thumbnails, the CLI key, uploads, image facts) refuses the same
    files with the same words. With `max_pixels`, an image larger than that is refused too.

    UnreadableImage: NotAnImage for content no format matches; VANISHED for a file gone; "decompression
    bomb" for a header claiming more pixels than `max_pixels` or than Pillow's hard limit (twice
    `Image.MAX_IMAGE_PIXELS`, which Pillow refuses to open in any format). Pillow's
    DecompressionBombWarning (between its two limits) is not printed: the limit here decides."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except UnidentifiedImageError as error:
            # The same words whether decoded from a path or from bytes (a cluster worker): the indexer lists
            # the file as skipped or as unreadable by whether its name claims an image (`claims_image`).
            raise NotAnImage(f"{NOT_AN_IMAGE}: its content is no format Pillow can read") from error
        except FileNotFoundError as error:
            raise UnreadableImage(VANISHED) from error
        except Image.DecompressionBombError as error:
            hard_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
            claimed = re.search(r"\((\d+) pixels\)", str(error))
            what = f"{int(claimed.group(1)):,} pixels" if claimed else "more pixels"
            raise UnreadableImage(
                f"its header claims {what}, more than the {hard_limit:,} Pillow decodes "
                "(possible decompression bomb)"
            ) from error
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            raise UnreadableImage(f"cannot open: {error}") from error
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        image.close()
        raise UnreadableImage(
            f"{width}x{height} pixels exceeds the limit of {max_pixels:,} (possible decompression bomb); "
            "raise max_image_pixels in the settings to index it"
        )
    return image


def displayed_size(path: Path) -> tuple[int, int] | None:
    """(width, height) in pixels as a viewer shows the image (EXIF quarter turns swap them), from its header
    alone; None when it is no image that can be opened (see open_image)."""
    try:
        with open_image(path) as opened:
            width, height = opened.size
            # EXIF orientation 5-8 turns the picture a quarter: the displayed size is the other way round.
            if opened.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                width, height = height, width
            return width, height
    except (UnreadableImage, OSError, ValueError, SyntaxError, EOFError):
        return None


def _decode(path: Path, max_pixels: int) -> Image.Image:
    return open_image(path, max_pixels)


def _scaled_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float images: their real range scaled to 8 bits instead of clipped at 255.

    Only finite pixels define the range (GIS and scientific TIFFs mark no-data with NaN or inf); the
    non-finite ones become black. An image without a single finite pixel is refused."""
    array = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.any():
        raise UnreadableImage("no pixel has a finite value (all NaN or infinite)")
    values = array[finite]
    low, high = float(values.min()), float(values.max())
    out = np.zeros(array.shape, dtype=np.uint8)
    if high > low:
        out[finite] = np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)
    return Image.fromarray(out, "L")


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Pixels described by an embedded ICC profile (Adobe RGB, Display P3, a CMYK press profile...)
    converted to sRGB with LittleCMS, relative colorimetric intent. A profile that cannot be used
    (damaged, or for another colour model than the pixels) is ignored: the pixels are then taken as sRGB."""
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if image.mode != "CMYK" and "srgb" in (source.profile.profile_description or "").lower():
            return image  # already sRGB: skip a conversion that would change nothing
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode=mode,
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F") or image.mode.startswith("I;"):
        image = _scaled_to_8bit(image)
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
            if draft_side is not None and isinstance(image, JpegImageFile):
                # Only the size we need: draft() picks a DCT scale of 1/2, 1/4 or 1/8 that stays above it.
                # JpegImageFile includes MPO, the multi-picture JPEG of cameras and of phones' Ultra HDR
                # photos (a gain map after the picture): testing `format == "JPEG"` decoded those at full
                # size, 4-5x slower at 12 MP.
                image.draft("RGB", (draft_side, draft_side))
            image.seek(0)
            image.load()
            icc = image.info.get("icc_profile")
            # In place: an upright photo (most of them) is not copied (a 12 MP draft copy cost ~1 ms).
            ImageOps.exif_transpose(image, in_place=True)
            result = _to_rgb(_to_srgb(image, icc))
        except UnreadableImage:
            image.close()
            raise
        except Image.DecompressionBombError as error:  # a later frame (GIF, TIFF page) claiming too much
            image.close()
            raise UnreadableImage(f"a frame exceeds Pillow's limit (possible decompression bomb): {error}") \
                from error
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            image.close()
            raise UnreadableImage(f"damaged or truncated image data: {error}") from error
        if result is image:
            if getattr(image, "fp", None) is None:
                return image  # pixels loaded and the file already closed by load(): nothing to release
            # Multi-frame files keep their file open; a copy of the first frame lets it be closed now.
            result = image.copy()
        image.close()
        return result


def load_for_network(path: Path, max_pixels: int = 120_000_000, size: int = INPUT_SIZE) -> np.ndarray:
    """A (size, size, 3) uint8 RGB array, stretched to the square input as VGG-16 was trained."""
    image = open_rgb(path, max_pixels)
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    return np.asarray(image, dtype=np.uint8)


# Truncated files are refused rather than half-decoded: a grey lower half would poison the descriptor.
ImageFile.LOAD_TRUNCATED_IMAGES = False
