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
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from simages.copies.edits import EDITS, apply_edit
from simages.copies.levels import DEFAULT_THRESHOLDS
from simages.copies.space import CollectionSpace
from simages.settings import Settings
from simages.store.atomic import write_atomically
from simages.store.lock import exclusive_lock
from simages.wording import plural

if TYPE_CHECKING:
    from simages.copies.new_photos import NewPhotoEstimate

# 2: the new-photo estimate (simages.copies.new_photos); 3: a photo set aside that its keypoints prove a
# copy of another photo of the collection is a copy rightly found, not a false one.
CALIBRATION_VERSION = 3
DEFAULT_SAMPLE = 40
# Above this share of new photos called copies (the floor is 2 in 100) the sentence says to check
# pairs by eye before acting on them: when even the lower end of the share's 95% interval (Wilson) is
# above it, so a few calls among few photos set aside do not raise it by chance.
WARN_NEW_RATE = 0.02
WILSON_Z = 1.96
# The edits the estimate makes, named in its sentence (simages.copies.edits.EDITS, the mild kinds).
EVERYDAY_EDITS = ", ".join(kind.replace("reencoded", "re-encoded") for kind in EDITS)


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
    # Photos of the collection set aside (never learned on) and searched as new ones: how many were
    # called a copy of a photo they are not (simages.copies.new_photos); 0 searched when not measured.
    new_searched: int = 0
    new_called: int = 0

    @property
    def new_rate(self) -> float:
        """The share of new photos wrongly called a copy (nan when not measured)."""
        return self.new_called / self.new_searched if self.new_searched else float("nan")

    def new_rate_lower(self) -> float:
        """The lower end of the 95% Wilson score interval of `new_rate` (Wilson, JASA 1927; nan when not
        measured): how low the share can be given how few photos were set aside."""
        n = self.new_searched
        if not n:
            return float("nan")
        p, z = self.new_called / n, WILSON_Z
        centre = p + z * z / (2 * n)
        spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return max(0.0, (centre - spread) / (1 + z * z / n))

    def sentence(self, photos_now: int = 0, now_said: bool = False) -> str:
        """One line for people: what the default threshold gives on their own photos. It says what it
        counts: copies found by their score alone (the keypoint check only removes pairs here, it finds
        none), with everyday edits only; harder edits are found by their keypoints below the threshold,
        and the line says so rather than promise them. `photos_now`: the indexed photos today, when known:
        an estimate made when there were more or fewer says so rather than pass for one of today's, and how
        many there are now unless `now_said` (the space's sentence beside it says it)."""
        among = f"all {plural(self.photos, 'indexed photo')}"
        if photos_now and photos_now != self.photos:
            among = f"the {plural(self.photos, 'photo')} indexed then"
            among += "" if now_said else f" (now {photos_now:,})"
        tested = (f"Threshold {self.threshold:g}, tested on {plural(self.copies, 'copy', 'copies')} of your "
                  f"photos with everyday edits, searched among {among}")
        if math.isnan(self.precision):  # no pair passed at all
            said = f"{tested}: none was found by its score, and no wrong pair passed."
        else:
            said = (f"{tested}: {self.recall:.0%} were found by their score alone; about "
                    f"{self.precision:.0%} of the pairs that passed were real copies.")
        said += (" Harder edits (large crops, collages, screenshots, tiny thumbnails) often score lower and "
                 "are found by their keypoints instead (marked *).")
        return f"{said} {self.new_photo_sentence()}".rstrip()

    def new_photo_sentence(self) -> str:
        """What the threshold does with photos it has never seen ("" when not measured): the curator's
        question is about new photos, and a small collection's space fits its own photos. Each photo tried
        was left out of the space's learning and searched among the others, and is counted as answers are
        given: after the keypoint check."""
        if not self.new_searched:
            return ""
        tried = plural(self.new_searched, "photo")
        if not self.new_called:
            return f"New photos with no copy among yours: none was wrongly called a copy ({tried} tried)."
        said = (f"New photos with no copy among yours: about {max(self.new_rate, 0.01):.0%} were wrongly "
                f"called a copy, even after the keypoint check ({self.new_called} of {tried} tried).")
        if self.new_rate_lower() > WARN_NEW_RATE:
            from simages.copies.learned_space import MIN_PHOTOS_TO_HOLD_OUT

            said += " Look at such pairs side by side before acting"
            if self.photos < MIN_PHOTOS_TO_HOLD_OUT:  # too few to hold photos out when the space is learned
                said += (f": on {plural(self.photos, 'photo')} the duplicates space is learned from few, and "
                         "another shot of the same scene can pass as a copy.")
            else:
                said += ": another shot of the same scene can pass as a copy."
        return said


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
                 threshold: float = DEFAULT_THRESHOLDS.edited,
                 two_photos: Callable[[int, int], bool] | None = None,
                 proven_copy: Callable[[int, int], bool] | None = None) -> tuple[float, int, float]:
    """(recall, false pairs, precision) of copies (m, r) against photos (n, r), both unit rows of the
    duplicates space, where `originals` (m,) gives each copy's photo row. Cosine >= `threshold` passes,
    unless `two_photos(copy row, photo row)` says the pair's images are two different photos (as every
    duplicates answer verifies its pairs, simages.copies.verification). A passing pair with another photo
    than the original that `proven_copy` says is a copy beyond doubt (another copy of the same photo kept
    in the collection) is a copy rightly found: neither false nor counted."""
    scores = copy_vectors @ photo_vectors.T
    rows = np.arange(len(copy_vectors))
    passing = scores >= threshold
    if two_photos is not None or proven_copy is not None:
        for copy, photo in zip(*np.nonzero(passing), strict=True):
            shown = two_photos is not None and two_photos(int(copy), int(photo))
            also = (proven_copy is not None and photo != originals[copy]
                    and proven_copy(int(copy), int(photo)))
            passing[copy, photo] = not (shown or also)
    true = passing[rows, originals]
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
    inputs, used, edited = [], [], []
    for number, row in enumerate(chosen):
        index, image = names[row]
        try:
            with open_rgb(settings.image_sets / index.set_name / image, settings.max_image_pixels) as photo:
                edited.append(apply_edit(kinds[number % len(kinds)], photo, seed + number))
                inputs.append(network_input(edited[-1]))
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
    two_photos, proven_copy = _verifier(settings, names, edited)
    recall, false_pairs, precision = score_copies(copies, photos, np.array(chosen), two_photos=two_photos,
                                                  proven_copy=proven_copy)
    new = _new_photo_estimate(settings, space, seed)
    calibration = Calibration(space.fingerprint, DEFAULT_THRESHOLDS.edited, len(chosen), len(names), recall,
                              false_pairs, precision, time.time(), new.searched if new else 0,
                              new.called if new else 0)
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
    _, calibration, has_space = _current_space(settings, cache)
    return has_space, calibration


def _current_space(settings: Settings, cache) -> tuple[CollectionSpace | None, Calibration | None, bool]:
    """(the space the estimate was measured in, else the first one; the estimate or None; whether there
    is a space at all)."""
    spaces = cache.duplicates_spaces(settings)
    for space in spaces.values():
        calibration = load_calibration(settings, space)
        if calibration is not None:
            return space, calibration, True
    first = next(iter(spaces.values()), None)
    return first, None, bool(spaces)


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
    # The duplicates space the scores are in (None: none, a collection under 20 images, or not known).
    space: CollectionSpace | None = None

    def sentence(self) -> str:
        """The estimate, or what is happening to it; then which space the scores are in (`space_sentence`)."""
        return f"{self.estimate_sentence()} {self.space_sentence()}".rstrip()

    def space_sentence(self) -> str:
        """Which duplicates space the scores are in and whether they will move (CollectionSpace.sentence);
        "" without one."""
        return self.space.sentence() if self.space is not None else ""

    def estimate_sentence(self) -> str:
        """The estimate of the threshold on the user's own photos, or what is happening to it."""
        if self.calibration is not None:
            space = self.space
            now = space.images_now if space is not None else 0
            # The space sentence that follows says how many photos there are now when it was learned on as
            # many as the estimate was measured on: said once.
            said_beside = space is not None and space.images == self.calibration.photos
            return self.calibration.sentence(now, now_said=said_beside)
        if self.state == "running":
            return ("How well this threshold works on your own photos is being estimated now (edited copies "
                    f"of {DEFAULT_SAMPLE} of them, in the background).")
        if self.state == "small":
            return "No estimate of this threshold on your own photos: fewer than 20 photos are indexed."
        return ("How well this threshold works on your own photos is not estimated yet: the app measures "
                "it after indexing, or run `simages duplicates SET --calibrate`.")

    def to_json(self) -> dict[str, Any]:
        """{"state", "sentence"} and, when measured, "precision", "recall", "copies", "photos",
        "threshold", "measured_at" (seconds since the epoch; NaN precision as null) and "new_photos"
        ({"searched", "called_copies", "rate"}: photos set aside and searched as new ones)."""
        body: dict[str, Any] = {"state": self.state, "sentence": self.sentence()}
        if self.space is not None:
            body["space"] = {"method": self.space.method, "learned_on": self.space.images,
                             "images_now": self.space.images_now or self.space.images}
        if self.calibration is not None:
            c = self.calibration
            body.update(precision=None if math.isnan(c.precision) else c.precision,
                        recall=None if math.isnan(c.recall) else c.recall, copies=c.copies,
                        photos=c.photos, false_pairs=c.false_pairs, threshold=c.threshold,
                        measured_at=c.measured_at)
            if c.new_searched:
                body["new_photos"] = {"searched": c.new_searched, "called_copies": c.new_called,
                                      "rate": c.new_rate}
        return body


def status(settings: Settings, cache) -> CalibrationStatus:
    """The estimate's status for the collection's current duplicates space (`cache`: a DescriptorCache)."""
    space, kept, has_space = _current_space(settings, cache)
    if kept is not None:
        return CalibrationStatus("measured", kept, space)
    if running(settings):
        return CalibrationStatus("running", space=space)
    return CalibrationStatus("absent" if has_space else "small", space=space)


def _new_photo_estimate(settings: Settings, space: CollectionSpace, seed: int) -> NewPhotoEstimate | None:
    """The collection's cross-validated new-photo estimate in the way `space` was learned (its copy pairs
    too), on at most the rows the learning and the search use; None when too small to tell."""
    from simages.copies.learned_space import load_pairs, pairs_path
    from simages.copies.new_photos import MAX_SET_ASIDE, estimate_new_photos
    from simages.copies.space import MAX_LEARNING_ROWS, _read_rows
    from simages.copies.verification import LocalFeatureCache, Verdict, verify_files

    blocks, files = [], []
    for set_name, path in _stores(settings):
        kind, rows = _read_rows(path)
        if kind == space.stored and rows is not None and len(rows):
            blocks.append(rows)
            files += _files_of(settings, set_name, path, len(rows))
    if not blocks:
        return None
    rows = np.concatenate(blocks)
    limit = MAX_LEARNING_ROWS + MAX_SET_ASIDE
    if len(rows) > limit:  # a million-image collection: a seeded draw is as good and fits in memory
        chosen = np.sort(np.random.default_rng(seed).choice(len(rows), limit, replace=False))
        rows, files = rows[chosen], [files[i] for i in chosen]
    pairs = load_pairs(pairs_path(settings, space.stored)) if space.method == "copy-whitening" else None
    local = LocalFeatureCache()

    def two_photos(i: int, j: int) -> bool:
        if files[i] is None or files[j] is None:
            return False
        return verify_files(files[i], files[j], local).verdict is Verdict.NOT_COPY

    def proven_copy(i: int, j: int) -> bool:  # verified once: the cache keeps the verdict
        if files[i] is None or files[j] is None:
            return False
        return verify_files(files[i], files[j], local).proves_copy

    return estimate_new_photos(space.stored, rows, len(blocks), pairs=pairs, seed=seed, two_photos=two_photos,
                               proven_copy=proven_copy)


def _verifier(settings: Settings, names: list, edited: list[Image.Image]
              ) -> tuple[Callable[[int, int], bool], Callable[[int, int], bool]]:
    """(two_photos, proven_copy)(copy row, photo row) for `score_copies`: the edited copy's and the
    photo's keypoints show two different photos, or prove one photo beyond doubt (names: (index, image) of
    each photo row). Each pair is verified once."""
    from simages.copies.verification import LocalFeatureCache, Verdict, Verification, local_features, verify

    local = LocalFeatureCache()
    features: dict[int, object] = {}
    verdicts: dict[tuple[int, int], Verification | None] = {}

    def verdict(copy: int, photo: int) -> Verification | None:
        if (copy, photo) not in verdicts:
            if copy not in features:
                features[copy] = local_features(edited[copy])
            index, image = names[photo]
            other = local.of_file(settings.image_sets / index.set_name / Path(*image.split("/")))
            verdicts[copy, photo] = None if other is None else verify(features[copy], other)
        return verdicts[copy, photo]

    def two_photos(copy: int, photo: int) -> bool:
        found = verdict(copy, photo)
        return found is not None and found.verdict is Verdict.NOT_COPY

    def proven_copy(copy: int, photo: int) -> bool:
        found = verdict(copy, photo)
        return found is not None and found.proves_copy

    return two_photos, proven_copy


def _files_of(settings: Settings, set_name: str, path: Path, count: int) -> list[Path | None]:
    """The image file of each row of a store (None for all when its names cannot be read)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            names = [str(name) for name in data["names"]]
    except (OSError, KeyError, ValueError, EOFError):
        return [None] * count
    if len(names) != count:
        return [None] * count
    return [settings.image_sets / set_name / Path(*name.split("/")) for name in names]


def _stores(settings: Settings) -> list[tuple[str, Path]]:
    from simages.copies.space import collection_stores

    return collection_stores(settings)


def _stored_kind(index) -> str:
    from simages.copies.space import stored_kind

    return stored_kind(index.descriptor, index.root)
