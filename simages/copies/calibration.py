"""How well the duplicate threshold works on the user's own photos, estimated from edited copies of them.

A sample of the collection's photos (`sample`, drawn with a fixed seed across every indexed set) each gets
one of the everyday edits in turn (simages.copies.edits.EDITS: resized, re-encoded, cropped, mirrored...),
is described like an upload and is searched in the collection's duplicates space against every photo of
the collection. Counted at the default threshold:

- **recall**: the share of copies whose original passes (an edited copy of a photo would be found);
- **false matches**: pairs of a copy with any *other* photo that pass (a look-alike called a copy);
- **precision**: true pairs / all passing pairs of the copies: "at this threshold, about 97% of pairs are
  copies". It is measured on these copies, so it says how crowded the user's own collection is with
  look-alikes near the threshold; it is not a promise about every future folder.

The estimate is kept in `features/.cache/duplicates-calibration.json` with the fingerprint of the space it
was measured in (simages.copies.space); `simages duplicates` shows it while the space is the same.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from simages.copies.edits import EDITS, apply_edit
from simages.copies.levels import EDITED_COSINE
from simages.copies.space import CollectionSpace
from simages.settings import Settings
from simages.store.atomic import write_atomically
from simages.wording import plural

CALIBRATION_VERSION = 1
DEFAULT_SAMPLE = 40


@dataclass(frozen=True)
class Calibration:
    """An estimate of the default threshold's quality on a collection (see the module docstring)."""

    space: str  # fingerprint of the duplicates space it was measured in
    threshold: float
    copies: int  # edited copies searched
    photos: int  # photos of the collection they were searched among
    recall: float
    false_pairs: int
    precision: float
    measured_at: float  # seconds since the epoch

    def sentence(self) -> str:
        """One line for people: what the threshold gives on their own photos."""
        copies = plural(self.copies, "edited copy", "edited copies")
        return (f"At this threshold, on {copies} of your own photos: about {self.precision:.0%} of pairs are "
                f"copies, and {self.recall:.0%} of the copies are found (estimated among "
                f"{plural(self.photos, 'photo')}).")


def calibration_path(settings: Settings) -> Path:
    return settings.model_cache / "duplicates-calibration.json"


def save_calibration(settings: Settings, calibration: Calibration) -> None:
    """Write atomically beside the duplicates space."""
    path = calibration_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": CALIBRATION_VERSION, **asdict(calibration)}, indent=2).encode()
    write_atomically(path, lambda stream: stream.write(text))


def load_calibration(settings: Settings, space: CollectionSpace | None) -> Calibration | None:
    """The kept estimate when it was measured in `space` (None: none, unreadable, or another space)."""
    try:
        data = json.loads(calibration_path(settings).read_text())
        if data.pop("version", None) != CALIBRATION_VERSION:
            return None
        calibration = Calibration(**data)
    except (OSError, ValueError, TypeError):
        return None
    if space is None or calibration.space != space.fingerprint:
        return None
    return calibration


def score_copies(copy_vectors: np.ndarray, photo_vectors: np.ndarray, originals: np.ndarray,
                 threshold: float = EDITED_COSINE) -> tuple[float, int, float]:
    """(recall, false pairs, precision) of copies (m, r) against photos (n, r), both unit rows of the
    duplicates space, where `originals` (m,) gives each copy's photo row. Cosine >= `threshold` passes."""
    scores = copy_vectors @ photo_vectors.T
    rows = np.arange(len(copy_vectors))
    true = scores[rows, originals] >= threshold
    passing = scores >= threshold
    false_pairs = int(passing.sum() - true.sum())
    found = int(true.sum())
    recall = found / len(copy_vectors) if len(copy_vectors) else float("nan")
    precision = found / (found + false_pairs) if found + false_pairs else float("nan")
    return recall, false_pairs, precision


def network_input(image: Image.Image, size: int = 224) -> np.ndarray:
    """An RGB image as the network takes it, stretched to the square input as files are
    (simages.extraction.images.load_for_network)."""
    image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    return np.asarray(image, dtype=np.uint8)


def estimate(settings: Settings, cache, sample: int = DEFAULT_SAMPLE, seed: int = 0) -> Calibration | None:
    """Measure the estimate on the collection (every indexed set) with `cache` (a DescriptorCache) and keep
    it; None when the collection has no duplicates space (under 20 images), fewer than 2 photos, or none
    of the sample can be read (photos moved or damaged since indexing are left out). LookupError when
    the weights are missing."""
    from simages.extraction.describe import describe_images, network_for
    from simages.extraction.images import open_rgb
    from simages.nearest.core.intents import DUPLICATES

    spaces = cache.duplicates_spaces(settings)
    indexes = [cache.get(settings, name, DUPLICATES) for name, _ in _stores(settings)]
    indexes = [index for index in indexes if len(index)]
    if not indexes:
        return None
    kind = _stored_kind(indexes[0])
    space = spaces.get(kind)
    indexes = [index for index in indexes if _stored_kind(index) == kind]
    if space is None or sum(len(index) for index in indexes) < 2:
        return None
    names = [(index, image) for index in indexes for image in index.names]
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(names), size=min(sample, len(names)), replace=False).tolist())
    kinds = list(EDITS)
    inputs, used = [], []
    for number, row in enumerate(chosen):
        index, image = names[row]
        try:
            with open_rgb(settings.image_sets / index.set_name / image, settings.max_image_pixels) as photo:
                inputs.append(network_input(apply_edit(kinds[number % len(kinds)], photo, seed + number)))
        except (OSError, ValueError):  # moved or damaged since indexing (UnreadableImage is an OSError)
            continue
        used.append(row)
    if not used:
        return None
    chosen = used
    message = settings.check_weights()
    if message:
        raise LookupError(message)
    spec = indexes[0].key_descriptor()
    network = network_for(settings.weights, settings.model_cache)
    raw = describe_images(network, np.stack(inputs), spec if spec is not None else settings.descriptor)
    copies = indexes[0].project(raw)
    copies = copies / np.maximum(np.linalg.norm(copies, axis=1, keepdims=True), 1e-12)
    photos = np.vstack([index.vectors * index.inv_norms[:, None] for index in indexes])
    recall, false_pairs, precision = score_copies(copies, photos, np.array(chosen))
    calibration = Calibration(space.fingerprint, EDITED_COSINE, len(chosen), len(names), recall,
                              false_pairs, precision, time.time())
    save_calibration(settings, calibration)
    return calibration


def _stores(settings: Settings) -> list[tuple[str, Path]]:
    from simages.copies.space import collection_stores

    return collection_stores(settings)


def _stored_kind(index) -> str:
    from simages.copies.space import stored_kind

    return stored_kind(index.descriptor, index.root)
