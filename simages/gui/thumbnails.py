"""Thumbnails made once per (set, image, file fingerprint) and kept in `settings.thumbnails`.

A page of results from 12-megapixel photos must load within a second, so the browser only ever receives
small JPEGs; they are decoded with JPEG draft mode (a fraction of the full decode) and written
atomically, so a crash or two concurrent requests never leave a half-written file behind. A changed
image gets a new fingerprint, hence a new thumbnail; the old one is simply never asked for again.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

from PIL import Image

from simages.extraction.images import open_rgb
from simages.naming import image_path
from simages.settings import Settings

THUMB_SIDE = 256
# Web browsers display these formats themselves; anything else (TIFF...) is converted for the viewer.
_BROWSER_FORMATS = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp"}
_FULL_SIDE = 2048


def render_jpeg(source: Path, max_pixels: int, side: int) -> bytes:
    """A JPEG of the image fitting in side x side; UnreadableImage if it cannot be decoded."""
    image = open_rgb(source, max_pixels, draft_side=side)
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, optimize=True)
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class ThumbnailCache:
    """Files of thumbnails (and of display copies of non-web formats) for validated set/image names."""

    def __init__(self, settings: Settings, side: int = THUMB_SIDE) -> None:
        self.settings = settings
        self.side = side
        self.folder = settings.thumbnails

    def _cached(self, set_name: str, image: str, kind: str, side: int) -> Path:
        source = image_path(self.settings.image_sets, set_name, image)  # InvalidName / LookupError
        stat = source.stat()
        # Named by image, then by version: a changed image gets a new file, and its old one is found and
        # removed by name, so the cache does not keep every version that ever existed.
        image_key = hashlib.sha256(f"{set_name}\0{image}\0{kind}{side}".encode()).hexdigest()[:32]
        version = hashlib.sha256(f"{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        target = self.folder / image_key[:2] / f"{image_key}-{version}.jpg"
        if not target.is_file():
            _write_atomically(target, render_jpeg(source, self.settings.max_image_pixels, side))
            for stale in target.parent.glob(f"{image_key}-*.jpg"):
                if stale != target:
                    stale.unlink(missing_ok=True)
        return target

    def thumbnail(self, set_name: str, image: str) -> Path:
        """The thumbnail file, made on first request. InvalidName, LookupError or UnreadableImage."""
        return self._cached(set_name, image, "thumb", self.side)

    def full(self, set_name: str, image: str) -> Path:
        """The file to show full-screen: the original when browsers can display it, else a large JPEG."""
        source = image_path(self.settings.image_sets, set_name, image)
        if source.suffix.lower() in _BROWSER_FORMATS:
            return source
        return self._cached(set_name, image, "full", _FULL_SIDE)
