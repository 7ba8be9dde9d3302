"""Photos the package can make or ship, for calibrating and checking reduced-precision networks.

Two uses: int8 quantisation needs the range of every layer's activations on photo-like inputs
(quantisation.py), and the engine calibration's fidelity check needs photos to compare a fast path
with fp32 on (calibration.py). Both must only use images SIMages may redistribute: the demo set's
photos (public-domain or CC0 images shipped in image_sets/demo; the README lists their sources)
and scenes generated here, deterministically. Never a benchmark data set (Corel-1k is research-only).

Generated scenes imitate what makes photos hard for a quantised network: smooth colour fields (sky,
walls), hard edges of objects, fine periodic texture (fabric, brick, grass) and sensor noise, at
several contrasts, so the activation ranges seen in calibration are the ranges photos produce.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIDE = 224


def demo_folder() -> Path:
    """The repository's demo set (absent from an installed wheel: then generated scenes stand in)."""
    return Path(__file__).resolve().parents[2] / "image_sets" / "demo"


def demo_files() -> list[Path]:
    folder = demo_folder()
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))


def demo_views(limit: int | None = None) -> list[np.ndarray]:
    """The demo photos as the network sees them, plus four crops and a mirror of each: (224, 224, 3) uint8.

    Crops (corners and centre at half size) show the network textures at a larger scale, as a
    close-up would; they are decoded like any image (EXIF, colour profile), then resized bilinearly.
    """
    from PIL import Image

    from simages.extraction.images import UnreadableImage, load_for_network, open_rgb

    views: list[np.ndarray] = []
    for path in demo_files():
        try:
            whole = load_for_network(path)
            photo = open_rgb(path)
        except UnreadableImage:
            continue
        views += [whole, np.ascontiguousarray(whole[:, ::-1])]
        width, height = photo.size
        for left, top in ((0, 0), (width // 2, 0), (0, height // 2), (width // 4, height // 4)):
            crop = photo.crop((left, top, left + width // 2, top + height // 2))
            views.append(np.asarray(crop.resize((SIDE, SIDE), Image.Resampling.BILINEAR), dtype=np.uint8))
        if limit is not None and len(views) >= limit:
            return views[:limit]
    return views


def generated_scene(seed: int, side: int = SIDE) -> np.ndarray:
    """A deterministic photo-like scene, (side, side, 3) uint8: a smooth colour field, a few hard-edged
    objects (discs, rectangles), a periodic texture in part of the frame and sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    # Smooth background: a colour gradient plus a low-frequency wave (sky, wall, out-of-focus field).
    top, bottom = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    image = top * (1 - y[..., None]) + bottom * y[..., None]
    image += 25 * np.sin(2 * np.pi * (x * rng.uniform(0.5, 2) + rng.uniform()))[..., None]
    # Hard-edged objects in their own colours.
    for _ in range(int(rng.integers(2, 6))):
        colour = rng.uniform(0, 255, 3)
        cx, cy, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.25)
        if rng.uniform() < 0.5:
            inside = (x - cx) ** 2 + (y - cy) ** 2 < r**2
        else:
            inside = (abs(x - cx) < r) & (abs(y - cy) < r * rng.uniform(0.3, 1.5))
        image[inside] = colour
    # A periodic texture (stripes, checks or a grid) at a random frequency, orientation and contrast.
    angle, period = rng.uniform(0, np.pi), rng.uniform(3, 24) / side
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    kind = int(rng.integers(0, 3))
    if kind == 0:
        texture = np.sign(np.sin(2 * np.pi * u / period))
    elif kind == 1:
        texture = np.sign(np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / period))
    else:
        texture = np.sin(2 * np.pi * u / period) + np.sin(2 * np.pi * v / period)
    region = (x > rng.uniform(0, 0.5)) & (y > rng.uniform(0, 0.5))
    image += (region * texture * rng.uniform(10, 60))[..., None] * rng.uniform(0.5, 1, 3)
    image += rng.normal(0, rng.uniform(2, 10), image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def calibration_set(count: int, seed: int = 26) -> np.ndarray:
    """`count` images, (count, 224, 224, 3) uint8: the demo set's views first, generated scenes after.

    Deterministic: the same count gives the same images on every machine with the same demo set.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    views = demo_views(limit=count)
    # Spread the demo views over the demo set's subjects rather than taking the first photos' crops.
    scenes = [generated_scene(seed + index) for index in range(count - len(views))]
    return np.stack([*views, *scenes])
