"""The kinds of edit a curator meets in a near-duplicate, applied with Pillow, reproducibly.

`EDITS` holds the ten mild ones (everyday copies); `STRONG_EDITS` the strong ones that copy-detection
benchmarks use (Copydays "strong", DISC21): turns, crops to half the area, borders, captions, screenshots,
collages, colour shifts, blur, thumbnails, JPEG quality 10, perspective, stickers, and chains of these.

Each edit takes an RGB image and a seeded generator and returns the edited RGB image; what varies with the
seed (which corner a crop keeps, the direction of a rotation, the noise) is drawn from that generator, so a
benchmark run with the same seed builds the same copies. The strengths are those of everyday copies, not
attacks: a photo resized for the web, re-saved at low JPEG quality, trimmed, mirrored, brightened, tilted
to straighten a horizon, turned grey, stamped with a watermark, grainy, or padded to another aspect ratio.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

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


def _turn(quarter_turns: int) -> Edit:
    transpose = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}

    def turned(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        return image.transpose(transpose[quarter_turns])

    turned.__doc__ = f"Turned by {90 * quarter_turns} degrees counter-clockwise (a photo shown sideways)."
    return turned


def half_cropped(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Half the area kept: a window of 50% of the area, its aspect ratio within 2:3 to 3:2 of the photo's,
    at a random place."""
    width, height = image.size
    stretch = float(np.exp(rng.uniform(np.log(2 / 3), np.log(3 / 2))))
    keep_w = min(width, round(width * np.sqrt(0.5) * np.sqrt(stretch)))
    keep_h = min(height, round(width * height * 0.5 / keep_w))
    left = int(rng.integers(0, width - keep_w + 1))
    top = int(rng.integers(0, height - keep_h + 1))
    return image.crop((left, top, left + keep_w, top + keep_h))


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def bordered(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A plain frame of a random colour, a tenth of the shorter side wide, all round."""
    width, height = image.size
    margin = max(1, min(width, height) // 10)
    canvas = Image.new("RGB", (width + 2 * margin, height + 2 * margin), _random_colour(rng))
    canvas.paste(image, (margin, margin))
    return canvas


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def captioned(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A white band a quarter of the photo's height added below, with black text (a meme or a caption)."""
    width, height = image.size
    band = max(8, height // 4)
    canvas = Image.new("RGB", (width, height + band), (255, 255, 255))
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((width // 20, height + band // 4), "When the weekend finally arrives",
              font=_font(band // 3), fill=(0, 0, 0))
    return canvas


def pillarboxed(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Placed in the middle of a 16:9 frame twice the photo's width, bars of a random dark colour (a
    portrait or a square photo shown on a wide screen, or a landscape photo made into a story)."""
    width, height = image.size
    frame_h = max(height, round(2 * width * 9 / 16))
    frame_w = 2 * width
    colour = tuple(int(v) // 4 for v in _random_colour(rng))
    canvas = Image.new("RGB", (frame_w, frame_h), colour)  # type: ignore[arg-type]
    canvas.paste(image, ((frame_w - width) // 2, (frame_h - height) // 2))
    return canvas


def screenshot(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The photo inside a window on a desktop: a light window with a title bar and a side panel, the photo
    taking about half of the screenshot's area."""
    width, height = image.size
    bar = max(6, height // 10)
    panel = max(24, width // 3)
    canvas = Image.new("RGB", (width + panel + 20, height + bar + 20), (236, 236, 236))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, canvas.width, bar), fill=(60, 60, 70))
    draw.text((8, bar // 6), "IMG_2041.jpg - Photos", font=_font(bar * 2 // 3), fill=(255, 255, 255))
    for row in range(6):  # the file list of the side panel
        y = bar + 14 + row * max(8, height // 8)
        draw.rectangle((8, y, panel - 8, y + max(3, height // 30)), fill=(180, 180, 190))
    canvas.paste(image, (panel + 10, bar + 10))
    return canvas


def collaged(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The photo as one half of a larger image, beside a different picture of the same size (a smooth
    random pattern, so that the collage copies no other photo)."""
    width, height = image.size
    noise = rng.uniform(0, 255, (max(2, height // 16), max(2, width // 16), 3)).astype(np.uint8)
    other = Image.fromarray(noise, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (2 * width, height))
    left_first = bool(rng.integers(0, 2))
    canvas.paste(image, (0 if left_first else width, 0))
    canvas.paste(other, (width if left_first else 0, 0))
    return canvas


def colour_shifted(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Hue turned by 60-120 degrees either way and saturation raised by half (a strong filter)."""
    hsv = np.asarray(image.convert("HSV"), dtype=np.int16)
    turn = int(rng.integers(43, 86)) * (1 if rng.integers(0, 2) else -1)  # of 256 steps
    hsv = hsv.copy()
    hsv[..., 0] = (hsv[..., 0] + turn) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.5, 0, 255)
    return Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")


def blurred(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Gaussian blur with a radius of 1.5% of the longer side (4 pixels on a 256-pixel photo)."""
    return image.filter(ImageFilter.GaussianBlur(radius=max(1.0, 0.015 * max(image.size))))


def thumbnail64(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Shrunk so its longer side is 64 pixels (a thumbnail)."""
    copy = image.copy()
    copy.thumbnail((64, 64), Image.Resampling.BICUBIC)
    return copy


def jpeg10(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Saved again as JPEG at quality 10 (heavy blocking)."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=10)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def perspective(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A photo of the photo taken at an angle: two corners pulled in by 15% of a side (a keystone), the
    uncovered corners black."""
    width, height = image.size
    pull = 0.15
    if rng.integers(0, 2):  # the left or the right edge recedes
        quad = (0, 0, 0, height, width, height * (1 - pull), width, height * pull)
    else:
        quad = (0, height * pull, 0, height * (1 - pull), width, height, width, 0)
    return image.transform(image.size, Image.Transform.QUAD, quad, Image.Resampling.BICUBIC,
                           fillcolor=(0, 0, 0))


def stickered(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Three opaque stickers (discs and stars of bright colours) covering about 15% of the photo."""
    copy = image.copy()
    draw = ImageDraw.Draw(copy)
    width, height = copy.size
    radius = round(np.sqrt(0.15 * width * height / (3 * np.pi)))
    for _ in range(3):
        cx = int(rng.integers(radius, max(radius + 1, width - radius)))
        cy = int(rng.integers(radius, max(radius + 1, height - radius)))
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=_random_colour(rng),
                     outline=(255, 255, 255), width=max(1, radius // 8))
    return copy


def chained(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Three strong edits in a row, drawn at random (no two turns): e.g. cropped to half, captioned and
    saved at JPEG quality 10."""
    kinds = [kind for kind in STRONG_EDITS if kind not in ("chained",)]
    chosen: list[str] = []
    while len(chosen) < 3:
        kind = kinds[int(rng.integers(0, len(kinds)))]
        turns = {"turned90", "turned180", "turned270", "mirrored"}
        if kind in chosen or (kind in turns and turns & set(chosen)):
            continue
        chosen.append(kind)
    for kind in chosen:
        image = STRONG_EDITS[kind](image, rng)
    return image


STRONG_EDITS: dict[str, Edit] = {
    "mirrored": mirrored,
    "turned90": _turn(1),
    "turned180": _turn(2),
    "turned270": _turn(3),
    "half-cropped": half_cropped,
    "bordered": bordered,
    "captioned": captioned,
    "pillarboxed": pillarboxed,
    "screenshot": screenshot,
    "collaged": collaged,
    "colour-shifted": colour_shifted,
    "blurred": blurred,
    "thumbnail64": thumbnail64,
    "jpeg10": jpeg10,
    "perspective": perspective,
    "stickered": stickered,
    "chained": chained,
}
ALL_EDITS: dict[str, Edit] = {**EDITS, **STRONG_EDITS}


def apply_edit(kind: str, image: Image.Image, seed: int) -> Image.Image:
    """`ALL_EDITS[kind]` (mild or strong) on an RGB copy of `image`, its randomness drawn from `seed`.
    KeyError: unknown kind."""
    edit = ALL_EDITS[kind]
    return edit(image.convert("RGB"), np.random.default_rng(seed))
