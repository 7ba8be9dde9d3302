"""`simages bench duplicates`: are edited copies found? Near-duplicate retrieval and the duplicate threshold.

Built from a labeled photo folder (Corel-1k by default): `--per-class` photos of each class get edited
copies (simages.copies.edits: resized, re-encoded, cropped, mirrored, brightened, rotated, grayscale,
watermarked, noisy, letterboxed), written to a temporary folder and indexed there; by default each chosen
photo gets one kind of edit in turn (20 per class: 200 copies, 20 per kind), `--all-edits` gives every
photo all ten. Each copy is a key searched among all the photos of the folder (`--searched-per-class`
limits them, for a quick sample). Printed, for each descriptor setting considered:

- top-1 (the copy's original ranks first) and recall@5 (it is among the first five), overall and per edit;
- precision, recall and F1 of the pairs a threshold join of the copies against the photos returns, where a
  pair is right when it links a copy to its original: the duplicates intent at its default threshold, the
  similar intent at the old default range threshold (the set's top 1% of pairs);
- the perceptual-hash baseline computed in the same run (`imagehash` PHash and DHash, ranked by Hamming
  distance, pairs at imagededup's documented default distance of 10), when imagehash is installed;
- the score distributions behind the duplicate threshold (distinct photos versus edited copies).

The folder's own descriptors are kept in features/.bench (a second run computes no photo again); the
copies are computed every run.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simages.bench.duplicate_collections import (
    ALL_OTHER_SETS_SIZE,
    SIZES,
    BenchVectors,
    all_other_sets_row,
    collection_rows,
    draw_collection,
    f1_score,
    pair_precision,
    print_collection_rows,
    upload_candidates,
)
from simages.bench.duplicate_copies import EditedCopy, choose_originals, write_copies
from simages.bench.extract_common import default_corel
from simages.copies.edits import EDITS, STRONG_EDITS
from simages.copies.levels import is_duplicate
from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR, DescriptorSpec
from simages.nearest.core.distribution import default_threshold, key_threshold
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import duplicate_pairs, duplicate_threshold, find_duplicates
from simages.nearest.joins.join import iter_set_join, key_join
from simages.settings import Settings
from simages.store.npz_store import FeatureStore, load_store
from simages.store.scan import scan_set

TOP_K = 5
# imagededup's documented default for its hashing methods: duplicates within this Hamming distance (of 64).
HASH_DISTANCE = 10
FLOORS = {"top-1": 0.97, "recall@5": 0.99, "F1": 0.85}


@dataclass(frozen=True)
class Setting:
    """One way of scoring considered: a label, the descriptor applied to the stored `gap+l2` vectors, and
    whether query expansion is on."""

    label: str
    descriptor: DescriptorSpec
    expand: bool = True


def settings_considered(stored: DescriptorSpec = DEFAULT_DESCRIPTOR) -> list[Setting]:
    duplicates = DUPLICATES.descriptor(stored)
    base = DescriptorSpec.parse(stored.extraction_key())
    return [
        Setting(f"duplicates intent ({duplicates.key()}), the default for duplicates", duplicates),
        Setting(f"similar intent ({stored.key()}), the default for similar images", stored),
        Setting(f"similar intent, expansion off ({stored.key()} --no-expansion)", stored, expand=False),
        Setting(f"stored vectors as they are ({base.key()})", base),
        Setting(f"whitened without square root ({base.with_(whiten=True).key()})", base.with_(whiten=True)),
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None, help="labeled photo folder (default: Corel-1k)")
    parser.add_argument("--per-class", type=int, default=20, help="photos per class that get copies (20)")
    parser.add_argument("--all-edits", action="store_true",
                        help="every chosen photo gets all ten edits (default: one edit each, in turn)")
    parser.add_argument("--searched-per-class", type=int, default=None,
                        help="search only this many photos per class (the originals among them); default all")
    parser.add_argument("--strong", action="store_true",
                        help="also the strong edits of copy-detection benchmarks (turns, half crops, "
                             "borders, captions, screenshots, collages, blur, thumbnails, JPEG q10, "
                             "perspective, stickers, chains: copies/edits.STRONG_EDITS), 27 kinds in turn")
    parser.add_argument("--no-hash", action="store_true", help="leave out the perceptual-hash baseline")
    parser.add_argument("--no-copy-space", action="store_true",
                        help="leave out the copy space (the app's duplicates space once it has indexed: "
                             "learned from 4 edits each of 300 of the searched photos, 1,200 more network "
                             "passes; simages.copies.learned_space), here and in the collection rows (which "
                             "then keep the plain whitening)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed of the photos chosen and their edits (default 0)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="collections of these many photos whose other photos are look-alikes of the "
                             "same kind, with uploads of photos not in them (default 20,45,150,1000; sizes "
                             "the photos cannot fill are left out); 'none' for none")
    parser.add_argument("--uploads-per-class", type=int, default=10,
                        help="photos per class kept out of the collections and uploaded (default 10)")
    parser.add_argument("--app-page", action="store_true",
                        help="also time the first page of a 10,000-image duplicates self-join in the app "
                             "(simages bench join, in Chromium)")


@dataclass
class RankReport:
    label: str
    ranks: np.ndarray  # rank of each copy's original (0 = first; TOP_K or more = not in the first TOP_K)
    kinds: np.ndarray

    def top1(self, kind: str | None = None) -> float:
        ranks = self.ranks if kind is None else self.ranks[self.kinds == kind]
        return float(np.mean(ranks == 0)) if len(ranks) else float("nan")

    def recall(self, kind: str | None = None) -> float:
        ranks = self.ranks if kind is None else self.ranks[self.kinds == kind]
        return float(np.mean(ranks < TOP_K)) if len(ranks) else float("nan")


@dataclass
class PairReport:
    label: str
    threshold: str
    true_pairs: int
    false_pairs: int
    copies: int
    found: dict[str, list[bool]]  # per kind: whether each copy's pair with its original was returned

    @property
    def precision(self) -> float:
        return pair_precision(self.true_pairs, self.false_pairs)

    @property
    def recall(self) -> float:
        return self.true_pairs / self.copies if self.copies else float("nan")

    @property
    def f1(self) -> float:
        return f1_score(self.precision, self.recall)


def bench_store_path(settings: Settings, folder: Path) -> Path:
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    return settings.features / ".bench" / f"dups-{folder.name or 'root'}-{digest}.npz"


def _index(folder: Path, store_path: Path, settings: Settings, network_factory) -> FeatureStore:
    from simages.jobs.indexer import index_folder

    summary = index_folder(folder, store_path, settings, network_factory=network_factory)
    if summary.unreadable:
        print(f"  {len(summary.unreadable)} unreadable images left out of {folder}")
    return load_store(store_path)


def searched_names(source: Path, originals: Sequence[str], per_class: int | None, seed: int) -> list[str]:
    """The photos searched: all those in class folders, or `per_class` per class including the originals."""
    names = [n for n in scan_set(source, source.parent).files if "/" in n]
    if per_class is None:
        return names
    rng = np.random.default_rng(seed + 1)
    by_class: dict[str, list[str]] = {}
    for name in names:
        by_class.setdefault(name.split("/", 1)[0], []).append(name)
    chosen = set(originals)
    for names in by_class.values():
        others = [n for n in names if n not in chosen]
        room = max(0, per_class - sum(1 for n in names if n in chosen))
        chosen.update(others[i] for i in rng.choice(len(others), min(room, len(others)), replace=False))
    return sorted(chosen)


def rank_report(label: str, copies: SetIndex, photos: SetIndex, truth: dict[str, str],
                kinds: dict[str, str], expand: bool) -> RankReport:
    spec = QuerySpec("cosine", "knn", TOP_K, expand)
    ranks, kind_of = [], []
    for copy, matches in iter_set_join(copies, photos, spec):
        names = [m.image for m in matches]
        ranks.append(names.index(truth[copy]) if truth[copy] in names else TOP_K)
        kind_of.append(kinds[copy])
    return RankReport(label, np.array(ranks), np.array(kind_of))


def pair_report(label: str, threshold: str, pairs: Sequence[tuple[str, str]], truth: dict[str, str],
                kinds: dict[str, str]) -> PairReport:
    right = {(copy, original) for copy, original in truth.items()}
    returned = set(pairs)
    found: dict[str, list[bool]] = {}
    for copy, original in truth.items():
        found.setdefault(kinds[copy], []).append((copy, original) in returned)
    true_pairs = len(returned & right)
    return PairReport(label, threshold, true_pairs, len(returned) - true_pairs, len(truth), found)


def copy_space_reports(photos_store: FeatureStore, copy_store: FeatureStore, source: Path,
                       stored: DescriptorSpec, settings: Settings, network, truth: dict[str, str],
                       kinds: dict[str, str], copies_dir: Path | None = None
                       ) -> tuple[RankReport, PairReport]:
    """Top-1 and pairs at the duplicate threshold in the copy space the app learns after indexing
    (simages.copies.copy_pairs, learned_space): edits of a seeded sample of the searched photos, learned
    with them, the searched photos as the collection."""
    from simages.copies.copy_pairs import make_pairs
    from simages.copies.space import learn_space

    started = time.monotonic()
    key = stored.extraction_key()
    rows = [(source / name, vector)
            for name, vector in zip(photos_store.names, photos_store.vectors, strict=True)]
    pairs = make_pairs(settings, key, rows, network)
    space = learn_space(key, photos_store.vectors, 1, pairs=pairs)
    if space is None:
        raise ValueError("too few photos to learn a copy space from")
    duplicates = DUPLICATES.descriptor(stored)
    photos = SetIndex.from_store("photos", photos_store, descriptor=duplicates, whitening=space.whitening)
    copies = SetIndex.from_store("copies", copy_store, descriptor=duplicates, whitening=space.whitening)
    label = (f"duplicates intent, copy space ({space.method}, {space.whitening.projection.shape[1]} "
             f"directions, from {len(pairs.edits) if pairs else 0} edited copies)")
    took = time.monotonic() - started
    print(f"copy space: {label.split('(', 1)[1][:-1]}, made and learned in {took:.0f} s", flush=True)
    ranks = rank_report(label, copies, photos, truth, kinds, False)
    threshold = duplicate_threshold("cosine", photos)
    found = verified_pairs(copies, photos, threshold, source, copies_dir)
    return ranks, pair_report(label, f"cosine >= {threshold:g}, verified", found, truth, kinds)


def verified_pairs(copies: SetIndex, photos: SetIndex, threshold: float, source: Path,
                   copies_dir: Path | None) -> list[tuple[str, str]]:
    """The (copy, photo) names `simages duplicates copies photos` calls copies: the pairs at `threshold`
    and each copy's nearest photos, at their level with their files (exact for the same pixels, edited
    when the keypoints do not show two photos or prove a copy below the threshold:
    simages.nearest.duplicates.exact.find_duplicates); the pairs at the threshold without the copies'
    folder."""
    if copies_dir is None:
        scored = duplicate_pairs(copies, photos, threshold)
        return [(p.a.split("/", 1)[1], p.b.split("/", 1)[1]) for p in scored]

    def file_of(name: str) -> Path:
        folder, _, image = name.partition("/")
        return (copies_dir if folder == "copies" else source) / image

    report = find_duplicates([copies, photos], threshold, "cosine", file_of)
    return [(p.a.split("/", 1)[1], p.b.split("/", 1)[1])
            for number, p in enumerate(report.pairs) if is_duplicate(report.level(number))]


def hash_reports(source: Path, photo_names: Sequence[str], copies_dir: Path, copies: Sequence[EditedCopy],
                 truth: dict[str, str], kinds: dict[str, str]) -> tuple[list[RankReport], list[PairReport]]:
    import imagehash
    from PIL import Image

    def hashes(folder: Path, names: Sequence[str], method) -> np.ndarray:
        bits = []
        for name in names:
            with Image.open(folder / name) as image:
                bits.append(np.asarray(method(image).hash, dtype=bool).ravel())
        return np.array(bits)

    copy_names = [c.copy for c in copies]
    order = np.argsort(np.array(photo_names, dtype=object))
    name_rank = np.empty(len(photo_names), np.int64)
    name_rank[order] = np.arange(len(photo_names))
    ranks_out, pairs_out = [], []
    for label, method in (("PHash (imagehash)", imagehash.phash), ("DHash (imagehash)", imagehash.dhash)):
        photos = hashes(source, photo_names, method)
        keys = hashes(copies_dir, copy_names, method)
        distance = (keys[:, None, :] != photos[None, :, :]).sum(axis=2)
        ranks = []
        position = {n: i for i, n in enumerate(photo_names)}
        for i, copy in enumerate(copy_names):
            best = np.lexsort((name_rank, distance[i]))[:TOP_K]
            target = position[truth[copy]]
            hit = np.flatnonzero(best == target)
            ranks.append(int(hit[0]) if len(hit) else TOP_K)
        ranks_out.append(RankReport(label, np.array(ranks), np.array([kinds[c] for c in copy_names])))
        rows, cols = np.nonzero(distance <= HASH_DISTANCE)
        pairs = [(copy_names[r], photo_names[c]) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]
        pairs_out.append(pair_report(label, f"Hamming <= {HASH_DISTANCE}", pairs, truth, kinds))
    return ranks_out, pairs_out


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    from simages.extraction.describe import network_for

    source = (args.data or default_corel()).resolve()
    if not source.is_dir():
        print(f"simages: error: no photo folder at {source} (give one with --data)")
        return 2
    message = settings.check_weights()
    if message:
        print(f"simages: error: {message}")
        return 2
    try:
        wanted_sizes = parse_sizes(args.sizes)
    except ValueError as error:
        print(f"simages: error: {error}")
        return 2
    stored = DEFAULT_DESCRIPTOR
    index_settings = settings.with_(descriptor=stored)
    network = None

    def shared_network():
        nonlocal network
        network = network or network_for(settings.weights, settings.model_cache)
        return network

    started = time.monotonic()
    originals = choose_originals(source, args.per_class, args.seed)
    photo_names = searched_names(source, originals, args.searched_per_class, args.seed)
    print(f"photos: {source} ({len(originals)} chosen for copies, {args.per_class} per class; "
          f"{len(photo_names)} searched)", flush=True)
    kinds_cycle = edit_kinds(args.strong)
    with tempfile.TemporaryDirectory(prefix="simages-dups-") as tmp:
        if args.searched_per_class is None:
            photos_store = _index(source, bench_store_path(settings, source), index_settings, shared_network)
        else:  # a sample: only its photos are indexed, in the temporary folder
            sample = Path(tmp) / "photos"
            for name in photo_names:
                (sample / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / name, sample / name)
            photos_store = _index(sample, Path(tmp) / "photos.npz", index_settings, shared_network)
        photo_names = list(photos_store.names)
        copies_dir = Path(tmp) / "copies"
        if args.all_edits:
            copies = write_copies(source, originals, copies_dir, kinds_cycle, args.seed)
        else:
            copies = []
            for number, original in enumerate(originals):
                kind = kinds_cycle[number % len(kinds_cycle)]
                copies += write_copies(source, [original], copies_dir, [kind], args.seed + number)
        print(f"copies: {len(copies)} edited copies written to a temporary folder; indexing them...",
              flush=True)
        indexing_started = time.perf_counter()
        copy_store = _index(copies_dir, Path(tmp) / "copies.npz", index_settings, shared_network)
        indexing = (time.perf_counter() - indexing_started, len(copy_store))
        truth = {c.copy: c.original for c in copies if c.copy in set(copy_store.names)}
        kinds = {c.copy: c.kind for c in copies}
        print(f"descriptors ready after {time.monotonic() - started:.0f} s\n")
        rank_rows, pair_rows = [], []
        for setting in settings_considered(stored):
            photos = SetIndex.from_store("photos", photos_store, descriptor=setting.descriptor)
            keys = SetIndex.from_store("copies", copy_store, descriptor=setting.descriptor)
            rank_rows.append(rank_report(setting.label, keys, photos, truth, kinds, setting.expand))
        duplicates = DUPLICATES.descriptor(stored)
        duplicates_photos = SetIndex.from_store("photos", photos_store, descriptor=duplicates)
        duplicates_copies = SetIndex.from_store("copies", copy_store, descriptor=duplicates)
        threshold = duplicate_threshold("cosine", duplicates_photos)
        scored = duplicate_pairs(duplicates_copies, duplicates_photos, threshold)
        pairs = [(p.a.split("/", 1)[1], p.b.split("/", 1)[1]) for p in scored]
        pair_rows.append(pair_report("duplicates intent, default threshold, score alone",
                                     f"cosine >= {threshold:g}", pairs, truth, kinds))
        pair_rows.append(pair_report("duplicates intent, default threshold", f"cosine >= {threshold:g}, "
                                     "verified", verified_pairs(duplicates_copies, duplicates_photos,
                                                                threshold, source, copies_dir),
                                     truth, kinds))
        if not args.no_copy_space:
            copy_ranks, copy_pairs = copy_space_reports(photos_store, copy_store, source, stored, settings,
                                                        shared_network, truth, kinds, copies_dir)
            rank_rows.insert(0, copy_ranks)
            pair_rows.insert(0, copy_pairs)
        similar_photos = SetIndex.from_store("photos", photos_store)
        similar_copies = SetIndex.from_store("copies", copy_store)
        old = default_threshold(similar_photos, "cosine")
        spec = QuerySpec("cosine", "range", old)
        old_pairs = [(a, m.image) for a, matches in iter_set_join(similar_copies, similar_photos, spec)
                     for m in matches]
        pair_rows.append(pair_report("similar intent, set's top-1% threshold", f"cosine >= {old:.3f}",
                                     old_pairs, truth, kinds))
        if not args.no_hash:
            try:
                hash_ranks, hash_pairs = hash_reports(source, photo_names, copies_dir, copies, truth, kinds)
                rank_rows += hash_ranks
                pair_rows += hash_pairs
            except ImportError:
                print("(imagehash is not installed: pip install 'simages[bench]' for the hash baseline)\n")
        print_ranks(rank_rows, kinds_cycle)
        print_pairs(pair_rows, kinds_cycle)
        if args.strong:
            print_mild_and_strong(rank_rows[0], pair_rows[0])
        print_distributions(duplicates_photos, duplicates_copies, truth, kinds, threshold)
        print_suggested(similar_photos)
        uploads = upload_candidates(photo_names, set(originals), args.uploads_per_class)
        # Sizes the photos can fill (a sample cannot fill a 1,000-photo collection): said, then left out.
        sizes = [size for size in wanted_sizes if draw_collection(
            photo_names, set(originals), set(uploads), size, np.random.default_rng(0)) is not None]
        left_out = sorted(set(wanted_sizes) - set(sizes))
        if left_out:
            print(f"\n(collections of {', '.join(map(str, left_out))} photos left out: these photos cannot "
                  "fill them)")
        if sizes:
            print(f"\nDescribing {len(uploads)} photos kept out of the collections, as uploads are (turned "
                  "0/90/180/270 degrees)...", flush=True)
            source_of = sample if args.searched_per_class is not None else source
            vectors = BenchVectors(photos_store, copy_store, truth, kinds,
                                   turned_descriptors(source_of, uploads, shared_network(), stored),
                                   source_of, copies_dir, None if args.no_copy_space else shared_network)
            rows = collection_rows(vectors, sizes, args.seed)
            other_sets = all_other_sets_row(vectors, min(ALL_OTHER_SETS_SIZE, max(sizes)), args.seed)
            print_collection_rows(rows + ([other_sets] if other_sets is not None else []))
        print_cost(indexing, duplicates_photos, similar_photos, duplicates_copies)
    took = time.monotonic() - started
    print(f"\nThis run took {took:.0f} s (wall time; it depends on the machine's load).")
    if args.app_page:
        from simages.bench import join_bench

        print("\nThe app: first page of a 10,000 x 10,000 duplicates self-join (simages bench join)")
        return join_bench.run_bench(argparse.Namespace(images=10_000, threshold=None, no_browser=False),
                                    settings)
    return 0


def parse_sizes(text: str) -> list[int]:
    """The collection sizes of --sizes ("none": no collection rows). ValueError for another word."""
    if text.strip().lower() == "none":
        return []
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--sizes: give photo counts such as 20,45,150 (or none), not {text!r}") from None
    if any(size < 2 for size in sizes):
        raise ValueError("--sizes: each collection needs at least 2 photos")
    return sizes


def turned_descriptors(source: Path, names: Sequence[str], network, stored: DescriptorSpec
                       ) -> dict[str, np.ndarray]:
    """Each photo's descriptors (4, d) as it is and turned by 90/180/270 degrees, described as an upload
    is (simages.copies.turns), in batches of 8 photos."""
    from simages.copies.turns import stack_inputs, turned
    from simages.extraction.describe import describe_images
    from simages.extraction.images import open_rgb

    found: dict[str, np.ndarray] = {}
    for start in range(0, len(names), 8):
        batch = names[start:start + 8]
        inputs = []
        for name in batch:
            with open_rgb(source / name) as image:
                inputs.append(stack_inputs(turned(image)))
        rows = describe_images(network, np.concatenate(inputs), stored)
        for number, name in enumerate(batch):
            found[name] = np.asarray(rows[4 * number: 4 * number + 4], np.float32)
    return found


def print_cost(indexing: tuple[float, int], duplicates: SetIndex, similar: SetIndex, keys: SetIndex) -> None:
    """Indexing and query time per 1,000 photos, measured in this run, with the CPU and load beside them:
    the duplicates intent's query against the similar intent's on the same photos."""
    import os

    from simages.bench.join_bench import cpu_name

    seconds, count = indexing
    raw = np.array([keys.raw_vector(name) for name in keys.names[:200]])
    times = {}
    for label, index in (("duplicates", duplicates), ("similar", similar)):
        spec = QuerySpec("cosine", "knn", 10, label == "similar")
        began = time.perf_counter()
        for row in raw:
            key_join(index, row, spec)
        times[label] = (time.perf_counter() - began) / len(raw)
    load = os.getloadavg()[0]
    print(f"Cost ({cpu_name()}, load average {load:.1f}; wall times):")
    same = DEFAULT_DESCRIPTOR.extraction_key() == "gap+l2"
    ratio = ("the same stored vectors as the previous default (gap+l2): ratio 1.00" if same else
             "other stored vectors than the previous default (gap+l2): `simages bench extract` compares them")
    print(f"  indexing with the default descriptor ({DEFAULT_DESCRIPTOR.key()}): "
          f"{1000 * seconds / max(count, 1):.0f} s per 1,000 photos ({count} copies in {seconds:.0f} s, "
          f"network load included); {ratio}")
    per_thousand = {label: 1000 * seconds * 1000 / len(duplicates) for label, seconds in times.items()}
    print(f"  query of one key (kNN-10) against {len(duplicates):,} photos, per 1,000 photos searched: "
          f"duplicates intent {per_thousand['duplicates']:.2f} ms, similar intent "
          f"{per_thousand['similar']:.2f} ms (ratio {times['duplicates'] / times['similar']:.2f})")


def edit_kinds(strong: bool) -> list[str]:
    """The kinds of edit the copies get in turn: the ten mild ones, and with `strong` the strong ones."""
    kinds = list(EDITS)
    return kinds + [kind for kind in STRONG_EDITS if kind not in EDITS] if strong else kinds


def print_mild_and_strong(ranks: RankReport, pairs: PairReport) -> None:
    """Top-1 and recall at the threshold of the mild and of the strong edits apart, beside the issue's
    floors (mild top-1 >= 0.99; strong top-1 >= 0.90)."""
    for name, kinds, floor in (("mild", list(EDITS), 0.99),
                               ("strong", [k for k in STRONG_EDITS if k not in EDITS], 0.90)):
        chosen = np.isin(ranks.kinds, kinds)
        top1 = float(np.mean(ranks.ranks[chosen] == 0)) if chosen.any() else float("nan")
        found = [hit for kind in kinds for hit in pairs.found.get(kind, [])]
        recall = float(np.mean(found)) if found else float("nan")
        print(f"{name} edits ({ranks.label.split(' (')[0]}): top-1 {top1:.3f} (floor {floor}), "
              f"recall at the default threshold {recall:.3f}")
    print()


def print_ranks(rows: Sequence[RankReport], kinds: Sequence[str] = tuple(EDITS)) -> None:
    print(f"Near-duplicate retrieval: each copy searched among the photos; top-1 and recall@{TOP_K} "
          f"(floors with the defaults: top-1 >= {FLOORS['top-1']}, recall@5 >= {FLOORS['recall@5']})")
    width = max(len(r.label) for r in rows)
    print(f"{'setting':<{width}}  {'top-1':>6}  {'R@5':>6}  " + "  ".join(f"{k[:7]:>7}" for k in kinds))
    for row in rows:
        per_kind = "  ".join(f"{row.top1(k):7.3f}" for k in kinds)
        print(f"{row.label:<{width}}  {row.top1():6.3f}  {row.recall():6.3f}  {per_kind}")
    print("(per-kind columns: top-1 of the copies with that edit)\n")


def print_pairs(rows: Sequence[PairReport], kinds: Sequence[str] = tuple(EDITS)) -> None:
    print("Duplicate pairs of a threshold join, copies x photos (a pair is right when it links a copy to "
          f"its original; floor F1 >= {FLOORS['F1']} with the default threshold)")
    width = max(len(r.label) for r in rows)
    head = f"{'method':<{width}}  {'threshold':>16}  {'pairs':>7}  {'P':>5}  {'R':>5}  {'F1':>5}  "
    print(head + "  ".join(f"{k[:7]:>7}" for k in kinds))
    for row in rows:
        per_kind = "  ".join(f"{np.mean(row.found.get(k, [np.nan])):7.3f}" for k in kinds)
        pairs = row.true_pairs + row.false_pairs
        print(f"{row.label:<{width}}  {row.threshold:>16}  {pairs:>7}  {row.precision:5.3f}  "
              f"{row.recall:5.3f}  {row.f1:5.3f}  {per_kind}")
    print("(per-kind columns: recall of the copies with that edit)\n")


def print_suggested(photos: SetIndex) -> None:
    """How many images the range threshold proposed on the results page lets through, every photo a key
    (leave-one-out), per key (`key_threshold`) and set-wide (`default_threshold`, the old suggestion)."""
    print(f"\nSuggested range threshold of the results page, every one of the {len(photos)} photos a key "
          f"({photos.applied}): share of keys that get 1 to 50 results")
    for metric in ("cosine", "euclidean"):
        per_key, set_wide = [], []
        fixed = default_threshold(photos, metric)
        for name in photos.names:
            vector = photos.raw_vector(name)
            own = key_threshold(photos, vector, metric, exclude=name)
            per_key.append(key_join(photos, vector, QuerySpec(metric, "range", own), exclude=name).passed)
            set_wide.append(key_join(photos, vector, QuerySpec(metric, "range", fixed), exclude=name).passed)
        per_key_counts, set_counts = np.array(per_key), np.array(set_wide)
        inside = np.mean((per_key_counts >= 1) & (per_key_counts <= 50))
        old = np.mean((set_counts >= 1) & (set_counts <= 50))
        print(f"  {metric:9s}  the key's own top 1% (1-50 images): {inside:.3f} of keys (median "
              f"{np.median(per_key_counts):g}, at most {per_key_counts.max()}); the set's top 1% of pairs: "
              f"{old:.3f} ({np.mean(set_counts == 0):.3f} get none)")


def print_distributions(photos: SetIndex, copies: SetIndex, truth: dict[str, str], kinds: dict[str, str],
                        threshold: float) -> None:
    """The two distributions the duplicate threshold separates, in the duplicates space."""
    sims = photos.vectors @ photos.vectors.T
    distinct = sims[np.triu_indices(len(photos), 1)]
    keys = photos.project(np.array([copies.raw_vector(c) for c in truth]))  # in the photos' space
    own = np.einsum("ij,ij->i", keys, photos.vectors[[photos.row_of(o) for o in truth.values()]])
    q = [0.99, 0.999, 0.9999]
    print("Duplicates space (" + photos.applied + "): cosine similarities")
    print(f"  distinct photos ({len(distinct):,} pairs): mean {distinct.mean():.3f}, "
          f"sd {distinct.std():.3f}, "
          + ", ".join(f"{100 * p:g}th pct {np.quantile(distinct, p):.3f}" for p in q)
          + f"; above {threshold:g}: {np.mean(distinct >= threshold):.2e} of pairs")
    print(f"  edited copies and their originals ({len(own)}): "
          + ", ".join(f"{100 * p:g}th pct {np.quantile(own, p):.3f}" for p in (0.05, 0.1, 0.5))
          + f"; at or above {threshold:g}: {np.mean(own >= threshold):.3f}")
