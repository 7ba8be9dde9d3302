"""The rows of `simages bench duplicates` for collections of a given size: are copies found, and are photos
that are *not* in the collection left alone, when the collection is small and full of look-alikes?

From the benchmark's descriptors (its labeled photos and their edited copies, computed once), each draw
builds a collection of N photos of few classes - one class up to 20 photos, three up to 45, five up to
150, all beyond - so that the photos that are not copies are look-alikes of the same kind. About a third
of it are photos that have edited copies. It is written as a real SIMages collection (image_sets/ with
links to the photos and features/ in a temporary folder), gets what the app makes in the background after
indexing (the synthetic edits its duplicates space is learned from, simages.copies.copy_pairs), and is
searched only through the product's own API (the duplicates intent of `DescriptorCache`, its collection
space, `duplicate_threshold` and the duplicate levels), so these rows follow whatever the default is (the
space each row was searched in is named beside it):

- each copy of a collection photo is a key searched in the collection (as `simages duplicates NEW COLL`
  and the triage do: no turned key): top-1, and the pairs of the edited or exact level - right when they
  link the copy to its original;
- "uploads": photos of the same classes that are not in the collection, searched as an upload is (as it
  is and turned by 90/180/270 degrees, simages.copies.turns): the share called a duplicate of something
  (a false duplicate), beside the same without the turned keys;
- "all other sets": a 150-photo collection split into one set per class, and a new set holding the copies
  and the uploads, answered by `simages duplicates NEW` against all of them (operations.duplicates).

Pair precision counts every pair of a copy at the duplicate levels that does not link it to its original
as false; the uploads have their own column (the share of them called a duplicate of anything), so the
pair figures do not depend on how many uploads a draw has.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simages.copies.edits import EDITS
from simages.copies.levels import is_duplicate, level_of
from simages.copies.verification import LocalFeatureCache, file_verifier
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.duplicates.exact import duplicate_threshold, level_thresholds
from simages.nearest.duplicates.plain_nearest import plain_nearest_matches
from simages.nearest.joins.join import key_join
from simages.nearest.sets.cache import DescriptorCache
from simages.operations.triage import PROMOTED
from simages.settings import Settings
from simages.store.npz_store import FeatureStore, save_store

SIZES = (20, 45, 150, 1000)
# Draws per size: small collections vary most from one draw to the next.
DRAWS = {20: 5, 45: 4, 150: 2}
ALL_OTHER_SETS_SIZE = 150
FLOORS = {"mild F1": 0.95, "strong F1": 0.85, "uploads": 0.02}


def pair_precision(true_pairs: int, false_pairs: int) -> float:
    """The share of returned pairs that are right (nan when none was returned)."""
    total = true_pairs + false_pairs
    return true_pairs / total if total else float("nan")


def f1_score(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall (0 when both are 0 or either is undefined)."""
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


@dataclass
class Counts:
    """True and false duplicate pairs, and the keys they come from."""

    true_pairs: int = 0
    false_pairs: int = 0
    keys: int = 0

    @property
    def precision(self) -> float:
        return pair_precision(self.true_pairs, self.false_pairs)

    @property
    def recall(self) -> float:
        return self.true_pairs / self.keys if self.keys else float("nan")

    @property
    def f1(self) -> float:
        return f1_score(self.precision, self.recall)


@dataclass
class CollectionRow:
    """One collection size over its draws: mild and strong copies, top-1, and uploads wrongly called
    duplicates (with and without the turned keys an upload is searched with)."""

    label: str
    size: int
    draws: int = 0
    mild: Counts = field(default_factory=Counts)
    strong: Counts = field(default_factory=Counts)
    top1: list[bool] = field(default_factory=list)
    uploads: int = 0
    uploads_false: int = 0
    uploads_false_unturned: int = 0
    # The same photos as new photos of a triage (upright, the nearest few verified below the threshold).
    uploads_false_triage: int = 0
    method: str = ""  # the duplicates space the last draw was searched in

    @property
    def upload_rate(self) -> float:
        return self.uploads_false / self.uploads if self.uploads else float("nan")

    @property
    def upload_rate_unturned(self) -> float:
        return self.uploads_false_unturned / self.uploads if self.uploads else float("nan")

    @property
    def upload_rate_triage(self) -> float:
        return self.uploads_false_triage / self.uploads if self.uploads else float("nan")


@dataclass(frozen=True)
class BenchVectors:
    """The benchmark's descriptors: the photos' store, the copies' store, each copy's original and kind,
    and, for each photo that may be uploaded, its descriptors turned by 0/90/180/270 degrees (4, d); the
    folders of the photos and copies (linked into each collection, so the app's background job can edit
    them), and the network that job describes them with (None: collections keep the plain whitening)."""

    photos: FeatureStore
    copies: FeatureStore
    truth: dict[str, str]
    kinds: dict[str, str]
    turned_uploads: dict[str, np.ndarray]
    photo_dir: Path | None = None
    copy_dir: Path | None = None
    network: Callable[[], Any] | None = None


def class_of(name: str) -> str:
    return name.split("/", 1)[0]


def upload_candidates(photo_names: Sequence[str], originals: set[str], per_class: int = 10) -> list[str]:
    """The photos kept out of every collection to be uploaded: the first `per_class` of each class that
    have no copies (their turned descriptors are computed once)."""
    chosen: dict[str, list[str]] = {}
    for name in sorted(photo_names):
        if name not in originals and len(chosen.setdefault(class_of(name), [])) < per_class:
            chosen[class_of(name)].append(name)
    return [name for names in chosen.values() for name in names]


def draw_collection(names: Sequence[str], originals: set[str], uploads: set[str], size: int,
                    rng: np.random.Generator) -> tuple[list[str], list[str]] | None:
    """(the collection's photos, the uploads of its classes) for one draw, or None when the photos are too
    few for `size` (a sample)."""
    classes = sorted({class_of(n) for n in names})
    wanted = 1 if size <= 20 else 3 if size <= 45 else 5 if size <= 150 else len(classes)
    if wanted > len(classes):
        return None
    chosen = set(rng.choice(classes, size=wanted, replace=False).tolist())
    pool = [n for n in names if class_of(n) in chosen and n not in uploads]
    if len(pool) < size:
        if wanted < len(classes) or len(pool) < 2:
            return None
        size = len(pool)  # every photo of the folder but the uploads (a 1,000-photo folder: 900)
    with_copies = [n for n in pool if n in originals]
    take = list(rng.choice(with_copies, size=min(len(with_copies), max(1, size // 3)), replace=False))
    rest = [n for n in pool if n not in set(take)]
    collection = take + list(rng.choice(rest, size=size - len(take), replace=False))
    return sorted(collection), sorted(n for n in uploads if class_of(n) in chosen)


def write_collection(root: Path, sets: dict[str, list[str]], store: FeatureStore,
                     files: Path | None = None) -> Settings:
    """A SIMages collection at `root`: one folder and one store per set, rows taken from `store`; with
    `files`, each image is a link to its file there (the app's background job edits them)."""
    settings = Settings(root=root)
    row = {name: number for number, name in enumerate(store.names)}
    for set_name, names in sets.items():
        (settings.image_sets / set_name).mkdir(parents=True, exist_ok=True)
        if files is not None:
            for name in names:
                link = settings.image_sets / set_name / name
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(files / name)
        rows = [row[n] for n in names]
        save_store(settings.store_path(set_name), FeatureStore(
            list(names), [store.fingerprints[r] for r in rows], store.vectors[rows], dict(store.meta)))
    return settings


def learn_as_the_app_does(settings: Settings, vectors: BenchVectors) -> None:
    """What the app does in the background after indexing (simages.jobs.worker): synthetic edits of a
    sample of the collection's photos, from which its duplicates space is learned (simages.copies
    .copy_pairs). Nothing without a network (the plain whitening is then measured)."""
    if vectors.network is None:
        return
    from simages.copies.copy_pairs import refresh_pairs

    refresh_pairs(settings, vectors.network)


def _copy_pairs(index, raw: np.ndarray, threshold: float, thresholds, key_file: Path | None = None,
                files: Callable[[str], Path] | None = None, local: LocalFeatureCache | None = None,
                promote: int = 0) -> list[tuple[str, float]]:
    """The collection images a key (raw stored-style vector) is a duplicate of, best first, and the score:
    the level as the product decides it (simages.copies.levels.level_of), its edited copies verified on
    the key's file `key_file` and each image's (`files`: collection image name -> file) keypoints; with
    `promote`, the key's `promote` nearest images (in the space and on the unwhitened vectors) are verified
    even below the threshold, as a triage of a new folder does (simages.copies.verification.PROMOTED)."""
    result = key_join(index, raw, QuerySpec("cosine", "range", threshold, False))
    matches = {m.image: m.score for m in result.matches}
    nearest = []
    if promote:
        near = key_join(index, raw, QuerySpec("cosine", "knn", promote, False)).matches
        # And the nearest on the unwhitened vectors, as the product picks them (plain_nearest).
        near = [*near, *(m for m in plain_nearest_matches(raw, index, "cosine", promote)
                         if m.image not in {n.image for n in near})]
        nearest = [m.image for m in near]
        for m in near:
            matches.setdefault(m.image, m.score)
    found = []
    for image, score in sorted(matches.items(), key=lambda item: -item[1]):
        verified = None
        if key_file is not None and files is not None:
            verified = file_verifier(key_file, files(image), local)
        level = level_of(score, thresholds=thresholds, verified=verified, promote=image in nearest)
        if is_duplicate(level):
            found.append((image, score))
    return found


def file_of(folder: Path | None, name: str) -> Path | None:
    """`folder / name`, None without a folder (vectors given without their files)."""
    return None if folder is None else folder / name


def collection_rows(vectors: BenchVectors, sizes: Sequence[int] = SIZES, seed: int = 0
                    ) -> list[CollectionRow]:
    """Each size's row (sizes the photos cannot fill are left out)."""
    photo_names = list(vectors.photos.names)
    originals = set(vectors.truth.values())
    uploads = set(vectors.turned_uploads)
    copy_row = {name: number for number, name in enumerate(vectors.copies.names)}
    copies_of: dict[str, list[str]] = {}
    for copy, original in vectors.truth.items():
        copies_of.setdefault(original, []).append(copy)
    rows = []
    for size in sizes:
        rng = np.random.default_rng(seed + size)
        row = CollectionRow(f"collection of {size}", size)
        for _ in range(DRAWS.get(size, 1)):
            drawn = draw_collection(photo_names, originals, uploads, size, rng)
            if drawn is None:
                break
            collection, uploaded = drawn
            if len(collection) != size:  # all the folder's photos but the uploads
                row.label = f"collection of {len(collection)} (all but the uploads)"
            with tempfile.TemporaryDirectory(prefix="simages-collection-") as tmp:
                settings = write_collection(Path(tmp), {"coll": collection}, vectors.photos,
                                            vectors.photo_dir)
                learn_as_the_app_does(settings, vectors)
                cache = DescriptorCache()
                index = cache.get(settings, "coll", DUPLICATES)
                row.method = space_method(settings, cache)
                threshold = duplicate_threshold("cosine", index)
                thresholds = level_thresholds(index)
                local = LocalFeatureCache(capacity=len(collection) + 8)
                files = None if vectors.photo_dir is None else (lambda name: vectors.photo_dir / name)

                for original in collection:
                    for copy in copies_of.get(original, []):
                        raw = vectors.copies.vectors[copy_row[copy]]
                        found = _copy_pairs(index, raw, threshold, thresholds,
                                            file_of(vectors.copy_dir, copy), files, local, PROMOTED)
                        counts = row.mild if vectors.kinds[copy] in EDITS else row.strong
                        counts.keys += 1
                        hit = any(image == original for image, _ in found)
                        counts.true_pairs += hit
                        counts.false_pairs += len(found) - hit
                        best = key_join(index, raw, QuerySpec("cosine", "knn", 1, False))
                        row.top1.append(bool(best.matches) and best.matches[0].image == original)
                for upload in uploaded:
                    turned = [_copy_pairs(index, raw, threshold, thresholds,
                                          file_of(vectors.photo_dir, upload), files, local)
                              for raw in vectors.turned_uploads[upload]]
                    row.uploads += 1
                    row.uploads_false += any(turned)
                    row.uploads_false_unturned += bool(turned[0])
                    row.uploads_false_triage += bool(_copy_pairs(
                        index, vectors.turned_uploads[upload][0], threshold, thresholds,
                        file_of(vectors.photo_dir, upload), files, local, PROMOTED))
            row.draws += 1
        if row.draws:
            rows.append(row)
    return rows


def all_other_sets_row(vectors: BenchVectors, size: int = ALL_OTHER_SETS_SIZE, seed: int = 0
                       ) -> CollectionRow | None:
    """A collection of `size` photos split into one set per class, and a new set of its photos' copies and
    the uploads of its classes, answered by `simages duplicates new` against every other set (no turned
    keys: sets are compared as indexed). None when the photos are too few."""
    from simages.operations.duplicates import DuplicatesRequest, run_duplicates

    drawn = draw_collection(list(vectors.photos.names), set(vectors.truth.values()),
                            set(vectors.turned_uploads), size, np.random.default_rng(seed + 7))
    if drawn is None:
        return None
    collection, uploaded = drawn
    by_class: dict[str, list[str]] = {}
    for name in collection:
        by_class.setdefault(f"class-{class_of(name)}", []).append(name)
    copies = [c for c, original in vectors.truth.items() if original in set(collection)]
    new_store = FeatureStore(
        [*copies, *uploaded],
        [*(vectors.copies.fingerprints[vectors.copies.names.index(c)] for c in copies),
         *(vectors.photos.fingerprints[vectors.photos.names.index(u)] for u in uploaded)],
        np.vstack([vectors.copies.vectors[[vectors.copies.names.index(c) for c in copies]],
                   vectors.photos.vectors[[vectors.photos.names.index(u) for u in uploaded]]]),
        dict(vectors.photos.meta))
    row = CollectionRow(f"all other sets ({len(by_class)} sets, {size} photos)", size, draws=1)
    with tempfile.TemporaryDirectory(prefix="simages-collection-") as tmp:
        settings = write_collection(Path(tmp), by_class, vectors.photos, vectors.photo_dir)
        (settings.image_sets / "new").mkdir(parents=True)
        if vectors.copy_dir is not None and vectors.photo_dir is not None:
            for name in copies:
                (settings.image_sets / "new" / name).parent.mkdir(parents=True, exist_ok=True)
                (settings.image_sets / "new" / name).symlink_to(vectors.copy_dir / name)
            for name in uploaded:
                (settings.image_sets / "new" / name).parent.mkdir(parents=True, exist_ok=True)
                (settings.image_sets / "new" / name).symlink_to(vectors.photo_dir / name)
        save_store(settings.store_path("new"), new_store)
        learn_as_the_app_does(settings, vectors)
        cache = DescriptorCache()
        answer = run_duplicates(DuplicatesRequest(("new", *sorted(by_class))), settings, cache)
        method = space_method(settings, cache)
    pairs = [(p.a.split("/", 1)[1], p.b.split("/", 1)[1]) for number, p in enumerate(answer.report.pairs)
             if is_duplicate(answer.report.level(number))]
    called = {a for a, _ in pairs}
    for copy in copies:
        counts = row.mild if vectors.kinds[copy] in EDITS else row.strong
        counts.keys += 1
    for a, b in pairs:
        if a in vectors.truth:
            counts = row.mild if vectors.kinds[a] in EDITS else row.strong
            right = vectors.truth[a] == b
            counts.true_pairs += right
            counts.false_pairs += not right

    row.method = method
    row.uploads = len(uploaded)
    # `simages duplicates new` verifies each new photo's nearest as triage does: one answer for all three.
    row.uploads_false = row.uploads_false_unturned = row.uploads_false_triage = sum(
        1 for u in uploaded if u in called)
    return row


def space_method(settings: Settings, cache: DescriptorCache) -> str:
    """The kind of duplicates space the collection is searched in: "copy-whitening" (learned from edited
    copies too), "whitening", or "unwhitened" (under 20 images)."""
    spaces = cache.duplicates_spaces(settings)
    return str(getattr(next(iter(spaces.values())), "method", "whitening")) if spaces else "unwhitened"


def print_collection_rows(rows: Sequence[CollectionRow]) -> None:
    """The table: per collection, mild and strong pair precision / recall / F1, top-1, and uploads called
    duplicates (as searched with the turned key, and without), beside the issue's floors."""
    if not rows:
        return
    print("Collections whose other photos are look-alikes of the same kind (the product's duplicates "
          "intent and levels;\ncopies searched as a new folder is, uploads of photos not in the collection "
          f"as an upload is; floors: mild F1 >= {FLOORS['mild F1']}, strong F1 >= {FLOORS['strong F1']}, "
          f"uploads <= {FLOORS['uploads']:.0%})")
    width = max(len(r.label) + (len(r.method) + 3 if r.method else 0) for r in rows)
    print(f"{'collection':<{width}}  {'draws':>5}  {'mild P':>6}  {'R':>5}  {'F1':>5}  {'strong P':>8}  "
          f"{'R':>5}  {'F1':>5}  {'top-1':>5}  {'uploads called dup.':>19}  {'(unturned)':>10}  "
          f"{'(in a triage)':>13}")
    for row in rows:
        top1 = float(np.mean(row.top1)) if row.top1 else float("nan")
        label = f"{row.label} [{row.method}]" if row.method else row.label
        strong = (f"{row.strong.precision:8.3f}  {row.strong.recall:5.3f}  {row.strong.f1:5.3f}"
                  if row.strong.keys else f"{'-':>8}  {'-':>5}  {'-':>5}")
        uploads = f"{row.uploads_false}/{row.uploads} = {row.upload_rate:.1%}" if row.uploads else "-"
        unturned = f"{row.upload_rate_unturned:.1%}" if row.uploads else "-"
        triage = f"{row.upload_rate_triage:.1%}" if row.uploads else "-"
        print(f"{label:<{width}}  {row.draws:>5}  {row.mild.precision:6.3f}  {row.mild.recall:5.3f}  "
              f"{row.mild.f1:5.3f}  {strong}  {top1:5.3f}  {uploads:>19}  {unturned:>10}  {triage:>13}")
    print("(strong columns are empty without --strong; the all-other-sets row compares sets as indexed, so "
          "its uploads are not turned and it has no top-1)\n")
