"""Copy verification: whether a candidate pair shows one photo (a copy) or two photos of one scene.

A global descriptor scores a photo and its copy high, but also two frames of one burst, or one building
from two viewpoints: on a small collection of photos of one kind, most photos *not* in it score as copies
(docs/duplicates.md). Local features tell them apart, whatever the collection: a copy's points all move
together under one plane-to-plane mapping (a resize, a crop, a turn, a mirror, a perspective, a photo
pasted into a larger image) and, where the mapping lays one image on the other, their pixels agree; two
frames of a burst agree on the background and not on what moved, two viewpoints on one plane only.

The method: SIFT keypoints (Lowe, "Distinctive image features from scale-invariant keypoints", IJCV
2004) of both images at `WORKING_SIDE` pixels, matched with Lowe's ratio test, a homography fitted by
RANSAC (Fischler & Bolles, CACM 1981) to the matches, for the first image as it is and mirrored (SIFT is
not mirror-invariant); then the first image warped onto the second, and the share of the overlapped
blocks whose pixels agree (normalised cross-correlation). The thresholds were measured on Corel-1k:
2,700 edited copies of 100 photos (27 kinds) and each photo's 10 nearest other photos in the
duplicates space (docs/duplicates.md, "Copy verification").

Works on images in memory or on files through a `LocalFeatureCache` the caller keeps (a search
verifies one image against several). Needs OpenCV (`cv2`), imported on first use.
"""

from __future__ import annotations

import io
import itertools
import math
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# Long side of the grey image keypoints are found on (pixels): an upload's kept preview (512 px) and a
# 384-px Corel photo alike; small images are enlarged to it so a 64-px thumbnail still has keypoints.
WORKING_SIDE = 384
MAX_KEYPOINTS = 800
# Lowe's ratio test (IJCV 2004, section 7.1): a match is kept when its nearest descriptor is clearly
# nearer than the second nearest.
RATIO = 0.8
# RANSAC's reprojection error for an inlier, pixels at WORKING_SIDE (1.5% of the long side).
RANSAC_PIXELS = 6.0
# A copy: at least this many matches agree on one homography (chance agreement of wrong matches gives a
# handful; a collage whose photo is a small part of it, or a photo with little texture, gives 15-25) ...
MIN_INLIERS = 15
# ... and in at least this share of the blocks the homography overlaps, the pixels agree (NCC >= BLOCK_NCC).
# Measured through this module (Corel-1k: 100 photos x 26 edit kinds; each photo's 10 nearest other photos
# in the duplicates space): every copy of 20 kinds is a COPY, perspective 100%, 64-px thumbnails 95%
# (else unsure), chains of three strong edits 72% (5% called two photos), blurred ones unsure 72%; of the
# 1,000 nearest other photos 97.5% are told apart, 1.4% pass (burst frames: the same background, a horse
# moved; one facade from two places), 1.1% are unsure.
MIN_AGREEMENT = 0.3
BLOCK_NCC = 0.7
GRID = 8
# Both images are smoothed (Gaussian, sigma in pixels at WORKING_SIDE) before their blocks are compared, so
# that the homography's own error (a pixel or two: RANSAC_PIXELS lets inliers be off by more) does not
# read as different content; perspective copies otherwise failed 8% of the time (Corel-1k), look-alikes
# gained nothing (14 -> 15 of 1,000 called copies).
BLOCK_BLUR = 1.5
# Fewer keypoints than this in either image, or fewer pixels than this in either file (a thumbnail
# enlarged to WORKING_SIDE has keypoints, but of its blur and JPEG blocks), and a failed match proves
# nothing (a blurred copy, a sky, a 64-px thumbnail): the pair is UNSURE, and its score alone decides.
MIN_KEYPOINTS = 100
MIN_SOURCE_PIXELS = 128 * 128
# A pair whose global score is *below* the duplicate threshold is called a copy only on stronger proof,
# since it is looked for among several candidates of each key (simages.copies.levels.level_of's
# `promote`): PROOF_INLIERS matches on one homography and PROOF_AGREEMENT of the blocks.
PROOF_INLIERS = 25
PROOF_AGREEMENT = 0.6
# How many of a new photo's nearest collection photos are verified even below the threshold (triage,
# `simages duplicates NEW SET ...`): a turned, collaged or pillarboxed copy scores low but is near; each
# one more costs a verification (about 0.1 s) for little.
PROMOTED = 3
_MIN_MATCHES = 8


class Verdict(Enum):
    """What the local features say of a pair."""

    COPY = "copy"
    NOT_COPY = "not a copy"
    UNSURE = "unsure"


@dataclass(frozen=True)
class Verification:
    """The verdict on a pair, and what it rests on: `inliers` (matches one homography explains),
    `agreement` (share of overlapped blocks whose pixels agree, 0..1), `mirrored` (the first image was
    mirrored to match) and `turn` (the homography's rotation to the nearest quarter turn, degrees
    counter-clockwise, None when it is not near one)."""

    verdict: Verdict
    inliers: int = 0
    agreement: float = 0.0
    mirrored: bool = False
    turn: int | None = None
    # Both images had enough pixels to be compared (MIN_SOURCE_PIXELS): a small thumbnail's match can be
    # a chance one.
    detailed: bool = True
    # A copy's homography laid each image's outline on the other: the share of the second image's area the
    # first covers (`first_share`, under 1: the first is a part of the second, a crop) and of the first's
    # the second covers (`second_share`, under 1: the first holds the second in a frame, a screenshot or
    # a collage). 1.0 when not a copy, or when the mapping cannot be inverted.
    first_share: float = 1.0
    second_share: float = 1.0

    @property
    def is_copy(self) -> bool:
        return self.verdict is Verdict.COPY

    @property
    def proves_copy(self) -> bool:
        """A copy beyond doubt (PROOF_INLIERS on the homography, PROOF_AGREEMENT of the blocks): enough to
        call a pair a copy that its global score missed (a turned, collaged or pillarboxed copy, a small
        thumbnail: chance matches do not reach that many on one homography with that much agreement)."""
        return self.is_copy and self.inliers >= PROOF_INLIERS and self.agreement >= PROOF_AGREEMENT


@dataclass(frozen=True)
class _View:
    points: np.ndarray  # (n, 2) float32, pixels at WORKING_SIDE
    descriptors: np.ndarray  # (n, 128) uint8 (SIFT's values are bytes)
    grey: np.ndarray  # (h, w) uint8


class LocalFeatures:
    """SIFT keypoints of one image (and, made when first needed, of its mirror image); `source_pixels`:
    how many pixels the image had before it was brought to WORKING_SIDE."""

    def __init__(self, grey: np.ndarray, source_pixels: int | None = None) -> None:
        self.grey = grey
        self.source_pixels = grey.size if source_pixels is None else source_pixels
        self.view = _detect(grey)
        self._mirrored: _View | None = None

    @property
    def mirrored(self) -> _View:
        if self._mirrored is None:
            self._mirrored = _detect(np.ascontiguousarray(self.grey[:, ::-1]))
        return self._mirrored

    def __len__(self) -> int:
        return len(self.view.points)


def _cv2() -> Any:
    import cv2

    return cv2


def _detect(grey: np.ndarray) -> _View:
    cv2 = _cv2()
    sift = cv2.SIFT_create(nfeatures=MAX_KEYPOINTS)
    keypoints, descriptors = sift.detectAndCompute(grey, None)
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    if descriptors is None:
        descriptors = np.zeros((0, 128), dtype=np.uint8)
    return _View(points, np.clip(descriptors, 0, 255).astype(np.uint8), grey)


def working_grey(image: Image.Image) -> np.ndarray:
    """`image` as grey uint8 pixels whose long side is `WORKING_SIDE` (h, w)."""
    grey = image.convert("L")
    width, height = grey.size
    scale = WORKING_SIDE / max(width, height, 1)
    if abs(scale - 1.0) > 0.02:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = grey.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.uint8)


def local_features(image: Image.Image) -> LocalFeatures:
    """The SIFT keypoints of an upright RGB or grey `image` at `WORKING_SIDE` pixels."""
    return LocalFeatures(working_grey(image), image.width * image.height)


def verify(a: LocalFeatures, b: LocalFeatures) -> Verification:
    """Whether `a` and `b` show one photo (COPY), two (NOT_COPY), or too little texture to tell (UNSURE).
    `a` is tried as it is and mirrored; turns, crops, resizes and perspective come with the homography."""
    best: tuple[int, bool, Any, float] | None = None
    # Too few keypoints to fit a homography (a flat image): no need to find the mirror image's.
    views = (False, True) if min(len(a), len(b)) >= _MIN_MATCHES else ()
    for mirrored in views:
        view = a.mirrored if mirrored else a.view
        found = _homography(view, b.view)
        if found is not None and (best is None or found[0] > best[0]):
            best = (found[0], mirrored, found[1], _agreement(view.grey, b.view.grey, found[1]))
            if best[0] >= PROOF_INLIERS and best[3] >= PROOF_AGREEMENT:
                break  # a copy as it is beyond doubt: the mirror image would not match better
    if best is not None:
        inliers, mirrored, homography, agreement = best
        if inliers >= MIN_INLIERS and agreement >= MIN_AGREEMENT:
            if np.linalg.det(homography[:2, :2]) < 0:  # the homography itself mirrors
                mirrored, homography = not mirrored, homography @ np.diag([-1.0, 1.0, 1.0])
            detailed = min(a.source_pixels, b.source_pixels) >= MIN_SOURCE_PIXELS
            first, second = _shares(homography, a.grey.shape, b.view.grey.shape)
            return Verification(Verdict.COPY, inliers, agreement, mirrored, _turn(homography), detailed,
                                first, second)
    else:
        inliers, mirrored, agreement = 0, False, 0.0
    enough = (min(len(a), len(b)) >= MIN_KEYPOINTS
              and min(a.source_pixels, b.source_pixels) >= MIN_SOURCE_PIXELS)
    verdict = Verdict.NOT_COPY if enough else Verdict.UNSURE
    return Verification(verdict, inliers, agreement, mirrored)


def _homography(a: _View, b: _View) -> tuple[int, np.ndarray] | None:
    """(inliers, 3x3 homography from a's pixels to b's), or None when too few matches to fit one."""
    if len(a.descriptors) < 2 or len(b.descriptors) < 2:
        return None
    cv2 = _cv2()
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    knn = matcher.knnMatch(a.descriptors.astype(np.float32), b.descriptors.astype(np.float32), k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    if len(good) < _MIN_MATCHES:
        return None
    source = a.points[[m.queryIdx for m in good]]
    target = b.points[[m.trainIdx for m in good]]
    homography, mask = cv2.findHomography(source, target, cv2.RANSAC, RANSAC_PIXELS)
    if homography is None or mask is None or not np.all(np.isfinite(homography)):
        return None
    return int(mask.sum()), homography


def _agreement(a: np.ndarray, b: np.ndarray, homography: np.ndarray) -> float:
    """Share of b's GRID x GRID blocks (those a covers, at least 90%) whose pixels correlate with a's
    warped onto them (NCC >= BLOCK_NCC, both smoothed by BLOCK_BLUR); 0 when a covers no block."""
    cv2 = _cv2()
    a = cv2.GaussianBlur(a.astype(np.float32), (0, 0), BLOCK_BLUR)
    b = cv2.GaussianBlur(b.astype(np.float32), (0, 0), BLOCK_BLUR)
    height, width = b.shape
    warped = cv2.warpPerspective(a, homography, (width, height), flags=cv2.INTER_LINEAR)
    covered = cv2.warpPerspective(np.ones(a.shape, np.uint8), homography, (width, height),
                                  flags=cv2.INTER_NEAREST) > 0
    rows = np.linspace(0, height, GRID + 1).astype(int)
    cols = np.linspace(0, width, GRID + 1).astype(int)
    agree = blocks = 0
    for top, bottom in itertools.pairwise(rows):
        for left, right in itertools.pairwise(cols):
            inside = covered[top:bottom, left:right]
            if inside.size == 0 or inside.mean() < 0.9:
                continue
            blocks += 1
            p = warped[top:bottom, left:right][inside]
            q = b[top:bottom, left:right][inside]
            p = p - p.mean()
            q = q - q.mean()
            energy = math.sqrt(float((p * p).sum()) * float((q * q).sum()))
            # A flat block (a border, a clipped sky) correlates with nothing: it does not count.
            if energy <= 1e-6 * len(p):
                blocks -= 1
                continue
            agree += float((p * q).sum()) / energy >= BLOCK_NCC
    return agree / blocks if blocks else 0.0


def _outline_share(homography: np.ndarray, source: tuple[int, ...], target: tuple[int, ...]) -> float:
    """The area of the `source` image's outline (height, width) mapped by `homography`, as a share of the
    `target` image's area (shoelace formula on the four mapped corners; capped at 1)."""
    cv2 = _cv2()
    height, width = source[:2]
    corners = np.array([[[0, 0]], [[width, 0]], [[width, height]], [[0, height]]], dtype=np.float64)
    mapped = cv2.perspectiveTransform(corners, homography)[:, 0, :]
    x, y = mapped[:, 0], mapped[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    return min(1.0, area / max(float(target[0] * target[1]), 1.0))


def _shares(homography: np.ndarray, a: tuple[int, ...], b: tuple[int, ...]) -> tuple[float, float]:
    """(share of b that a covers, share of a that b covers) under `homography` (a's pixels to b's); (1, 1)
    when it cannot be inverted."""
    try:
        inverse = np.linalg.inv(homography)
    except np.linalg.LinAlgError:
        return 1.0, 1.0
    if not np.all(np.isfinite(inverse)):
        return 1.0, 1.0
    return _outline_share(homography, a, b), _outline_share(inverse, b, a)


def _turn(homography: np.ndarray) -> int | None:
    """The homography's rotation to the nearest quarter turn (degrees counter-clockwise, as the image is
    shown: y grows downwards), or None when it is more than 10 degrees from one."""
    angle = math.degrees(math.atan2(-homography[1, 0], homography[0, 0])) % 360.0
    quarter = round(angle / 90.0) % 4
    off = abs((angle - quarter * 90.0 + 180.0) % 360.0 - 180.0)
    return quarter * 90 if off <= 10.0 else None


@dataclass(frozen=True)
class Encoded:
    """An encoded image held in memory (an upload's kept preview), named for the cache."""

    name: str
    data: bytes


class LocalFeatureCache:
    """The local features of image files, kept for the `capacity` most recently used (about 0.3 MB
    each), keyed by path, size and modification time so a changed file is read again; and the verdict of
    every pair verified through it (a few dozen bytes each, `verdicts` of them kept), so that what changed
    in a copy is told from the geometry its verification found (`known`) without verifying it twice. One
    per search or per browser tab: callers pass it in."""

    def __init__(self, capacity: int = 128, max_pixels: int = 120_000_000, verdicts: int = 100_000) -> None:
        self.capacity = capacity
        self.max_pixels = max_pixels
        self.verdicts = verdicts
        self._kept: OrderedDict[tuple, LocalFeatures | None] = OrderedDict()
        self._verified: OrderedDict[tuple, Verification] = OrderedDict()

    def verify(self, a: Path | Encoded, b: Path | Encoded) -> Verification:
        """`verify` of two images (files or encoded bytes), once per pair while neither file changes;
        UNSURE when either cannot be read."""
        pair = (_source_key(a), _source_key(b))
        if pair[0] is None or pair[1] is None:
            return Verification(Verdict.UNSURE)
        if pair in self._verified:
            self._verified.move_to_end(pair)
            return self._verified[pair]
        first = self.of(a)
        second = self.of(b) if first is not None else None
        outcome = Verification(Verdict.UNSURE) if first is None or second is None else verify(first, second)
        self._verified[pair] = outcome
        while len(self._verified) > self.verdicts:
            self._verified.popitem(last=False)
        return outcome

    def known(self, a: Path | Encoded, b: Path | Encoded) -> Verification | None:
        """The verdict on `a` against `b` when this cache verified that pair (None when it did not: nothing
        is verified here)."""
        pair = (_source_key(a), _source_key(b))
        return self._verified.get(pair) if None not in pair else None

    def of(self, source: Path | Encoded) -> LocalFeatures | None:
        """The features of a file or of encoded bytes (None when unreadable)."""
        if isinstance(source, Encoded):
            return self.of_bytes(source.name, source.data)
        return self.of_file(source)

    def of_file(self, path: Path) -> LocalFeatures | None:
        """The features of the image at `path`; None when it cannot be read (missing, not an image)."""
        from simages.extraction.images import UnreadableImage, open_rgb

        key = _source_key(path)
        if key is None:
            return None
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        try:
            with open_rgb(path, self.max_pixels, draft_side=WORKING_SIDE) as image:
                features: LocalFeatures | None = local_features(image)
        except (UnreadableImage, OSError):
            features = None
        return self._keep(key, features)

    def of_bytes(self, name: str, encoded: bytes) -> LocalFeatures | None:
        """The features of an encoded image held in memory (an upload's preview); None if unreadable."""
        key = _source_key(Encoded(name, encoded))
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        try:
            with Image.open(io.BytesIO(encoded)) as image:
                features: LocalFeatures | None = local_features(image)
        except (OSError, ValueError, Image.DecompressionBombError):
            features = None
        return self._keep(key, features)

    def _keep(self, key: tuple, features: LocalFeatures | None) -> LocalFeatures | None:
        self._kept[key] = features
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)
        return features


def _source_key(source: Path | Encoded) -> tuple | None:
    """What a cache knows an image by: a file's path, size and modification time (None when it cannot be
    read), or encoded bytes' name, length and hash."""
    if isinstance(source, Encoded):
        return ("bytes", source.name, len(source.data), hash(source.data))
    try:
        stat = os.stat(source)
    except OSError:
        return None
    return (str(source), stat.st_size, stat.st_mtime_ns)


def verify_files(a: Path, b: Path, cache: LocalFeatureCache) -> Verification:
    """`verify` of two image files (UNSURE when either cannot be read), remembered by `cache`."""
    return cache.verify(a, b)


def file_verifier(a: Path, b: Path, cache: LocalFeatureCache | None = None) -> Callable[[], Verification]:
    """A call that verifies `a` against `b` when a level needs it (simages.copies.levels.level_of)."""
    kept = cache if cache is not None else LocalFeatureCache(capacity=4)
    return lambda: verify_files(a, b, kept)
