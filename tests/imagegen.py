"""Images made by the tests themselves (no binary blobs in the repository), normal and odd."""

from __future__ import annotations

import io
import os
import struct
import zlib
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


def scene(seed: int, size: tuple[int, int] = (240, 160)) -> Image.Image:
    """A photo-like image with structure that does not repeat (`photo` and 40 random coloured boxes and
    ellipses): no part of it looks like another, as in a real photo, so a crop is found only where it was
    cut."""
    from PIL import ImageDraw, ImageFilter

    rng = np.random.default_rng(seed + 1000)
    image = photo(seed, size)
    draw = ImageDraw.Draw(image)
    width, height = size
    for number in range(40):
        x, y = int(rng.integers(-20, width)), int(rng.integers(-20, height))
        box = (x, y, x + int(rng.integers(8, width // 3)), y + int(rng.integers(8, height // 3)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.rectangle if number % 2 else draw.ellipse)(box, fill=colour)
    # Soft edges, as a lens gives: hard drawn edges alias at every scale as no photo does.
    return image.filter(ImageFilter.GaussianBlur(1.5))


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


# --- The odd-file corpus of robustness round 2: one maker per kind of fault. ---------------------------


def non_utf8_name(stem: str = "caf", suffix: str = ".jpg") -> str:
    """A file name whose bytes are not UTF-8 (`caf\\xe9.jpg` written in Latin-1), as Python's file-system
    functions hand it over: with a surrogate escape for the byte 0xE9."""
    return os.fsdecode(stem.encode() + b"\xe9" + suffix.encode())


# Names Linux allows that once broke something: colons, a drive-letter look-alike, backslashes, quotes,
# a leading dash, percent signs, a newline, and bytes that are not UTF-8.
ODD_NAMES = (
    "8:30 am.jpg",
    "C:/x.jpg",
    "back\\slash.jpg",
    "quote's \"double\".jpg",
    "-dash first.jpg",
    "100%25 sure %.jpg",
    "line\nbreak.jpg",
    non_utf8_name(),
)


def truncated_copy(source: Path, target: Path, fraction: float = 0.5) -> Path:
    """The first `fraction` of `source`: a download cut short, or a photo still being copied in."""
    data = source.read_bytes()
    target.write_bytes(data[: max(1, int(len(data) * fraction))])
    return target


def text_file(path: Path, size: int = 2048) -> Path:
    """A plain-text file (notes beside the photos, or a .txt given where an image was expected)."""
    line = b"Notes about this shoot: nothing to see here.\n"
    path.write_bytes((line * (size // len(line) + 1))[:size])
    return path


def saved_as(path: Path, fmt: str, image: Image.Image | None = None, **params: object) -> Path:
    """`photo` saved in format `fmt` under `path`'s name, whatever its extension says (.jfif, .jp2...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (image or photo(11, (128, 96))).save(path, fmt, **params)
    return path


def heic(path: Path, image: Image.Image | None = None) -> Path:
    """An HEIC photo (the iPhone default), written with pillow-heif's encoder."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return saved_as(path, "HEIF", image, quality=90)


def float_tiff_with_nan(path: Path, seed: int, nan_rows: int = 16) -> Path:
    """A one-band float32 TIFF (GIS, science) whose first `nan_rows` rows are NaN (no data) and one pixel is
    +inf; the rest is a photo-like picture that depends on `seed`."""
    values = np.asarray(photo(seed, (96, 64)).convert("L"), dtype=np.float32) * 3.7 + 1000.0
    values[:nan_rows] = np.nan
    values[-1, -1] = np.inf
    Image.fromarray(values, "F").save(path, "TIFF")
    return path


def all_nan_tiff(path: Path) -> Path:
    Image.fromarray(np.full((32, 32), np.nan, np.float32), "F").save(path, "TIFF")
    return path


# Adobe RGB (1998): primaries adapted to D50 as in Adobe's own profile, gamma 563/256.
_ADOBE_RGB_COLORANTS = ((0.60974, 0.31111, 0.01947), (0.20528, 0.62567, 0.06087), (0.14919, 0.06322, 0.74457))
_D50 = (0.9642, 1.0, 0.8249)


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15f16(v) for v in xyz)


def matrix_rgb_profile(
    colorants: tuple[tuple[float, float, float], ...] = _ADOBE_RGB_COLORANTS,
    gamma_u8f8: int = 563,
    description: str = "Adobe RGB (1998) compatible, made by the SIMages tests",
) -> bytes:
    """An ICC v2 RGB display profile (matrix + gamma curves), built byte by byte so the tests need no
    profile file: by default an Adobe RGB (1998) equivalent."""
    ascii_text = description.encode("ascii") + b"\0"
    desc = (b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\0" * 67)
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, gamma_u8f8) + b"\0\0"
    tags = [
        (b"desc", desc),
        (b"wtpt", _xyz_tag(_D50)),
        (b"rXYZ", _xyz_tag(colorants[0])),
        (b"gXYZ", _xyz_tag(colorants[1])),
        (b"bXYZ", _xyz_tag(colorants[2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, use freely\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"\0\0\0\0" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 4 + b"\0" * 4 + b"\0" * 8
              + b"\0" * 8 + struct.pack(">I", 0) + b"".join(_s15f16(v) for v in _D50) + b"\0" * 4
              + b"\0" * 44)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def saturated_photo(seed: int = 21, size: tuple[int, int] = (128, 96)) -> Image.Image:
    """A colourful picture (strong reds, greens, blues), where colour spaces differ most."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [np.clip(128 + 120 * np.sin(x / (9 + 4 * c) + c * 2.1 + seed) * np.cos(y / 13), 0, 255)
                for c in range(3)]
    noise = rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(np.stack(channels, -1) + noise, 0, 255).astype(np.uint8), "RGB")


def adobe_rgb_jpeg(path: Path, image: Image.Image) -> Path:
    """`image` (sRGB) converted to Adobe RGB and saved as a JPEG with the Adobe RGB profile embedded, as a
    camera set to Adobe RGB writes it: a correct reader shows the same colours as `image`."""
    from PIL import ImageCms

    adobe = ImageCms.ImageCmsProfile(io.BytesIO(matrix_rgb_profile()))
    converted = ImageCms.profileToProfile(image, ImageCms.createProfile("sRGB"), adobe, outputMode="RGB")
    converted.save(path, "JPEG", quality=95, icc_profile=matrix_rgb_profile())
    return path


# --- Decompression bombs: headers claiming more pixels than Pillow decodes, in every common format. -------
# Each file is a few hundred bytes: only the header's size fields are large, so making one costs nothing.

BOMB_SIDE = 20000  # 400 Mpx: above Pillow's hard limit (2 x MAX_IMAGE_PIXELS = 179 Mpx) in every format


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _patch_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    at = data.index(b"\xff\xc0")  # SOF0: length (2), precision (1), height (2), width (2)
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9:]


def bomb(path: Path, fmt: str, side: int = BOMB_SIDE) -> Path:
    """A small file of format `fmt` (PNG, JPEG, GIF, TIFF, WEBP, BMP) whose header claims side x side
    pixels (GIF, JPEG and WebP store at most 65,535 / 16,383 per side; `side` is capped accordingly)."""
    fmt = fmt.upper()
    small = photo(1, (16, 16))
    if fmt == "PNG":
        data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
                + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))
    elif fmt == "JPEG":
        buffer = io.BytesIO()
        small.save(buffer, "JPEG")
        data = _patch_jpeg_size(buffer.getvalue(), min(side, 65535), min(side, 65535))
    elif fmt == "GIF":
        buffer = io.BytesIO()
        small.convert("P").save(buffer, "GIF")
        raw = bytearray(buffer.getvalue())
        side = min(side, 65535)
        raw[6:10] = struct.pack("<HH", side, side)  # the logical screen
        frame = raw.index(b"\x2c")  # the image descriptor: left, top, width, height
        raw[frame + 5: frame + 9] = struct.pack("<HH", side, side)
        data = bytes(raw)
    elif fmt == "TIFF":
        entries = [(256, 4, side), (257, 4, side), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8),
                   (277, 3, 1), (278, 4, side), (279, 4, side * side)]
        ifd = struct.pack("<H", len(entries)) + b"".join(
            struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in entries) + struct.pack("<I", 0)
        data = b"II*\x00" + struct.pack("<I", 8 + 16) + b"\x00" * 16 + ifd
    elif fmt == "WEBP":
        side = min(side, 16383)
        # An extended WebP (VP8X) announces its canvas size: 24-bit width-1 and height-1.
        canvas = b"\x00\x00\x00\x00" + (side - 1).to_bytes(3, "little") + (side - 1).to_bytes(3, "little")
        buffer = io.BytesIO()
        small.save(buffer, "WEBP", lossless=True)
        body = b"VP8X" + struct.pack("<I", len(canvas)) + canvas + buffer.getvalue()[12:]
        data = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
    elif fmt == "BMP":
        buffer = io.BytesIO()
        small.save(buffer, "BMP")
        raw = bytearray(buffer.getvalue())
        raw[18:26] = struct.pack("<ii", side, side)
        data = bytes(raw)
    else:
        raise ValueError(f"no bomb maker for {fmt}")
    path.write_bytes(data)
    return path
