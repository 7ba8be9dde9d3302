"""Border trimming before description: the photo, not the bars, frame or padding around it.

A copy padded to another aspect ratio (letterboxed, pillarboxed) or framed carries near-uniform margins
that the network describes as if they were part of the photo: with average pooling, a letterboxed copy
moves about as far from its original as another photo of the same scene. Cutting near-uniform margins
off before description is a common first step of copy detection.

The rule keeps photos' own flat areas: margins are cut in **opposite pairs** only (top with bottom, left
with right), when both sides have a margin of about the same colour and a comparable width, as padding
to an aspect ratio or a frame leaves. A clear sky along the top of a landscape has no matching band at
the bottom and stays (on Corel-1k 2% of the photos lose anything; cutting single sides, 35% lost a sky
or a sea).

Works on the (n, 224, 224, 3) network inputs, so every path that describes an image (indexing, keys,
uploads, turned keys, calibration copies) trims the same way: the content is cut out and stretched back
to the input size.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# A margin line: at least COVERAGE of its pixels within TOLERANCE grey levels (any channel) of the
# colour of the outermost line. JPEG ringing and noise at a bar's edge stay within 24 levels.
TOLERANCE = 24
COVERAGE = 0.97
# The narrower margin of a pair must be at least this share of the wider one (centred padding, frames).
PAIR_RATIO = 0.5
# Never keep less than this share of the area: an image that is mostly flat is described whole.
MIN_AREA = 0.25
# Margins thinner than this share of the side are left: cutting a line or two (a scanner's edge, the tip of
# a tilted photo's corner) changes nothing the network sees but costs a resampling of the whole image
# (measured: 8-degree tilted copies found at the threshold 41% of the time instead of 51%).
MIN_MARGIN = 0.02


def _margin(lines: np.ndarray) -> tuple[int, np.ndarray]:
    """How many leading lines of (m, k, 3) uint8 `lines` are a margin, and the margin's colour."""
    colour = np.median(lines[0], axis=0).astype(np.int16)
    start, step = 0, 4
    # Most images fail on the first lines: look at a few first, more only while the margin goes on.
    while start < len(lines):
        chunk = lines[start : start + step].astype(np.int16)
        near = (np.abs(chunk - colour).max(axis=2) <= TOLERANCE).mean(axis=1) >= COVERAGE
        if not near.all():
            return start + int(np.argmin(near)), colour
        start, step = start + len(chunk), step * 2
    return len(lines), colour


def _pair(view: np.ndarray) -> tuple[int, int]:
    """Margins (first, last) to trim along axis 0 of (m, k, 3) `view`, (0, 0) unless both sides qualify."""
    if view.shape[0] < 3 or view.shape[1] < 3:
        return 0, 0
    first, first_colour = _margin(view)
    last, last_colour = _margin(view[::-1])
    thinnest = max(1, int(np.ceil(MIN_MARGIN * view.shape[0])))
    if first < thinnest or last < thinnest or first + last >= view.shape[0] - 1:
        return 0, 0
    if np.abs(first_colour - last_colour).max() > TOLERANCE:
        return 0, 0
    if min(first, last) < PAIR_RATIO * max(first, last):
        return 0, 0
    return first, last


def content_box(pixels: np.ndarray, rounds: int = 3) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), right/bottom exclusive, of an (h, w, 3) RGB image without its margins.

    Pairs of margins are peeled top+bottom then left+right, up to `rounds` times (a frame inside bars);
    the whole image when nothing qualifies or when less than MIN_AREA would be left."""
    a = np.asarray(pixels, dtype=np.uint8)
    height, width = a.shape[:2]
    left, top, right, bottom = 0, 0, width, height
    for _ in range(rounds):
        above, below = _pair(a[top:bottom, left:right])
        top, bottom = top + above, bottom - below
        before, after = _pair(a[top:bottom, left:right].transpose(1, 0, 2))
        left, right = left + before, right - after
        if not (above or below or before or after):
            break
    if (right - left) * (bottom - top) < MIN_AREA * width * height:
        return 0, 0, width, height
    return left, top, right, bottom


def trim_inputs(images: np.ndarray) -> np.ndarray:
    """(n, s, s, 3) uint8 network inputs with their margins cut off and the content stretched back to
    s x s (bilinear); images without margins are returned unchanged (the same array when none has any)."""
    images = np.asarray(images)
    out = None
    for index, image in enumerate(images):
        box = content_box(image)
        if box == (0, 0, image.shape[1], image.shape[0]):
            continue
        if out is None:
            out = images.copy()
        side = (image.shape[1], image.shape[0])
        content = Image.fromarray(np.ascontiguousarray(image)).crop(box)
        out[index] = np.asarray(content.resize(side, Image.Resampling.BILINEAR), dtype=np.uint8)
    return images if out is None else out
