"""The duplicates space of a collection: one whitening for every set, so a duplicate score means the same
whatever set is searched.

The duplicates intent compares square-rooted stored vectors after PCA whitening (docs/duplicates.md).
Learned on the *searched* set, as before issue 23, the whitening - and so the meaning of the threshold -
changed with the set's size and content: on Corel-1k collections of 20 and 45 photos of one or three
classes, 55-69% of uploads of photos not in the set were called duplicates, and sets under 20 images
needed another rule. Here it is learned once on the whole **collection** (every indexed set of
`features/` with the same stored vectors, at most `MAX_LEARNING_ROWS` of them, drawn with a fixed seed)
and kept in `features/.cache/`: every key x set query, upload, self-join, A x B join and "all other sets"
search projects into the same space, so the same pair gets the same score in a set of 1 image and of
1M (measured: docs/duplicates.md). Learned on the user's machine from the user's own photos; nothing in
it comes with the package.

The space is relearned only when the collection has grown to `RELEARN_GROWTH` times the images it was
learned from (a new meaning, announced by a new `fingerprint`), never on smaller changes: adding a folder
to a large collection does not move its scores. A collection too small to learn a whitening from (fewer
than `MIN_IMAGES_TO_LEARN` images) has none: its pairs are compared on the square-rooted vectors alone
and get the unwhitened threshold (simages.nearest.duplicates.UNWHITENED_DUPLICATE_COSINE).

Once synthetic edits of the collection's own photos have been described (simages.copies.copy_pairs, in
the background after indexing), the space is learned from them too: the copy-aware whitening of
simages.copies.learned_space (`method` "copy-whitening"), which keeps edited copies close to their photo
while look-alikes stay apart, calibrated on the collection so that the threshold keeps its meaning. Until
then, and for a collection whose pairs cannot be made, it is the plain whitening (`method` "whitening").
A space is learned again when new pairs are made (their `fingerprint` differs from the one it was learned
from).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simages.copies.learned_space import (
    MIN_PAIRS,
    CopyPairs,
    learn_copy_whitening,
    load_pairs,
    pairs_path,
)
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.pooling import l2_normalise, signed_sqrt
from simages.extraction.postprocess import Whitening, learn_whitening
from simages.naming import derived_name, list_sets
from simages.settings import Settings
from simages.store.atomic import write_atomically
from simages.wording import plural

if TYPE_CHECKING:  # the nearest package reads sets through this module: no import of it at run time
    from simages.nearest.core.set_index import SetIndex

log = logging.getLogger(__name__)

SPACE_VERSION = 1
# Whitening keeps every direction the learning rows span, regularised (postprocess.DEFAULT_SHRINKAGE):
# the same lower bound as a set's own whitening (simages.nearest.core.set_index.MIN_IMAGES_TO_WHITEN).
MIN_IMAGES_TO_LEARN = 20
# 512-d covariances are estimated well from 20k rows; more only costs time on a million-image collection.
MAX_LEARNING_ROWS = 20_000
RELEARN_GROWTH = 2.0


@dataclass(frozen=True)
class CollectionSpace:
    """A whitening learned on a collection's square-rooted stored vectors of one kind (`stored`: the
    extraction key, e.g. "gap+l2"): learned from `images` images of `sets` sets; `fingerprint` names this
    learning (a new one when relearned)."""

    stored: str
    whitening: Whitening
    images: int
    sets: int
    fingerprint: str
    method: str = "whitening"  # or "copy-whitening": learned from copy pairs too (learned_space)
    pairs: str = ""  # the fingerprint of the copy pairs it was learned from ("" for none)
    # How many images of this kind the collection holds now (set when read, never kept: 0 unknown).
    images_now: int = field(default=0, compare=False)

    def whitened_on(self) -> str:
        """Where this whitening was learned, in words, for the "Descriptors" line (SetIndex.whitened_on).
        The counts (learned on how many photos, how many now) are said once, in the Scores sentence
        (`sentence`), not here."""
        text = "on all your indexed photos together (the same for every set)"
        if self.method == "copy-whitening":
            return f"{text}, tuned on edited copies of them to find copies"
        return f"{text}, not yet tuned on edited copies of them"

    def grown(self) -> str:
        """" (now 85; learned again at 110 photos)" when the indexed photos differ from those learned on
        ("" when they do not, or it is not known)."""
        if not self.images_now or self.images_now == self.images:
            return ""
        again = math.ceil(RELEARN_GROWTH * self.images)
        return f" (now {self.images_now:,}; learned again at {plural(again, 'photo')})"

    def sentence(self) -> str:
        """Which duplicates space the scores shown are in, learned on how many photos, and whether they
        will move: "Scores come from the plain
        space, learned when 55 photos were indexed (now 85; learned again at 110 photos). ..." (said wherever
        duplicate scores are shown, beside the estimate of the threshold). It promises nothing about levels:
        a copy found in one space can be missed in the other, and the copy-aware space finds more (a blurred
        copy, for one)."""
        photos = plural(self.images, "photo")
        if self.method == "copy-whitening":
            return (f"Scores come from the copy-aware space, learned from your photos and edited copies of "
                    f"them when {photos} were indexed{self.grown()}; they differ from scores shown before it "
                    "was learned.")
        return (f"Scores come from the plain space, learned when {photos} were indexed{self.grown()}. "
                "Scores and the copies found will change once the copy-aware space is learned from edited "
                "copies of your photos (by the app after indexing, or `simages duplicates SET --calibrate`); "
                "it may find copies this one misses.")


def space_path(settings: Settings, stored: str) -> Path:
    """Where the collection's space for stored vectors `stored` is kept."""
    return settings.model_cache / derived_name(f"duplicates-space-v{SPACE_VERSION}-{stored}", ".npz")


def _stored_key(meta_text: str) -> str | None:
    try:
        meta = json.loads(meta_text)
        text = str(meta.get("descriptor_spec") or meta.get("descriptor", ""))
        return DescriptorSpec.parse(text).extraction_key() if text else None
    except (ValueError, AttributeError):
        return None


def collection_stores(settings: Settings) -> list[tuple[str, Path]]:
    """(set name, store path) of every set of image_sets/ that has a feature store."""
    found = []
    for name in list_sets(settings.image_sets):
        path = settings.store_path(name)
        if path.is_file():
            found.append((name, path))
    return found


def inputs_identity(settings: Settings) -> tuple:
    """What changes when anything a collection space is learned from changes: every store, and the kept
    copy pairs (simages.copies.copy_pairs) of every kind."""
    pairs = []
    folder = settings.model_cache
    for path in sorted(folder.glob("duplicates-pairs-*.npz")) if folder.is_dir() else []:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            continue
        pairs.append((path.name, stat.st_mtime_ns, stat.st_size, stat.st_ino))
    return stores_identity(collection_stores(settings)), tuple(pairs)


def stores_identity(stores: Iterable[tuple[str, Path]]) -> tuple:
    """What changes when any store of the collection changes (name, mtime_ns, size, inode of each)."""
    identity = []
    for name, path in stores:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            continue
        identity.append((name, stat.st_mtime_ns, stat.st_size, stat.st_ino))
    return tuple(identity)


def _read_rows(path: Path) -> tuple[str | None, np.ndarray | None]:
    """The stored-vector kind and the vectors (n, d) float32 of one store; (None, None) if unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = _stored_key(str(data["meta"])) if "meta" in data.files else None
            return stored, np.asarray(data["vectors"], dtype=np.float32)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        log.warning("the duplicates space leaves out the unreadable store %s: %s", path, error)
        return None, None


def _store_summary(path: Path) -> tuple[str | None, int]:
    """The stored-vector kind and the number of images of one store, read without its vectors."""
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = _stored_key(str(data["meta"])) if "meta" in data.files else None
            return stored, len(data["names"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        log.warning("the duplicates space leaves out the unreadable store %s: %s", path, error)
        return None, 0


def _rooted(stored: str, rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    if not DescriptorSpec.parse(stored).sqrt:  # the duplicates intent roots them at load (set_index.rooted)
        rows = l2_normalise(signed_sqrt(rows))
    return rows


def learn_space(stored: str, vectors: np.ndarray, sets: int, seed: int = 0,
                pairs: CopyPairs | None = None) -> CollectionSpace | None:
    """The whitening of square-rooted `vectors` (n, d) (at most MAX_LEARNING_ROWS of them, drawn with
    `seed`), or None when there are fewer than MIN_IMAGES_TO_LEARN. With copy `pairs` of the same kind
    (at least learned_space.MIN_PAIRS of them): the copy-aware whitening learned from them too."""
    n = len(vectors)
    if n < MIN_IMAGES_TO_LEARN:
        return None
    if n > MAX_LEARNING_ROWS:
        vectors = vectors[np.sort(np.random.default_rng(seed).choice(n, MAX_LEARNING_ROWS, replace=False))]
    rows = _rooted(stored, vectors)
    method, used = "whitening", ""
    if pairs is not None and pairs.stored == stored and len(pairs.edits) >= MIN_PAIRS:
        learned = learn_copy_whitening(rows, _rooted(stored, pairs.originals), _rooted(stored, pairs.edits),
                                       seed=seed)
        method, used = "copy-whitening", pairs.fingerprint
    else:
        learned = learn_whitening(rows)
    # float32 as kept on disk: a space read back projects to the very same bits.
    whitening = Whitening(np.asarray(learned.mean, np.float32), np.asarray(learned.projection, np.float32))
    return CollectionSpace(stored, whitening, n, sets, whitening_fingerprint(whitening), method, used)


def whitening_fingerprint(whitening: Whitening) -> str:
    """16 hex digits naming a whitening's arrays (float32 bytes of mean and projection)."""
    digest = hashlib.sha256(np.ascontiguousarray(whitening.mean, np.float32).tobytes())
    digest.update(np.ascontiguousarray(whitening.projection, np.float32).tobytes())
    return digest.hexdigest()[:16]


def save_space(path: Path, space: CollectionSpace) -> None:
    """Write atomically (a crash leaves the old space or the new one, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"version": SPACE_VERSION, "stored": space.stored, "images": space.images,
                       "sets": space.sets, "fingerprint": space.fingerprint, "method": space.method,
                       "pairs": space.pairs})
    arrays = {"mean": space.whitening.mean.astype(np.float32),
              "projection": space.whitening.projection.astype(np.float32), "meta": np.array(meta)}
    write_atomically(path, lambda stream: np.savez(stream, **arrays))


def load_space(path: Path) -> CollectionSpace | None:
    """The kept space, or None when there is none or it cannot be read (then it is learned again)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            mean = np.asarray(data["mean"], np.float32)
            whitening = Whitening(mean, np.asarray(data["projection"], np.float32))
        if meta.get("version") != SPACE_VERSION:
            return None
        return CollectionSpace(str(meta["stored"]), whitening, int(meta["images"]), int(meta["sets"]),
                               str(meta["fingerprint"]), str(meta.get("method", "whitening")),
                               str(meta.get("pairs", "")))
    except FileNotFoundError:
        return None
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        log.warning("learning the duplicates space again: %s is unreadable (%s)", path, error)
        return None


def outgrown(space: CollectionSpace | None, images_now: int) -> bool:
    """Whether a kept space should be learned again for a collection of `images_now` images: there is
    none yet and the collection is large enough, or it has grown RELEARN_GROWTH times since."""
    if space is None:
        return images_now >= MIN_IMAGES_TO_LEARN
    return images_now >= RELEARN_GROWTH * space.images


def kept_fingerprints(settings: Settings) -> dict[str, str]:
    """The fingerprint of each kept space by kind of stored vectors, read from features/.cache without
    learning anything (to tell, after `--calibrate`, whether the space and so the scores changed)."""
    kinds = {kind for _, path in collection_stores(settings) for kind in [_store_summary(path)[0]] if kind}
    found = {}
    for stored in sorted(kinds):
        kept = load_space(space_path(settings, stored))
        if kept is not None:
            found[stored] = kept.fingerprint
    return found


def collection_spaces(settings: Settings) -> dict[str, CollectionSpace]:
    """The duplicates space of each kind of stored vectors in the collection, from features/.cache or
    learned (and kept) when missing or outgrown. Reads each store's names and meta; the vectors only of
    the kinds it learns."""
    stores = collection_stores(settings)
    summaries = [(path, *_store_summary(path)) for _, path in stores]
    spaces: dict[str, CollectionSpace] = {}
    for stored in sorted({kind for _, kind, _ in summaries if kind is not None}):
        paths = [path for path, kind, count in summaries if kind == stored and count]
        images = sum(count for _, kind, count in summaries if kind == stored)
        path = space_path(settings, stored)
        kept = load_space(path)
        pairs = load_pairs(pairs_path(settings, stored))
        newer_pairs = pairs is not None and len(pairs.edits) >= MIN_PAIRS and (
            kept is not None and kept.pairs != pairs.fingerprint)
        if outgrown(kept, images) or (newer_pairs and images >= MIN_IMAGES_TO_LEARN):
            blocks = [rows for rows in (_read_rows(p)[1] for p in paths) if rows is not None and len(rows)]
            learned = (learn_space(stored, np.concatenate(blocks), len(blocks), pairs=pairs)
                       if blocks else None)
            if learned is not None:
                try:
                    save_space(path, learned)
                except OSError as error:  # a read-only or full disk: still answer, with this run's space
                    log.warning("could not keep the duplicates space in %s: %s", path, error)
                kept = learned
        if kept is not None:
            spaces[stored] = dataclasses.replace(kept, images_now=images)
    return spaces


def in_space(index: SetIndex, spaces: dict[str, CollectionSpace]) -> bool:
    """Whether `index` (read with the duplicates intent) is whitened with its kind's collection space."""
    space = spaces.get(stored_kind(index.descriptor, index.root))
    if space is None or index.whitening is None:
        return False
    return whitening_fingerprint(index.whitening) == space.fingerprint


def stored_kind(descriptor: str, rooted_at_load: bool) -> str:
    """The stored-vector kind (extraction key of the store) behind a reading with `descriptor` whose square
    root was taken at load time when `rooted_at_load` ("" for a descriptor that does not parse)."""
    try:
        spec = DescriptorSpec.parse(descriptor)
    except ValueError:
        return ""
    return (spec.with_(sqrt=False) if rooted_at_load else spec).extraction_key()
