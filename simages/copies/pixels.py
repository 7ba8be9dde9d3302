"""Whether two image files hold the same pixels: what makes a pair an *exact* copy (simages.copies.levels).

A descriptor score near 1 is not proof: an upscaled or re-encoded copy of a smooth photo can score 0.998 or
more. Only the few pairs whose score reaches the exact level are checked here, so reading two files each
is cheap next to the join that found them."""

from __future__ import annotations

import filecmp
from collections.abc import Callable
from pathlib import Path


def same_pixels(a: Path, b: Path) -> bool | None:
    """True when the files are byte-identical, or decode to the same size and the same pixel values (a
    lossless re-save, e.g. JPEG -> PNG of the decoded pixels); False when they differ; None when either
    cannot be read (missing, unreadable, not an image), so the caller falls back to what it knew."""
    from PIL import Image

    try:
        if a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False):
            return True
        with Image.open(a) as first, Image.open(b) as second:
            if first.size != second.size:
                return False
            if first.mode != second.mode:
                return first.convert("RGBA").tobytes() == second.convert("RGBA").tobytes()
            return first.tobytes() == second.tobytes()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def image_files(image_sets: Path) -> Callable[[str], Path]:
    """Qualified name `set/sub/image` -> its file under `image_sets` (names come from the stores)."""
    def file_of(qualified: str) -> Path:
        set_name, _, image = qualified.partition("/")
        return image_sets / set_name / Path(*image.split("/"))

    return file_of
