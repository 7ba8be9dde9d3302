"""Thumbnails made once per (set, image, file fingerprint) and kept in `settings.thumbnails`.

A page of results from 12-megapixel photos must load within a second, so the browser only ever receives
small JPEGs; they are decoded with JPEG draft mode (a fraction of the full decode) and written
atomically, so a crash or two concurrent requests never leave a half-written file behind. A changed
image gets a new fingerprint, hence a new thumbnail, which replaces the old one; the files of deleted
images are removed by `prune`, which the app runs when it starts.

Pages link to an image by `url`, which carries the file's version (size, modification time and a sample of
its content): a file replaced in place gets a new URL, so no browser cache can show its old picture beside
a score computed from the new file, and each versioned URL can be cached for good.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image

from simages.extraction.images import open_image, open_rgb
from simages.gui.urls.image import full_url, thumb_url
from simages.naming import InvalidName, image_path, list_sets
from simages.settings import Settings
from simages.store.cache_files import CacheWriter
from simages.store.fingerprint import Fingerprint
from simages.store.scan import scan_set

log = logging.getLogger(__name__)

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


class ThumbnailCache:
    """Files of thumbnails (and of display copies of non-web formats) for validated set/image names."""

    def __init__(self, settings: Settings, side: int = THUMB_SIDE, memory_bytes: int = 64 << 20) -> None:
        self.settings = settings
        self.side = side
        self.folder = settings.thumbnails
        self.writer = CacheWriter(log, "the thumbnail cache")
        # Thumbnails that could not be written (features/ read-only or blocked), newest last, within
        # `memory_bytes`: served from here instead of being rendered again for every request.
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._memory_bytes = memory_bytes
        self._memory_used = 0
        self._memory_lock = threading.Lock()

    @staticmethod
    def _image_key(set_name: str, image: str, kind: str, side: int) -> str:
        text = f"{set_name}\0{image}\0{kind}{side}".encode("utf-8", "surrogateescape")
        return hashlib.sha256(text).hexdigest()[:32]

    @staticmethod
    def _version_of(source: Path) -> str:
        # Size, modification and change time: an edit keeping the first two still moves the third.
        fingerprint = Fingerprint.of(source.stat())
        return hashlib.sha256(repr(tuple(fingerprint)).encode()).hexdigest()[:12]

    def version(self, set_name: str, image: str) -> str | None:
        """The current version of an image file (12 hex digits), None if it is gone or the name is bad."""
        try:
            return self._version_of(image_path(self.settings.image_sets, set_name, image))
        except (InvalidName, LookupError, OSError):
            return None

    def url(self, set_name: str, image: str, full: bool = False) -> str:
        """The URL of the thumbnail (or, `full`, of the full-size image) of this version of the file; an
        image deleted meanwhile gets a URL that shows it as deleted."""
        version = self.version(set_name, image) or "deleted"
        return (full_url if full else thumb_url)(set_name, image, version)

    def _cached(self, set_name: str, image: str, kind: str, side: int) -> Path | bytes:
        source = image_path(self.settings.image_sets, set_name, image)  # InvalidName / LookupError
        # Named by image, then by version: a changed image gets a new file, and its old one is found and
        # removed by name, so the cache does not keep every version that ever existed.
        image_key = self._image_key(set_name, image, kind, side)
        version = self._version_of(source)
        target = self.folder / image_key[:2] / f"{image_key}-{version}.jpg"
        if target.is_file():
            return target
        with self._memory_lock:
            kept = self._memory.get(target.name)
            if kept is not None:
                self._memory.move_to_end(target.name)
                return kept
        jpeg = render_jpeg(source, self.settings.max_image_pixels, side)
        if not self.writer.write(target, jpeg):
            self._remember(target.name, jpeg)
            return jpeg
        try:
            for stale in target.parent.glob(f"{image_key}-*.jpg"):
                if stale != target:
                    stale.unlink(missing_ok=True)
        except OSError:
            pass  # an old version left behind is removed by the next prune
        return target

    def _remember(self, key: str, jpeg: bytes) -> None:
        with self._memory_lock:
            old = self._memory.pop(key, None)
            self._memory[key] = jpeg
            self._memory_used += len(jpeg) - (len(old) if old is not None else 0)
            while self._memory_used > self._memory_bytes and len(self._memory) > 1:
                self._memory_used -= len(self._memory.popitem(last=False)[1])

    def thumbnail(self, set_name: str, image: str) -> Path | bytes:
        """The thumbnail: its file, made on first request, or its JPEG bytes when the cache folder cannot be
        written (kept in memory). InvalidName, LookupError or UnreadableImage."""
        return self._cached(set_name, image, "thumb", self.side)

    def full(self, set_name: str, image: str) -> Path | bytes:
        """What to show full-screen: the original when browsers can display it, else a large JPEG (a file,
        or bytes as for `thumbnail`)."""
        source = image_path(self.settings.image_sets, set_name, image)
        if source.suffix.lower() in _BROWSER_FORMATS:
            # The browser decodes the original: its header is checked first (a bomb is refused here too).
            open_image(source, self.settings.max_image_pixels).close()
            return source
        return self._cached(set_name, image, "full", _FULL_SIDE)

    def prune(self) -> int:
        """Remove the files of images that are no longer in any set; returns how many were removed.

        A changed image's old version is replaced as soon as it is shown again, but a deleted image (or
        set) is never asked for again, so without this its files would stay forever.
        """
        if not self.folder.is_dir():
            return 0
        keep: set[str] = set()
        for set_name in list_sets(self.settings.image_sets):
            for image in scan_set(self.settings.image_sets / set_name).files:
                keep.add(self._image_key(set_name, image, "thumb", self.side))
                keep.add(self._image_key(set_name, image, "full", _FULL_SIDE))
        removed = 0
        for path in self.folder.glob("??/*.jpg"):
            if path.stem.split("-", 1)[0] not in keep:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
