"""From VGG-16's last convolutional map (n, 7, 7, 512) to one descriptor per image: pure functions.

Poolings: `flat` keeps the whole map (25088-d, position-sensitive: the original design); `gap` averages
each channel over the 49 cells; `max` keeps each channel's strongest cell; `gem` is the generalised mean
(p=1 is `gap`, large p approaches `max`); `rmac` max-pools square regions at three scales, L2-normalises
each region vector and sums them, so an object anywhere in the image counts as much as the whole scene.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from simages.extraction.descriptor_spec import DescriptorSpec

# Activations are ReLU outputs (>= 0); GeM clamps at this so that fractional powers stay defined.
_GEM_EPS = 1e-6
RMAC_LEVELS = 3


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def signed_sqrt(vectors: np.ndarray) -> np.ndarray:
    return np.sign(vectors) * np.sqrt(np.abs(vectors))


@lru_cache(maxsize=8)
def rmac_regions(height: int, width: int, levels: int = RMAC_LEVELS) -> tuple[tuple[int, int, int], ...]:
    """(top, left, side) of the R-MAC regions (Tolias et al. 2016) on a height x width map.

    At level l the square side is floor(2 * min(h, w) / (l + 1)), the regions are spread evenly with about
    40% overlap; on a 7x7 map that is 1 region of 7, 4 of 4 and 9 of 3 cells.
    """
    short = min(height, width)
    # On a non-square map, extra regions along the long side keep the overlap near 40%.
    steps = np.arange(2, 8)
    slack = (max(height, width) - short) / (steps - 1)
    extra = int(np.argmin(np.abs((short**2 - short * slack) / short**2 - 0.4))) + 1
    extra_h, extra_w = (extra, 0) if height > width else ((0, extra) if width > height else (0, 0))
    regions = []
    for level in range(1, levels + 1):
        side = int(np.floor(2 * short / (level + 1)))
        if side < 1:
            continue
        tops = _starts(height, side, level + extra_h)
        lefts = _starts(width, side, level + extra_w)
        regions.extend((top, left, side) for top in tops for left in lefts)
    return tuple(regions)


def _starts(length: int, side: int, count: int) -> list[int]:
    if count <= 1:
        return [(length - side) // 2] if count == 1 and length > side else [0]
    step = (length - side) / (count - 1)
    return sorted({int(np.floor(i * step)) for i in range(count)})


def gem(maps: np.ndarray, p: float) -> np.ndarray:
    """(n, h, w, c) -> (n, c): (mean of x^p)^(1/p) per channel."""
    clamped = np.maximum(maps, _GEM_EPS)
    # Factor out each channel's peak so that large p cannot overflow float32.
    peak = clamped.max(axis=(1, 2), keepdims=True)
    return peak[:, 0, 0, :] * ((clamped / peak) ** p).mean(axis=(1, 2)) ** (1.0 / p)


def rmac(maps: np.ndarray, levels: int = RMAC_LEVELS) -> np.ndarray:
    """(n, h, w, c) -> (n, c): sum over regions of L2-normalised region max-pools, L2-normalised."""
    n, height, width, channels = maps.shape
    total = np.zeros((n, channels), dtype=np.float32)
    for top, left, side in rmac_regions(height, width, levels):
        region = maps[:, top : top + side, left : left + side, :].max(axis=(1, 2))
        total += l2_normalise(region)
    return l2_normalise(total)


def pool(maps: np.ndarray, spec: DescriptorSpec) -> np.ndarray:
    """Descriptors (n, d) float32 for maps (n, 7, 7, 512); flip averaging is `pool_with_mirror`."""
    maps = np.asarray(maps, dtype=np.float32)
    n = maps.shape[0]
    if spec.pooling == "flat":
        vectors = maps.reshape(n, -1)
    elif spec.pooling == "gap":
        vectors = maps.mean(axis=(1, 2))
    elif spec.pooling == "max":
        vectors = maps.max(axis=(1, 2))
    elif spec.pooling == "gem":
        vectors = gem(maps, spec.gem_p)
    elif spec.pooling == "rmac":
        vectors = rmac(maps)
    else:
        raise ValueError(f"unknown pooling {spec.pooling!r}")
    if spec.sqrt:
        vectors = signed_sqrt(vectors)
    if spec.l2:
        vectors = l2_normalise(vectors)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def pool_with_mirror(maps: np.ndarray, mirrored_maps: np.ndarray | None, spec: DescriptorSpec) -> np.ndarray:
    """`pool`, averaged with the mirror images' descriptors when the spec has `flip` (then L2 again).

    The one definition of flip averaging, shared by indexing (`describe_images`) and evaluation.
    """
    vectors = pool(maps, spec)
    if not spec.flip:
        return vectors
    if mirrored_maps is None:
        raise ValueError(f"{spec} needs the maps of the mirrored images")
    vectors = (vectors + pool(mirrored_maps, spec)) / 2
    if spec.l2:
        vectors = l2_normalise(vectors)
    return np.ascontiguousarray(vectors, dtype=np.float32)
