"""Augmented copies of the training photos, described once through the extraction pipeline and cached.

Training never decodes an image per epoch: each training photo gets four fixed variants (mirror, zoom,
rotation, shift: the augmentations of seed 002 and of Keras' ImageDataGenerator, at moderate strength so
the object stays in frame), each described by the network exactly as an indexed photo is (224 x 224
input, the set's stored descriptor), and the vectors are kept in features/heads/.augment/SET.npz keyed by
photo, variant and the photo's fingerprint: a second `simages train --augment` costs no network pass, and
a changed photo is described again.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from simages.extraction.describe import describe_images, network_for
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.images import INPUT_SIZE, load_for_network
from simages.settings import Settings
from simages.store.atomic import write_atomically
from simages.store.npz_store import load_store
from simages.training.registry import heads_folder
from simages.wording import plural

VARIANTS = ("mirror", "zoom", "rotate", "shift")
# Zoom keeps the central 80%; rotation turns by 12 degrees and zooms just enough to hide the corners;
# shift moves the window by 12% of the side toward the lower right.
_ZOOM = 0.8
_ANGLE = 12.0
_SHIFT = 0.12


def augmented(image: np.ndarray, variant: str) -> np.ndarray:
    """(224, 224, 3) uint8 -> the same size, transformed as `variant` says (one of VARIANTS)."""
    size = image.shape[0]
    picture = Image.fromarray(image)
    if variant == "mirror":
        return np.ascontiguousarray(image[:, ::-1])
    if variant == "zoom":
        margin = size * (1 - _ZOOM) / 2
        box = (margin, margin, size - margin, size - margin)
    elif variant == "rotate":
        picture = picture.rotate(_ANGLE, resample=Image.Resampling.BILINEAR)
        # The largest axis-aligned square inside the turned square.
        radians = np.deg2rad(_ANGLE)
        inner = size / (np.cos(radians) + np.sin(radians))
        margin = (size - inner) / 2
        box = (margin, margin, size - margin, size - margin)
    elif variant == "shift":
        offset = size * _SHIFT
        box = (offset, offset, size, size)
    else:
        raise ValueError(f"unknown augmentation {variant!r}; choose from {', '.join(VARIANTS)}")
    cropped = picture.resize((size, size), Image.Resampling.BILINEAR, box=box)
    return np.asarray(cropped, dtype=np.uint8)


def cache_path(settings: Settings, set_name: str) -> Path:
    return heads_folder(settings.features) / ".augment" / f"{set_name}.npz"


def _read_cache(path: Path, key: str) -> dict[tuple[str, str, str], np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("key") != key:
                return {}
            ids = [tuple(json.loads(item)) for item in data["ids"].tolist()]
            return {ident: row for ident, row in zip(ids, np.asarray(data["vectors"]), strict=True)}
    except (FileNotFoundError, OSError, ValueError, KeyError):
        return {}


def _write_cache(path: Path, key: str, cache: dict[tuple[str, str, str], np.ndarray]) -> None:
    buffer = io.BytesIO()
    ids = np.array([json.dumps(list(ident)) for ident in cache])
    vectors = np.stack(list(cache.values())).astype(np.float32) if cache else np.zeros((0, 0), np.float32)
    np.savez_compressed(buffer, ids=ids, vectors=vectors, meta=np.array(json.dumps({"key": key})))
    write_atomically(path, lambda stream: stream.write(buffer.getvalue()))


def cached_augmenter(
    settings: Settings, set_name: str, note: Callable[[str], None] | None = None
) -> Callable[[Sequence[str]], tuple[np.ndarray, list[int]]]:
    """An augmenter for `simages.operations.train.train`: names -> (vectors of their augmented copies
    (m, d), index into `names` each was made from). Copies not in the cache are described by the network
    (in batches, saved after each batch so an interruption keeps what was done)."""

    def augment(names: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        store = load_store(settings.store_path(set_name))
        stored = str(store.meta.get("descriptor_spec") or store.meta.get("descriptor", ""))
        spec = DescriptorSpec.parse(DescriptorSpec.parse(stored).extraction_key())
        fingerprints = {
            name: str(tuple(fp)) for name, fp in zip(store.names, store.fingerprints, strict=True)
        }
        key = f"{spec.key()}|{settings.weights_id() if settings.weights else 'default'}|{INPUT_SIZE}"
        path = cache_path(settings, set_name)
        folder = settings.image_sets / set_name
        cache = _read_cache(path, key)
        wanted = [(i, variant) for i, _ in enumerate(names) for variant in VARIANTS]
        missing = sorted(
            {i for i, variant in wanted if (names[i], variant, fingerprints[names[i]]) not in cache}
        )
        if missing:
            if note:
                note(f"describing {len(missing) * len(VARIANTS)} augmented copies of "
                     f"{plural(len(missing), 'photo')} "
                     f"(once; cached in {path})")
            network = network_for(settings.weights, settings.model_cache)
            batch = max(1, settings.batch_size // len(VARIANTS))
            for start in range(0, len(missing), batch):
                rows = missing[start : start + batch]
                images = []
                for i in rows:
                    image = load_for_network(folder / names[i], settings.max_image_pixels)
                    images.extend(augmented(image, variant) for variant in VARIANTS)
                described = describe_images(network, np.stack(images), spec)
                for j, (i, variant) in enumerate((i, v) for i in rows for v in VARIANTS):
                    cache[(names[i], variant, fingerprints[names[i]])] = described[j]
                _write_cache(path, key, cache)
                if note:
                    note(f"  {min(start + batch, len(missing))}/{plural(len(missing), 'photo')}")
        vectors = np.stack([cache[(names[i], variant, fingerprints[names[i]])] for i, variant in wanted])
        return vectors.astype(np.float32), [i for i, _ in wanted]

    return augment
