"""Synthetic edits of the user's own photos, made in the background after indexing: the learning material
of the collection's copy space (simages.copies.learned_space).

A seeded sample of the collection's photos (`DEFAULT_PHOTOS`, across every indexed set) each gets
`EDITS_PER_PHOTO` different edits drawn from every kind (simages.copies.edits.ALL_EDITS: the ten mild ones
and the strong ones), described by the network like any upload. Kept in features/.cache beside the
space; made again when the collection has doubled since (simages.copies.space.RELEARN_GROWTH). It costs
DEFAULT_PHOTOS x EDITS_PER_PHOTO network passes (1,200) once per doubling, whatever the collection's size:
800 took 118 s on the shared 2-core Xeon at load average 9 (the network alone runs at about 15 ms an
image there when idle).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from simages.copies.edits import ALL_EDITS, apply_edit
from simages.copies.learned_space import CopyPairs, load_pairs, pairs_fingerprint, pairs_path, save_pairs
from simages.copies.space import MIN_IMAGES_TO_LEARN, RELEARN_GROWTH, collection_stores
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.settings import Settings
from simages.wording import plural

log = logging.getLogger(__name__)

# Measured on Corel-1k (docs/duplicates.md): 200 or 300 photos x 4 edits give mild-edit F1 0.96-0.98 at
# every collection size (50 x 4 or 200 x 1 lose 0.005-0.01); strong-edit top-1 grows with the number of
# edited copies (800: 0.89, 1,200: 0.91), which is what 300 buys.
DEFAULT_PHOTOS = 300
EDITS_PER_PHOTO = 4
_BATCH = 32


def _collection_rows(settings: Settings) -> dict[str, list[tuple[Path, np.ndarray]]]:
    """Per stored-vector kind: (image file, stored vector) of every image of the collection."""
    from simages.store.npz_store import StoreError, load_store

    rows: dict[str, list[tuple[Path, np.ndarray]]] = {}
    for set_name, path in collection_stores(settings):
        try:
            store = load_store(path)
        except (OSError, StoreError) as error:
            log.warning("the copy pairs leave out the unreadable store %s: %s", path, error)
            continue
        text = str(store.meta.get("descriptor_spec") or store.meta.get("descriptor", ""))
        try:
            stored = DescriptorSpec.parse(text).extraction_key() if text else ""
        except ValueError:
            continue
        if not stored:
            continue
        kind = rows.setdefault(stored, [])
        folder = settings.image_sets / set_name
        kind.extend((folder / name, vector) for name, vector in zip(store.names, store.vectors, strict=True))
    return rows


def make_pairs(settings: Settings, stored: str, rows: list[tuple[Path, np.ndarray]],
               network: Callable[[], Any], photos: int = DEFAULT_PHOTOS, per_photo: int = EDITS_PER_PHOTO,
               seed: int = 0) -> CopyPairs | None:
    """Edits of a seeded sample of `rows` ((image file, stored vector) of one kind: `stored`, an extraction
    key), described with `network()`; None when no sampled photo can be read (moved or damaged since
    indexing). `settings` gives the largest image to open."""
    from simages.copies.calibration import network_input
    from simages.extraction.describe import describe_images
    from simages.extraction.images import open_rgb

    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(rows), size=min(photos, len(rows)), replace=False).tolist())
    kinds = list(ALL_EDITS)
    spec = DescriptorSpec.parse(stored)
    built = None
    originals: list[np.ndarray] = []
    described: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    used = 0

    def flush() -> None:
        nonlocal built
        if batch:
            built = built or network()
            described.append(describe_images(built, np.stack(batch), spec))
            batch.clear()

    for row in chosen:
        path, vector = rows[row]
        picks = rng.choice(len(kinds), size=min(per_photo, len(kinds)), replace=False)
        seeds = rng.integers(0, 2**31, size=len(picks))
        try:
            with open_rgb(path, settings.max_image_pixels) as photo:
                inputs = [network_input(apply_edit(kinds[k], photo, int(s)))
                          for k, s in zip(picks, seeds, strict=True)]
        except (OSError, ValueError):  # moved or damaged since indexing (UnreadableImage is an OSError)
            continue
        used += 1
        originals.extend([np.asarray(vector, np.float32)] * len(inputs))
        batch.extend(inputs)
        if len(batch) >= _BATCH:
            flush()
    flush()
    if not originals:
        return None
    first = np.stack(originals)
    edits = np.concatenate(described).astype(np.float32)
    return CopyPairs(stored, first, edits, len(rows), used, pairs_fingerprint(first, edits))


def settings_network(settings: Settings) -> Callable[[], Any]:
    """A callable building the network of `settings`' weights when first called: LookupError saying what
    is missing when the weights are not there."""

    def build() -> Any:
        from simages.extraction.describe import network_for

        message = settings.check_weights()
        if message:
            raise LookupError(message)
        return network_for(settings.weights, settings.model_cache)

    return build


def refresh_pairs(settings: Settings, network: Callable[[], Any], photos: int = DEFAULT_PHOTOS,
                  per_photo: int = EDITS_PER_PHOTO) -> list[str]:
    """Make (and keep) the copy pairs of each kind of stored vectors whose collection has none yet or has
    doubled since they were made, and is large enough to learn a space (MIN_IMAGES_TO_LEARN images).
    The kinds made, in words ("" when nothing was needed). OSError when features/.cache cannot be written."""
    made = []
    for stored, rows in sorted(_collection_rows(settings).items()):
        if len(rows) < MIN_IMAGES_TO_LEARN:
            continue
        path = pairs_path(settings, stored)
        kept = load_pairs(path)
        if kept is not None and len(rows) < RELEARN_GROWTH * kept.images:
            continue
        pairs = make_pairs(settings, stored, rows, network, photos, per_photo)
        if pairs is not None:
            save_pairs(path, pairs)
            made.append(f"{plural(len(pairs.edits), 'edited copy', 'edited copies')} of "
                        f"{plural(pairs.photos, 'photo')} ({stored})")
    return made
