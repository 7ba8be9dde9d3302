"""What changed between a photo and its copy, said only where it can be told for sure.

Sizes come from the file headers; everything else from the two images' pixels, both reduced to the same
`SIDE` x `SIDE` (the key turned back first), never from a guess. A copy found by the duplicates intent is
said to be:

- **smaller** (resized): fewer pixels (upright width x height) than the other, by more than `SMALLER_AREA`
  of the area, saying *which* image is the smaller one; "resized" only when their pixels are nearly the same;
- **cropped**: the first image is found, pixel for pixel, inside the second (at the same scale), or a
  verified copy's homography lays it over a part of the second: the copy is part of the photo;
- **framed**: the other way round, the second image is part of the first: something was added around the
  photo (a frame, a caption, a screenshot, a collage), said with the share of the first it fills;
- **different-aspect**: the width-to-height ratios differ by more than `ASPECT_TOLERANCE` and no crop was
  found (cropped and resized, or padded with borders: which is not told);
- **turned**: found with the key turned by a quarter turn (simages.copies.turns) or by the keypoints'
  homography, said from the first image's side with its direction ("inbox/a.jpg is archive/a.jpg turned
  90° clockwise");
- **mirrored**: the mirrored pixels match, or the mirrored key matched clearly better (`MIRROR_MARGIN`);
- **grayscale**: one image has no colour and the other has (which one is said);
- **re-encoded**: other bytes, but the pixels nearly the same (`SAME_PSNR`, a JPEG-level difference);
- **edited**: the same aspect, and the pixels differ by more than a re-encoding would (a caption, a colour
  shift...): what the edit was is not told.

When the pixels cannot be read (an unreadable file), only the header facts are said. `FactsCache` reads
each file once per answer, decoding a small preview (JPEG draft mode): a few milliseconds per image.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from simages.copies.verification import Verification

SMALLER_AREA = 0.1  # a tenth fewer pixels: resizing, not the rounding of a re-save
ASPECT_TOLERANCE = 0.03  # 3% in width / height: a crop or a border, not rounding to whole pixels
# How much better (cosine, duplicates space) the mirrored key must match to call a copy mirrored. Measured
# on 40 Corel-1k photos x 7 everyday edits (docs/duplicates.md): a mirrored copy gains 0.07-0.25 from
# mirroring the key; copies that were not mirrored lose 0.00-0.22, except copies rotated by 8 degrees,
# which gain up to 0.043 (so 0.02 would have called 7% of them mirrored).
MIRROR_MARGIN = 0.05
# Pixels compared at SIDE x SIDE (bilinear, antialiased), in BLOCKS x BLOCKS blocks: "nearly the same" when
# even the worst block is within SAME_PSNR dB. Measured on 10 Corel-1k photos (one per class) against a
# quality-75 JPEG: re-saved at quality 50 or 90, halved, enlarged 150%: worst block 41.5-54.4 dB; a caption
# bar, brightness or contrast +20%, mirrored: 5.6-31.2 dB; a small text watermark 23.4-39.0 dB (a faint one
# may pass as re-encoded: it barely changes the picture). The bound sits nearer the edits: synthetic images
# with hard edges and pixel noise, halved, come down to 36 dB.
SIDE, BLOCKS, SAME_PSNR = 32, 4, 34.0
# Colourless: the mean |R-G| + |G-B| at SIDE x SIDE below GRAY_LEVEL (grey levels out of 255); coloured
# above COLOUR_LEVEL (the gap keeps a faintly tinted photo from being called either).
GRAY_LEVEL, COLOUR_LEVEL = 2.0, 8.0
# A crop is sought with the larger image reduced to CROP_SIDE pixels (longest side) and both blurred by
# CROP_BLUR pixels (the two pixel grids do not line up exactly); found when the best offset matches within
# CROP_PSNR dB. Measured on the same 10 photos: a 76% crop 29.9-32.1 dB; that crop then halved 15.1-22.0;
# another photo 5.2-16.2.
CROP_SIDE, CROP_BLUR, CROP_PSNR = 64, 1.0, 26.0
# A verified copy's homography that lays one image over less than this share of the other's area shows a
# crop or a frame (walk 4's screenshot: 47%, collage 50%, half crop 50%, 50-px caption 84%; resized,
# turned, mirrored and grayscale copies 100%), said when the pixels found no crop.
PART_SHARE = 0.9
PREVIEW = 256  # the longest side of the preview each file is decoded to

SMALLER, ASPECT, TURNED, MIRRORED = "smaller", "different-aspect", "turned", "mirrored"
CROPPED, FRAMED, GRAYSCALE, REENCODED, EDITED = "cropped", "framed", "grayscale", "re-encoded", "edited"
# Strongest evidence first: the order changes are listed in.
ORDER = (TURNED, MIRRORED, GRAYSCALE, CROPPED, FRAMED, SMALLER, ASPECT, REENCODED, EDITED)


@dataclass(frozen=True)
class ImageFacts:
    """What a file's header says: upright `width` x `height` pixels, its `format` (JPEG, PNG...), its size in
    bytes, and where it is (for a byte comparison; None for an upload, which gives its `sha256` and, for a
    pixel comparison, a `preview`: the encoded bytes of a smaller copy, upright)."""

    width: int
    height: int
    format: str
    bytes: int
    path: Path | None
    sha256: str = ""
    preview: bytes = field(default=b"", repr=False)

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def aspect(self) -> float:
        return self.width / self.height if self.height else math.nan


def image_facts(path: Path) -> ImageFacts | None:
    """The header facts of the image file `path` (None when it cannot be read: then nothing is said)."""
    from simages.extraction.images import displayed_size, open_image

    try:
        size = os.stat(path).st_size
        shown = displayed_size(path)  # upright: EXIF quarter turns applied
        if shown is None:
            return None
        with open_image(path) as image:
            return ImageFacts(shown[0], shown[1], str(image.format or ""), size, path)
    except (OSError, ValueError):
        return None


class FactsCache:
    """Header facts by path, read once per answer (a photo in many pairs is opened once)."""

    def __init__(self) -> None:
        self._facts: dict[Path, ImageFacts | None] = {}
        self._digests: dict[Path, str | None] = {}  # SHA-256 by path, read when two sizes are equal
        self._previews: dict[int, np.ndarray | None] = {}  # upright RGB previews, by id of the facts
        self._kept: list[ImageFacts] = []  # the facts previewed, so that their ids stay theirs

    def preview(self, facts: ImageFacts) -> np.ndarray | None:
        """The image's upright RGB pixels (height x width x 3, float32 0-255), its longest side at most
        PREVIEW; None when they cannot be read."""
        if id(facts) not in self._previews:
            self._kept.append(facts)
            self._previews[id(facts)] = _read_preview(facts)
        return self._previews[id(facts)]

    def facts(self, path: Path) -> ImageFacts | None:
        if path not in self._facts:
            self._facts[path] = image_facts(path)
        return self._facts[path]

    def digest(self, facts: ImageFacts) -> str | None:
        """The SHA-256 of the file's bytes (None when it cannot be read)."""
        if facts.sha256 or facts.path is None:
            return facts.sha256 or None
        path = facts.path
        if path not in self._digests:
            try:
                with open(path, "rb") as stream:
                    self._digests[path] = hashlib.file_digest(stream, "sha256").hexdigest()
            except OSError:
                self._digests[path] = None
        return self._digests[path]


@dataclass(frozen=True)
class Change:
    """One change: its `code` (JSON's word, one of ORDER) and `text` (for people, with the numbers)."""

    code: str
    text: str


def changes_between(
    a: ImageFacts | None,
    b: ImageFacts | None,
    *,
    turn: int = 0,
    mirrored: bool = False,
    verification: Verification | None = None,
    cache: FactsCache | None = None,
    names: tuple[str, str] = ("the first", "the second"),
) -> list[Change]:
    """What changed between two copies of a photo, `a` (the key, or the first of a pair) and `b`, named
    `names` where it matters which one (the smaller, the cropped, the grayscale one): `turn` is the quarter
    turn (degrees, counter-clockwise) of `a` that matched `b`, `mirrored` whether the mirrored `a` matched
    clearly better. `verification`, the keypoints' verdict on `a` against `b` when the pair was verified
    (simages.copies.verification): when it is a copy, its homography's turn and mirror replace those the
    scores found, so a pair is described alike however its key arrived (an upload searched turned, or a
    stored upright descriptor that found the copy only by its keypoints). Missing facts (an unreadable
    header) leave the size changes unsaid; unreadable pixels leave unsaid what only the pixels tell (module
    docstring). A turn the scores found is dropped when the pixels explain the copy as it is (a crop, a
    resize, a re-encoding) and not turned."""
    cache = cache or FactsCache()
    shares = None
    if verification is not None and verification.is_copy:
        turn, mirrored = geometry(verification, turn)
        shares = (verification.first_share, verification.second_share)
    found = _changes(a, b, turn, mirrored, cache, names, shares)
    if turn and not _explained(found):
        upright = _changes(a, b, 0, mirrored, cache, names, shares)
        if _explained(upright):
            return upright
    return _worded(found, turn, names)


def geometry(verification: Verification, turn: int = 0) -> tuple[int, bool]:
    """The quarter turn (degrees counter-clockwise) of the first image and whether it is mirrored, in
    `changes_between`'s terms, from a copy's verification; `turn` stays when the homography is no quarter
    turn (a copy rotated by a few degrees). The verification mirrors the first image before its homography
    turns it; here the turned image is mirrored: turning then mirroring undoes the opposite turn."""
    if verification.turn is None:
        return turn, verification.mirrored
    quarter = verification.turn % 360
    return ((-quarter) % 360 if verification.mirrored else quarter), verification.mirrored


def turn_words(clockwise: int) -> str:
    """A quarter turn said with its direction, as a person turns a photo: "turned 90° clockwise", "turned
    90° counter-clockwise" or "turned upside down (180°)" (`clockwise`: degrees, a multiple of 90)."""
    quarter = clockwise % 360
    if quarter == 180:
        return "turned upside down (180°)"
    return f"turned 90° {'clockwise' if quarter == 90 else 'counter-clockwise'}"


def _turn_text(turn: int, mirrored: bool, names: tuple[str, str]) -> str:
    """The turn said from the first image's side: `turn` (degrees counter-clockwise) turns it into the
    second (mirrored after, when `mirrored`), so the first is the second mirrored, then turned `turn`
    clockwise ("inbox/a.jpg is archive/a.jpg turned 90° clockwise": the edit a copy was made with)."""
    return f"{names[0]} is {names[1]} {'mirrored, then ' if mirrored else ''}{turn_words(turn)}"


def _worded(found: list[Change], turn: int, names: tuple[str, str]) -> list[Change]:
    """`found` with its turn said once the mirror is known (the pixels may have found or ruled it out):
    a mirrored turned copy is said in one phrase, as the order of the two edits matters."""
    if not turn or not any(change.code == TURNED for change in found):
        return found
    mirrored = any(change.code == MIRRORED for change in found)
    return [Change(TURNED, _turn_text(turn, mirrored, names)) if change.code == TURNED
            else Change(MIRRORED, "") if change.code == MIRRORED else change for change in found]


def _explained(changes: list[Change]) -> bool:
    """Whether the pixels told what the copy is (not just "edited" or "different aspect")."""
    return not any(change.code in (EDITED, ASPECT) for change in changes)


def _part_of(second_is_part: bool, share: float, names: tuple[str, str], sizes: str = "") -> Change:
    """One image found as a part of the other, `share` of its area: the first (the copy) "cropped" from
    the second, or the second "framed" in the first (something added around it); `sizes` as said."""
    if second_is_part:
        within = f"{sizes}: " if sizes else ""
        return Change(FRAMED, f"framed: {names[1]} fills {share:.0%} of {names[0]} ({within}a frame, a "
                              "caption, a screenshot or a collage around it)")
    return Change(CROPPED, f"cropped: {names[0]} is part of {names[1]} ({share:.0%} of it"
                           f"{'; ' + sizes if sizes else ''})")


def _part(shares: tuple[float, float] | None, names: tuple[str, str]) -> Change | None:
    """A crop or a frame the homography of a verified copy shows (`shares`: Verification.first_share,
    second_share), when the pixels found none: the image that is a part of the other, and how much of it."""
    if shares is None:
        return None
    first, second = shares
    if second < PART_SHARE and second <= first:
        return _part_of(True, second, names)
    if first < PART_SHARE:
        return _part_of(False, first, names)
    return None


def _changes(a: ImageFacts | None, b: ImageFacts | None, turn: int, mirrored: bool, cache: FactsCache,
             names: tuple[str, str], shares: tuple[float, float] | None = None) -> list[Change]:
    """changes_between for one turn of `a`."""
    found: list[Change] = []
    if turn:
        found.append(Change(TURNED, "turned"))  # worded once the mirror is known (_worded)
    if a is None or b is None or not a.area or not b.area:
        return found + ([Change(MIRRORED, "mirrored")] if mirrored else [])
    part = _part(shares, names)
    aw, ah = (a.height, a.width) if turn in (90, 270) else (a.width, a.height)
    ratio = (aw / ah) / (b.width / b.height)
    other_aspect = abs(math.log(ratio)) > math.log1p(ASPECT_TOLERANCE)
    fewer = min(aw * ah, b.area) < (1 - SMALLER_AREA) * max(aw * ah, b.area)
    a_smaller = aw * ah < b.area
    small_name = names[0] if a_smaller else names[1]
    sizes = f"{aw}×{ah} vs {b.width}×{b.height}" if a_smaller else f"{b.width}×{b.height} vs {aw}×{ah}"
    pixels_a, pixels_b = cache.preview(a), cache.preview(b)
    if pixels_a is not None and turn:
        pixels_a = np.rot90(pixels_a, k=turn // 90).copy()
    seen = pixels_a is not None and pixels_b is not None
    same_bytes = (aw, ah) == (b.width, b.height) and not _other_bytes(a, b, cache)
    if same_bytes:
        return found + ([Change(MIRRORED, "mirrored")] if mirrored else [])
    if seen and (fewer or other_aspect):
        assert pixels_a is not None and pixels_b is not None
        larger, smaller = (pixels_b, pixels_a) if a_smaller else (pixels_a, pixels_b)
        big = (b.width, b.height) if a_smaller else (aw, ah)
        small = (aw, ah) if a_smaller else (b.width, b.height)
        # A resize (the same aspect, nearly the same pixels) is no crop, however alike its parts look.
        resized = not other_aspect and _nearly_same(_common(pixels_a), _common(pixels_b))
        # A homography laying each image over all of the other says it is no crop, whatever the pixels.
        whole = shares is not None and part is None
        if not resized and not whole and _is_crop(larger, big, smaller, small):
            share = small[0] * small[1] / (big[0] * big[1])
            within = f"{small[0]}×{small[1]} in {big[0]}×{big[1]}"
            found.append(_part_of(not a_smaller, share, names, within))
            return found + ([Change(MIRRORED, "mirrored")] if mirrored else [])
    if other_aspect and part is not None:
        return [*found, part, *([Change(MIRRORED, "mirrored")] if mirrored else [])]
    if other_aspect:
        # Pixels of two aspects compared at one size would differ for the aspect alone: only sizes said.
        both = (aw < b.width and ah < b.height) or (b.width < aw and b.height < ah)
        if fewer and both:
            found.append(Change(SMALLER, f"{small_name} is smaller ({sizes})"))
        found.append(Change(ASPECT, f"different aspect, cropped or padded ({sizes})"))
        return found + ([Change(MIRRORED, "mirrored")] if mirrored else [])
    if not seen:
        if fewer:
            found.append(Change(SMALLER, f"{small_name} is smaller ({sizes})"))
        return found + ([Change(MIRRORED, "mirrored")] if mirrored else [])
    assert pixels_a is not None and pixels_b is not None
    one, two = _common(pixels_a), _common(pixels_b)
    gray = (_colourless(one), _colourless(two))
    if gray[0] != gray[1] and (_coloured(one) or _coloured(two)):
        colourless = names[0] if gray[0] else names[1]
        found.append(Change(GRAYSCALE, f"{colourless} is grayscale, the other in colour"))
        one, two = _luminance(one), _luminance(two)
    same = _nearly_same(one, two)
    if same:
        mirrored = False  # the pixels themselves say it is not mirrored: stronger than the scores
    elif _nearly_same(one[:, ::-1], two):
        mirrored, same = True, True
    if mirrored:
        found.append(Change(MIRRORED, "mirrored"))
    if fewer:
        found.append(Change(SMALLER, f"{small_name} is smaller ({sizes}){', resized' if same else ''}"))
    if not same and part is not None:
        found.append(part)
    elif not same:
        found.append(Change(EDITED, "edited: the pixels differ by more than a re-encoding"
                            + (f" ({_same_size(a, turn)})" if not fewer else "")))
    elif not fewer and not mirrored and not any(c.code == GRAYSCALE for c in found):
        formats = f" ({a.format} vs {b.format})" if a.format != b.format else ""
        found.append(Change(REENCODED, f"re-encoded: {_same_size(a, turn)}, nearly the same pixels, "
                                       f"other bytes{formats}"))
    return found


def _same_size(a: ImageFacts, turn: int) -> str:
    """"same size", or "same size, turned (W×H vs H×W)" when a quarter turn swapped width and height."""
    if turn in (90, 270) and a.width != a.height:
        return f"same size, turned ({a.width}×{a.height} vs {a.height}×{a.width})"
    return "same size"


def _read_preview(facts: ImageFacts) -> np.ndarray | None:
    """The upright RGB preview of the file (or of an upload's `preview` bytes), None when unreadable."""
    from PIL import ImageOps

    from simages.extraction.images import UnreadableImage, open_image

    source: Path | io.BytesIO | None = facts.path if facts.path is not None else (
        io.BytesIO(facts.preview) if facts.preview else None)
    if source is None:
        return None
    try:
        with open_image(source) as image:
            image.draft("RGB", (PREVIEW, PREVIEW))  # JPEG: decoded at a fraction of the size, fast
            upright = ImageOps.exif_transpose(image).convert("RGB")
            upright.thumbnail((PREVIEW, PREVIEW))
            return np.asarray(upright, dtype=np.float32)
    except (UnreadableImage, OSError, ValueError, SyntaxError, EOFError):
        return None  # an undecodable file: the pixel facts are left unsaid


BOX, BILINEAR = 4, 2  # PIL.Image.Resampling's values (PIL imported only where pixels are read)


def _resized(pixels: np.ndarray, size: tuple[int, int], method: int = BOX) -> np.ndarray:
    """`pixels` reduced to `size` (width, height): box-filtered, or bilinear (antialiased: a triangle filter
    as wide as the reduction, which keeps hard edges from aliasing differently at two scales)."""
    from PIL import Image

    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    return np.asarray(image.resize(size, Image.Resampling(method)), dtype=np.float32)


def _blurred(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The luminance of `pixels` box-filtered to `size` (width, height), blurred by CROP_BLUR pixels."""
    from PIL import Image, ImageFilter

    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").convert("L")
    blurred = image.resize(size, Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(CROP_BLUR))
    return np.asarray(blurred, dtype=np.float32)


def _common(pixels: np.ndarray) -> np.ndarray:
    return _resized(pixels, (SIDE, SIDE), BILINEAR)


def _luminance(pixels: np.ndarray) -> np.ndarray:
    gray = pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat(gray[..., None], 3, axis=-1)


def _colour(pixels: np.ndarray) -> float:
    return float(np.mean(np.abs(pixels[..., 0] - pixels[..., 1]) + np.abs(pixels[..., 1] - pixels[..., 2])))


def _colourless(pixels: np.ndarray) -> bool:
    return _colour(pixels) < GRAY_LEVEL


def _coloured(pixels: np.ndarray) -> bool:
    return _colour(pixels) > COLOUR_LEVEL


def _psnr(mse: float | np.ndarray) -> float | np.ndarray:
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-6))


def _nearly_same(one: np.ndarray, two: np.ndarray) -> bool:
    """Whether even the worst of BLOCKS x BLOCKS blocks of the two SIDE x SIDE images is within SAME_PSNR."""
    error = ((one - two) ** 2).mean(axis=-1)
    step = SIDE // BLOCKS
    blocks = error.reshape(BLOCKS, step, BLOCKS, step).mean(axis=(1, 3))
    return bool(_psnr(float(blocks.max())) >= SAME_PSNR)


def _is_crop(larger: np.ndarray, big: tuple[int, int], smaller: np.ndarray, small: tuple[int, int]) -> bool:
    """Whether `smaller` (a preview of an image of `small` pixels, width x height) is found inside `larger`
    (a preview of `big` pixels) at the same scale: both reduced by the factor that brings `big` to
    CROP_SIDE, the smaller slid over every offset of the larger."""
    if small[0] > big[0] or small[1] > big[1]:
        return False
    factor = CROP_SIDE / max(big)
    big_size = (max(1, round(big[0] * factor)), max(1, round(big[1] * factor)))
    small_size = (max(1, round(small[0] * factor)), max(1, round(small[1] * factor)))
    if min(small_size) < 8:  # too few pixels to tell a crop from chance
        return False
    whole, part = _blurred(larger, big_size), _blurred(smaller, small_size)
    windows = np.lib.stride_tricks.sliding_window_view(whole, part.shape)
    mse = ((windows - part) ** 2).mean(axis=(-2, -1))
    return bool(_psnr(float(mse.min())) >= CROP_PSNR)


def _other_bytes(a: ImageFacts, b: ImageFacts, cache: FactsCache | None) -> bool:
    """Whether the two files differ in their bytes (sizes first; equal sizes compared by SHA-256)."""
    if a.bytes != b.bytes:
        return True
    cache = cache or FactsCache()
    first, second = cache.digest(a), cache.digest(b)
    return first is not None and second is not None and first != second


def codes(changes: Iterable[Change]) -> list[str]:
    """The JSON words of `changes`, in ORDER."""
    return [c.code for c in sorted(changes, key=lambda c: ORDER.index(c.code))]


def describe(changes: list[Change]) -> str:
    """One phrase for tables and tiles ("" when nothing can be told)."""
    return "; ".join(c.text for c in sorted(changes, key=lambda c: ORDER.index(c.code)) if c.text)


def to_json(changes: list[Change]) -> dict[str, Any]:
    """`{"changes": [codes], "changed": "phrase"}` for a pair or a result."""
    return {"changes": codes(changes), "changed": describe(changes)}
