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
was measured in (simages.copies.space) and the threshold; it is shown (`status`) while both are current.
The app measures it in the background after indexing (`refresh`, in the indexing process), so it is
measured again exactly when the duplicates space is learned again (the collection doubled). While it is
measured, a lock file beside it is held, so every process can say "being estimated" honestly.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simages.copies.edits import EDITS, apply_edit
from simages.copies.levels import DEFAULT_THRESHOLDS
from simages.copies.space import CollectionSpace
from simages.settings import Settings
from simages.store.atomic import write_atomically
from simages.store.lock import exclusive_lock
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
        sample = f"estimated on {plural(self.copies, 'edited copy', 'edited copies')} of your own photos, " \
                 f"searched among {plural(self.photos, 'photo')}"
        if math.isnan(self.precision):  # no pair passed at all
            return f"At this threshold: no copy was found and no false pair passed ({sample})."
        return (f"At this threshold: about {self.precision:.0%} of pairs are copies, {self.recall:.0%} of "
                f"copies found ({sample}).")


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
    if calibration.threshold != DEFAULT_THRESHOLDS.edited:  # measured at another default threshold
        return None
    return calibration


def score_copies(copy_vectors: np.ndarray, photo_vectors: np.ndarray, originals: np.ndarray,
                 threshold: float = DEFAULT_THRESHOLDS.edited) -> tuple[float, int, float]:
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


def estimate(settings: Settings, cache, sample: int = DEFAULT_SAMPLE, seed: int = 0,
             network: Callable[[], Any] | None = None) -> Calibration | None:
    """Measure the estimate on the collection (every indexed set) with `cache` (a DescriptorCache) and keep
    it; None when the collection has no duplicates space (under 20 images), fewer than 2 photos, or none
    of the sample can be read (photos moved or damaged since indexing are left out). `network`: gives
    the describing network (an indexing process's own); default: the one of `settings`' weights, and
    LookupError when they are missing."""
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
    if network is None:
        message = settings.check_weights()
        if message:
            raise LookupError(message)
        built = network_for(settings.weights, settings.model_cache)
    else:
        built = network()
    spec = indexes[0].key_descriptor()
    raw = describe_images(built, np.stack(inputs), spec if spec is not None else settings.descriptor)
    copies = indexes[0].project(raw)
    copies = copies / np.maximum(np.linalg.norm(copies, axis=1, keepdims=True), 1e-12)
    photos = np.vstack([index.vectors * index.inv_norms[:, None] for index in indexes])
    recall, false_pairs, precision = score_copies(copies, photos, np.array(chosen))
    calibration = Calibration(space.fingerprint, DEFAULT_THRESHOLDS.edited, len(chosen), len(names), recall,
                              false_pairs, precision, time.time())
    save_calibration(settings, calibration)
    return calibration


def lock_path(settings: Settings) -> Path:
    """Held (flock) while an estimate is measured."""
    return settings.model_cache / "duplicates-calibration.lock"


def running(settings: Settings) -> bool:
    """Whether some process (the app's indexer, a `--calibrate`) is measuring the estimate now."""
    try:
        fd = os.open(lock_path(settings), os.O_RDONLY)
    except OSError:  # no lock file: never measured here
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def current(settings: Settings, cache) -> tuple[bool, Calibration | None]:
    """(whether the collection has a duplicates space, the kept estimate for it or None)."""
    spaces = cache.duplicates_spaces(settings)
    for space in spaces.values():
        calibration = load_calibration(settings, space)
        if calibration is not None:
            return True, calibration
    return bool(spaces), None


def refresh(settings: Settings, cache, network: Callable[[], Any] | None = None,
            force: bool = False) -> Calibration | None:
    """The kept estimate for the collection's current duplicates space, measured (`estimate`) only when
    there is none (or `force`): after indexing, this re-measures exactly when the space was learned
    again. Measured
    under the lock (`running` says so meanwhile); a process finding it held waits, then reads the other's
    result. OSError when features/.cache cannot be written (the lock)."""
    settings.model_cache.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(lock_path(settings)):
        has_space, kept = current(settings, cache)
        if not has_space or (kept is not None and not force):
            return kept
        return estimate(settings, cache, network=network)


@dataclass(frozen=True)
class CalibrationStatus:
    """What to show about the estimate where duplicate answers are read. `state`: "measured" (with
    `calibration`), "running", "absent" (not measured for this space yet), "small" (no duplicates space:
    under 20 images, nothing to estimate in)."""

    state: str
    calibration: Calibration | None = None

    def sentence(self) -> str:
        if self.calibration is not None:
            return self.calibration.sentence()
        if self.state == "running":
            return ("How well this threshold works on your own photos is being estimated now (edited copies "
                    f"of {DEFAULT_SAMPLE} of them, in the background).")
        if self.state == "small":
            return ("No estimate of this threshold on your own photos: the collection has fewer than 20 "
                    "photos.")
        return ("How well this threshold works on your own photos is not estimated yet: the app measures "
                "it after indexing, or run `simages duplicates SET --calibrate`.")

    def to_json(self) -> dict[str, Any]:
        """{"state", "sentence"} and, when measured, "precision", "recall", "copies", "photos",
        "threshold", "measured_at" (seconds since the epoch; NaN precision as null)."""
        body: dict[str, Any] = {"state": self.state, "sentence": self.sentence()}
        if self.calibration is not None:
            c = self.calibration
            body.update(precision=None if math.isnan(c.precision) else c.precision,
                        recall=None if math.isnan(c.recall) else c.recall, copies=c.copies,
                        photos=c.photos, false_pairs=c.false_pairs, threshold=c.threshold,
                        measured_at=c.measured_at)
        return body


def status(settings: Settings, cache) -> CalibrationStatus:
    """The estimate's status for the collection's current duplicates space (`cache`: a DescriptorCache)."""
    has_space, kept = current(settings, cache)
    if kept is not None:
        return CalibrationStatus("measured", kept)
    if running(settings):
        return CalibrationStatus("running")
    return CalibrationStatus("absent" if has_space else "small")


def _stores(settings: Settings) -> list[tuple[str, Path]]:
    from simages.copies.space import collection_stores

    return collection_stores(settings)


def _stored_kind(index) -> str:
    from simages.copies.space import stored_kind

    return stored_kind(index.descriptor, index.root)
