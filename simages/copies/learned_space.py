"""A duplicates space learned from synthetic edits of the collection's own photos.

Today's collection space (simages.copies.space) whitens the collection's square-rooted stored vectors: it
scales down the directions along which the user's photos differ most (mostly their kind) so that the
directions telling one photo from another count. It does not know which directions an *edit* moves a
photo along: an 8-degree turn, a letterbox or a grey copy moves it along directions the whitening
amplifies, and the copy falls under the threshold.

Here the whitening is learned from two covariances of the user's own collection:

- `between`: the collection's photos (what distinct photos, look-alikes included, differ by);
- `within`: a photo minus its synthetic edit, for a sample of the collection's photos each edited a few
  times (simages.copies.edits: the mild and strong kinds, fresh random instances): what a copy differs by.

The space whitens their mix, `alpha * within + (1 - alpha) * between` (each scaled to unit trace),
regularised like any whitening (eigenvalues plus `shrinkage` times their mean), then keeps the strongest
directions of the collection in that space. Directions along which edits move a photo are scaled down
with those along which the collection varies most; a copy stays close to its photo while look-alikes stay
apart. It is the learned whitening of Radenović, Tolias & Chum ("Fine-tuning CNN image retrieval with no
human annotation", TPAMI 2019: whitening from the covariance of matching pairs), blended with the
collection's own covariance: the pairs' covariance alone made copies tight but same-shoot look-alikes
tighter still (docs/duplicates.md).

**The threshold keeps its meaning by calibration on the collection**: distinct photos score about 0 with
a spread (standard deviation of their cosines) that depends on how many directions are kept. The
duplicate threshold (0.5, simages.copies.levels.EDITED_COSINE) is ten such spreads in the plain
whitening (spread 0.05: one distinct pair in about 12,000 passes). The learned space keeps the number of
directions at which photos *it was not learned on* spread `TARGET_SPREAD` (0.05) against the collection:
a tenth of the collection (`HELD_OUT_FRACTION`) is held out of the learning for that, because new photos
(an upload, a curator's new folder) are what "not a copy" must mean the same for, and they spread wider
than the photos a space was learned on. So 0.5 is ten spreads of new photos against *this* collection,
whatever the collection: the calibration uses only the user's photos, no constant measured on a
benchmark. A collection under MIN_PHOTOS_TO_HOLD_OUT photos has none to spare and is calibrated on its
own distinct pairs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simages.extraction.postprocess import Whitening
from simages.naming import derived_name
from simages.settings import Settings
from simages.store.atomic import write_atomically

log = logging.getLogger(__name__)

PAIRS_VERSION = 1

# Weight of the copies' covariance in the mix (each covariance scaled to unit trace). Measured on Corel-1k
# collections (docs/duplicates.md): 0.2-0.3 best, 0.1 and 0.5 within 0.01 F1 of it.
DEFAULT_ALPHA = 0.3
# Eigenvalue regularisation, as a fraction of the mean eigenvalue of the mix.
DEFAULT_SHRINKAGE = 0.1
# The spread (standard deviation of the cosine) of the collection's distinct pairs the space is
# calibrated to: the duplicate threshold 0.5 is ten of them, as in today's whitening.
TARGET_SPREAD = 0.05
# Distinct pairs are measured among at most this many photos (a seeded draw): 2,000 photos give 2M pairs.
SPREAD_SAMPLE = 2_000
# Fewer edit pairs or photos than this: the covariances are not estimated well enough to learn from.
MIN_PAIRS = 40
MIN_PHOTOS = 20
# The share of a collection's photos held out of the learning to calibrate on (at least MIN_HELD_OUT),
# from MIN_PHOTOS_TO_HOLD_OUT photos on. Measured on Corel (docs/duplicates.md): a 45-photo collection
# learning on 30 keeps too few directions (60% of uploads called duplicates); from 150 photos the held-out
# calibration calls fewer uploads duplicates than the collection's own pairs do.
HELD_OUT_FRACTION = 0.1
MIN_HELD_OUT = 30
MIN_PHOTOS_TO_HOLD_OUT = 150


def _unit_trace_cov(centred: np.ndarray) -> np.ndarray:
    cov = centred.T @ centred / max(len(centred), 1)
    trace = float(np.trace(cov))
    return cov / trace if trace > 0 else cov


def spread(vectors: np.ndarray, others: np.ndarray | None = None) -> float:
    """Standard deviation of the cosine similarities of the distinct pairs of unit rows `vectors` (n, r),
    or, given `others` (m, r), of every pair of a row of `vectors` with a row of `others`."""
    if others is not None:
        return float((vectors @ others.T).std()) if len(vectors) and len(others) else 0.0
    scores = vectors @ vectors.T
    upper = scores[np.triu_indices(len(vectors), 1)]
    return float(upper.std()) if len(upper) else 0.0


def learn_copy_whitening(
    photos: np.ndarray,
    originals: np.ndarray,
    edits: np.ndarray,
    *,
    alpha: float = DEFAULT_ALPHA,
    shrinkage: float = DEFAULT_SHRINKAGE,
    target_spread: float = TARGET_SPREAD,
    seed: int = 0,
) -> Whitening:
    """The copy-aware whitening (see the module docstring) of square-rooted unit rows.

    photos (n, d): the collection's photos; originals (m, d) and edits (m, d): a photo and one synthetic
    edit of it per row. From MIN_PHOTOS_TO_HOLD_OUT photos on, a seeded `HELD_OUT_FRACTION` of them (at
    least MIN_HELD_OUT) is held out of the learning and the space keeps the number of directions at which
    their pairs with the learned photos spread `target_spread` (closest from above): new photos, like an
    upload, are what the threshold must keep its meaning for. A smaller collection has none to spare:
    the spread of its own distinct pairs is used. Returns a Whitening (mean (d,), projection (d, D))
    whose `apply` gives unit rows. ValueError with fewer than MIN_PHOTOS photos or MIN_PAIRS pairs, or
    mismatched shapes."""
    photos = np.asarray(photos, np.float64)
    originals = np.asarray(originals, np.float64)
    edits = np.asarray(edits, np.float64)
    if len(photos) < MIN_PHOTOS or len(originals) < MIN_PAIRS:
        raise ValueError(f"a copy space needs {MIN_PHOTOS} photos and {MIN_PAIRS} edited pairs, "
                         f"got {len(photos)} and {len(originals)}")  # plural-ok: constants above 1
    if originals.shape != edits.shape or originals.shape[1] != photos.shape[1]:
        raise ValueError(f"shapes do not match: photos {photos.shape}, originals {originals.shape}, "
                         f"edits {edits.shape}")
    rng = np.random.default_rng(seed)
    held_out = None
    if len(photos) >= MIN_PHOTOS_TO_HOLD_OUT:
        order = rng.permutation(len(photos))
        count = max(MIN_HELD_OUT, int(HELD_OUT_FRACTION * len(photos)))
        held_out, photos = photos[order[:count]], photos[order[count:]]
    mean = photos.mean(axis=0)
    between = _unit_trace_cov(photos - mean)
    within = _unit_trace_cov((originals - edits) / np.sqrt(2.0))
    mix = alpha * within + (1.0 - alpha) * between
    eigen, vectors = np.linalg.eigh(mix)
    eigen = np.maximum(eigen, 0.0)
    first = vectors / np.sqrt(eigen + shrinkage * eigen.mean())[None, :]
    # Then the collection's strongest directions in that space, strongest first.
    projected = (photos - mean) @ first
    strength, rotation = np.linalg.eigh(projected.T @ projected / len(projected))
    order = np.argsort(strength)[::-1]
    kept = int(np.count_nonzero(strength > strength.max() * 1e-9))
    projection = first @ rotation[:, order[:kept]]

    def sample(rows: np.ndarray) -> np.ndarray:
        if len(rows) > SPREAD_SAMPLE:
            rows = rows[rng.choice(len(rows), SPREAD_SAMPLE, replace=False)]
        return (rows - mean) @ projection

    learned = sample(photos)
    dims = _calibrated_dims(learned if held_out is None else sample(held_out),
                            None if held_out is None else learned, target_spread)
    return Whitening(mean.astype(np.float32), np.ascontiguousarray(projection[:, :dims], np.float32))


def _calibrated_dims(rows: np.ndarray, others: np.ndarray | None, target: float) -> int:
    """The largest number of leading columns of `rows` (n, D) at which the spread of their unit rows'
    distinct pairs (with `others` (m, D): of their pairs with those) is at least `target` (the spread falls
    as directions are added); at least 2."""

    def unit(part: np.ndarray) -> np.ndarray:
        return part / np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-12)

    def spread_of(k: int) -> float:
        return spread(unit(rows[:, :k]), None if others is None else unit(others[:, :k]))

    low, high = 2, rows.shape[1]
    if spread_of(high) >= target:
        return high
    while high - low > 1:  # spread_of(low) >= target > spread_of(high)
        middle = (low + high) // 2
        if spread_of(middle) >= target:
            low = middle
        else:
            high = middle
    return low


@dataclass(frozen=True)
class CopyPairs:
    """Synthetic edits of a sample of a collection's photos, the learning material of its copy space:
    `originals` (m, d) the stored vectors of the edited photos (a photo once per edit) and `edits` (m, d)
    the stored-style descriptors of their edits, both of kind `stored` (an extraction key, e.g. "gap+l2"),
    not square-rooted; made when the collection had `images` images; `fingerprint` names them."""

    stored: str
    originals: np.ndarray
    edits: np.ndarray
    images: int
    photos: int
    fingerprint: str


def pairs_fingerprint(originals: np.ndarray, edits: np.ndarray) -> str:
    """16 hex digits naming a set of pairs (float32 bytes of both arrays)."""
    digest = hashlib.sha256(np.ascontiguousarray(originals, np.float32).tobytes())
    digest.update(np.ascontiguousarray(edits, np.float32).tobytes())
    return digest.hexdigest()[:16]


def pairs_path(settings: Settings, stored: str) -> Path:
    """Where the copy pairs of stored vectors `stored` are kept (features/.cache)."""
    return settings.model_cache / derived_name(f"duplicates-pairs-v{PAIRS_VERSION}-{stored}", ".npz")


def save_pairs(path: Path, pairs: CopyPairs) -> None:
    """Write atomically (a crash leaves the old pairs or the new ones)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"version": PAIRS_VERSION, "stored": pairs.stored, "images": pairs.images,
                       "photos": pairs.photos, "fingerprint": pairs.fingerprint})
    arrays = {"originals": np.asarray(pairs.originals, np.float32),
              "edits": np.asarray(pairs.edits, np.float32), "meta": np.array(meta)}
    write_atomically(path, lambda stream: np.savez(stream, **arrays))


def load_pairs(path: Path) -> CopyPairs | None:
    """The kept pairs, or None when there are none or they cannot be read (then they are made again)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            originals = np.asarray(data["originals"], np.float32)
            edits = np.asarray(data["edits"], np.float32)
        if meta.get("version") != PAIRS_VERSION or originals.shape != edits.shape:
            return None
        return CopyPairs(str(meta["stored"]), originals, edits, int(meta["images"]), int(meta["photos"]),
                         str(meta["fingerprint"]))
    except FileNotFoundError:
        return None
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        log.warning("making the duplicates copy pairs again: %s is unreadable (%s)", path, error)
        return None
