"""The ten kinds of edit a curator meets in a near-duplicate, applied with Pillow, reproducibly.

Each edit takes an RGB image and a seeded generator and returns the edited RGB image; what varies with the
seed (which corner a crop keeps, the direction of a rotation, the noise) is drawn from that generator, so a
benchmark run with the same seed builds the same copies. The strengths are those of everyday copies, not
attacks: a photo resized for the web, re-saved at low JPEG quality, trimmed, mirrored, brightened, tilted
to straighten a horizon, turned grey, stamped with a watermark, grainy, or padded to another aspect ratio.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

Edit = Callable[[Image.Image, np.random.Generator], Image.Image]


def resized(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Down to 40% of each side (a web-size copy)."""
    width, height = image.size
    return image.resize((max(1, round(width * 0.4)), max(1, round(height * 0.4))), Image.Resampling.BICUBIC)


def reencoded(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Saved again as JPEG at quality 20 (blocking and colour bleeding)."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=20)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def cropped(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """80% of each side kept (64% of the area), anchored at a random corner."""
    width, height = image.size
    keep_w, keep_h = round(width * 0.8), round(height * 0.8)
    left = int(rng.integers(0, 2)) * (width - keep_w)
    top = int(rng.integers(0, 2)) * (height - keep_h)
    return image.crop((left, top, left + keep_w, top + keep_h))


def mirrored(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Left and right swapped."""
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def brightened(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Brightness raised by 40%."""
    return ImageEnhance.Brightness(image).enhance(1.4)


def rotated(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Turned by 8 degrees either way, canvas enlarged, corners filled black (a straightened horizon)."""
    angle = 8.0 if rng.integers(0, 2) else -8.0
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0))


def grayscale(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Colour removed (stored as RGB with three equal channels)."""
    return image.convert("L").convert("RGB")


def watermarked(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A half-transparent white text stamped across the middle, text height a tenth of the image's."""
    width, height = image.size
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    font = ImageFont.load_default(size=max(8, height // 10))
    text = "(c) SIMages stock photo"
    box = draw.textbbox((0, 0), text, font=font)
    x = (width - (box[2] - box[0])) // 2
    y = (height - (box[3] - box[1])) // 2
    draw.text((x, y), text, font=font, fill=(255, 255, 255, 140))
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def noisy(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Gaussian noise with a standard deviation of 15 grey levels (of 255) on every channel."""
    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels + rng.normal(0.0, 15.0, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def letterboxed(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Padded with black bars to a square canvas (top and bottom for a landscape photo)."""
    width, height = image.size
    side = max(width, height)
    canvas = Image.new("RGB", (side, side), (0, 0, 0))
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


EDITS: dict[str, Edit] = {
    "resized": resized,
    "reencoded": reencoded,
    "cropped": cropped,
    "mirrored": mirrored,
    "brightened": brightened,
    "rotated": rotated,
    "grayscale": grayscale,
    "watermarked": watermarked,
    "noisy": noisy,
    "letterboxed": letterboxed,
}


def apply_edit(kind: str, image: Image.Image, seed: int) -> Image.Image:
    """`EDITS[kind]` on an RGB copy of `image`, its randomness drawn from `seed`. KeyError: unknown kind."""
    edit = EDITS[kind]
    return edit(image.convert("RGB"), np.random.default_rng(seed))
