"""What the viewer says about an image file: pixel size, file size and modification date.

Read only for the image being shown (one `stat` and one header read), never for a whole grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from simages.extraction.images import displayed_size
from simages.naming import InvalidName, image_path
from simages.settings import Settings


@dataclass(frozen=True)
class ImageInfo:
    """Facts about one image; any field may be unknown (None)."""

    width: int | None = None  # pixels
    height: int | None = None  # pixels
    size_bytes: int | None = None  # bytes on disk
    modified: datetime | None = None  # local time of the file's last modification


def image_info(settings: Settings, set_name: str, image: str) -> ImageInfo | None:
    """Pixel size (from the file's header, without decoding), file size and date of a validated set/image
    name; None when the name is invalid or the file is gone."""
    try:
        path = image_path(settings.image_sets, set_name, image)
        stat = path.stat()
    except (InvalidName, LookupError, OSError):
        return None
    width, height = displayed_size(path) or (None, None)
    return ImageInfo(width, height, stat.st_size, datetime.fromtimestamp(stat.st_mtime))


def format_bytes(size: int) -> str:
    """`812 bytes`, `34 KB`, `2.4 MB` (powers of 1,000, as file managers show them)."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.0f} KB"
    return f"{size / 1_000_000:.1f} MB"


def describe_info(info: ImageInfo | None) -> str:
    """One line, e.g. `1024 × 768 pixels · 312 KB · 2024-05-01 14:03`; empty when nothing is known."""
    if info is None:
        return ""
    parts = []
    if info.width and info.height:
        parts.append(f"{info.width:,} × {info.height:,} pixels")
    if info.size_bytes is not None:
        parts.append(format_bytes(info.size_bytes))
    if info.modified is not None:
        parts.append(info.modified.strftime("%Y-%m-%d %H:%M"))
    return " · ".join(parts)
