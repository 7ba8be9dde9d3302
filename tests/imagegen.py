"""Images made by the tests themselves (no binary blobs in the repository), normal and odd."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def photo(seed: int, size: tuple[int, int] = (96, 64), hue: int | None = None) -> Image.Image:
    """A smooth, photo-like RGB image; images with the same `hue` look alike."""
    rng = np.random.default_rng(seed)
    width, height = size
    base = np.array(
        [(hue or rng.integers(0, 256)) % 256, rng.integers(60, 200), rng.integers(60, 200)], dtype=np.float32
    )
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    waves = np.stack(
        [np.sin(x / (5 + c * 3) + seed) * np.cos(y / (7 + c * 2)) * 40 for c in range(3)], axis=-1
    )
    noise = rng.normal(0, 8, (height, width, 3))
    return Image.fromarray(np.clip(base + waves + noise, 0, 255).astype(np.uint8), "RGB")


def save(image: Image.Image, path: Path, **params: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **params)
    return path


def write_set(folder: Path, count: int, start_seed: int = 0, fmt: str = "png") -> list[str]:
    """`count` distinct images named img_000.png ...; returns their names."""
    names = []
    for index in range(count):
        name = f"img_{start_seed + index:03d}.{fmt}"
        save(photo(start_seed + index), folder / name)
        names.append(name)
    return names


def truncated_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    photo(1, (256, 256)).save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


def exif_rotated_jpeg(path: Path, image: Image.Image) -> Path:
    """`image` stored sideways with EXIF orientation 6 (rotate 90° clockwise to view)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    image.transpose(Image.Transpose.ROTATE_90).save(path, "JPEG", quality=95, exif=exif)
    return path


def png16(path: Path) -> Path:
    ramp = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    Image.fromarray(ramp).save(path)
    return path


def cmyk_jpeg(path: Path) -> Path:
    photo(2).convert("CMYK").save(path, "JPEG")
    return path


def palette_png_with_transparency(path: Path) -> Path:
    image = photo(3).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    image.info["transparency"] = 0
    image.save(path, transparency=0)
    return path


def animated_gif(path: Path) -> Path:
    frames = [photo(seed).convert("P") for seed in (4, 5, 6)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def rgba_png(path: Path) -> Path:
    image = photo(7).convert("RGBA")
    alpha = Image.new("L", image.size, 128)
    image.putalpha(alpha)
    image.save(path)
    return path


def bomb_png(path: Path, side: int = 30000) -> Path:
    """A tiny file that claims side x side pixels (a decompression bomb): a 1-bit image compresses well."""
    Image.new("1", (side, side), 0).save(path, optimize=True)
    return path
