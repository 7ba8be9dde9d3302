"""`simages eval DIR`: leave-one-out retrieval quality of descriptor options on a labeled folder.

The folder's sub-folders are the classes. It is indexed once, through the normal indexer, with the
`flat` descriptor: the stored 25088-d vector is the whole 7x7x512 map, which is all that every pooling
needs, so each option is then derived in memory. Options with `flip` also need the maps of the mirrored
images; those live in a second store beside the first. Both stores are incremental, so running eval again
on the same folder costs no network pass at all. Options with `trim` (margins cut off before the network)
read a second pair of stores made the same way from the trimmed images.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simages.evaluation.leave_one_out import METRICS, leave_one_out, set_vectors
from simages.evaluation.options import PLOT_MAX_K, TABLE_KS
from simages.extraction.describe import mirror, network_for
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.images import load_for_network
from simages.extraction.network import MAP_SHAPE, Network
from simages.extraction.trimming import trim_inputs
from simages.jobs.indexer import Known, index_folder
from simages.naming import derived_name
from simages.settings import Settings
from simages.store.npz_store import (
    FeatureStore,
    StoreError,
    expected_meta,
    is_compatible,
    load_store,
    save_store,
)
from simages.wording import plural

NetworkFactory = Callable[[], Network]

_MIRRORED_KEY = "flat@mirrored"


@dataclass(frozen=True)
class EvalRow:
    descriptor: str
    metric: str
    dimension: int
    precision: dict[int, float]  # k -> P@k (table ks, plus 1..PLOT_MAX_K when a curve is wanted)
    mean_ap: float
    seconds: float

    def as_dict(self) -> dict[str, object]:
        table = {f"P@{k}": round(self.precision[k], 4) for k in TABLE_KS}
        return {
            "descriptor": self.descriptor,
            "metric": self.metric,
            "dimension": self.dimension,
            **table,
            "mAP": round(self.mean_ap, 4),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class EvalReport:
    folder: str
    images: int
    classes: dict[str, int]
    rows: list[EvalRow] = field(default_factory=list)
    unlabeled: int = 0  # images directly in DIR, not in a class sub-folder: left out
    unreadable: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "folder": self.folder,
            "images": self.images,
            "classes": self.classes,
            "unlabeled": self.unlabeled,
            "unreadable": self.unreadable,
            "results": [row.as_dict() for row in self.rows],
        }


def store_name(folder: Path) -> str:
    """`eval-<folder name>-<hash of its path>`: two folders called `photos` must not share a store."""
    resolved = str(folder.resolve())
    return f"eval-{folder.name or 'root'}-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


def eval_store_paths(settings: Settings, folder: Path, trim: bool = False) -> tuple[Path, Path]:
    base = settings.features / ".eval"
    name = store_name(folder) + ("-trim" if trim else "")
    return base / derived_name(name, ".npz"), base / derived_name(name, ".mirrored.npz")


def labels_of(names: Sequence[str]) -> list[str | None]:
    """The class of each image: its first folder below DIR (None for images directly in DIR)."""
    return [name.split("/", 1)[0] if "/" in name else None for name in names]


def load_maps(
    folder: Path,
    settings: Settings,
    need_mirrored: bool,
    network_factory: NetworkFactory | None = None,
    progress: Callable[[str], None] | None = None,
    trim: bool = False,
) -> tuple[FeatureStore, np.ndarray | None, dict[str, str]]:
    """The folder's maps store (indexed or updated now), its mirrored maps if asked, unreadable images;
    with `trim`, of the images with their margins cut off (simages.extraction.trimming)."""
    store_path, mirrored_path = eval_store_paths(settings, folder, trim)
    flat = settings.with_(descriptor=DescriptorSpec(pooling="flat", trim=trim))
    if progress:
        progress(f"indexing {folder} (maps of every image, cached in {store_path.parent})")
    summary = index_folder(folder, store_path, flat, network_factory=network_factory)
    store = load_store(store_path)
    mirrored = None
    if need_mirrored:
        mirrored = _mirrored_maps(folder, store, mirrored_path, settings, network_factory, progress, trim)
    return store, mirrored, summary.unreadable


def _mirrored_maps(
    folder: Path,
    store: FeatureStore,
    path: Path,
    settings: Settings,
    network_factory: NetworkFactory | None,
    progress: Callable[[str], None] | None,
    trim: bool = False,
) -> np.ndarray:
    """Maps of the mirrored images, in the order of `store`; only new or changed images are computed."""
    # A missing weights file raises MissingWeightsError here (and already did in index_folder).
    expected = expected_meta(_MIRRORED_KEY + ("+trim" if trim else ""), settings.weights_id())
    known = Known()
    try:
        previous = load_store(path)
        if is_compatible(previous.meta, expected):
            known.absorb(previous)
    except (FileNotFoundError, StoreError):
        pass
    vectors = np.zeros_like(store.vectors)
    todo = []
    for row, (name, fingerprint) in enumerate(zip(store.names, store.fingerprints, strict=True)):
        if known.fingerprints.get(name) == fingerprint:
            vectors[row] = known.vectors[name]
        else:
            todo.append(row)
    if todo:
        if progress:
            progress(f"computing maps of {len(todo)} mirrored images")
        network = (network_factory or (lambda: network_for(settings.weights, settings.model_cache)))()
        for start in range(0, len(todo), settings.batch_size):
            rows = todo[start : start + settings.batch_size]
            images = np.stack(
                [load_for_network(folder / store.names[row], settings.max_image_pixels) for row in rows]
            )
            # Trimming keeps pairs of margins, so it commutes with the mirror.
            maps = network.maps(mirror(trim_inputs(images) if trim else images))
            vectors[rows] = maps.reshape(len(rows), -1)
        meta = {**expected, "updated": time.time(), "network": network.description}
        save_store(path, FeatureStore(list(store.names), list(store.fingerprints), vectors, meta))
    return vectors


def evaluate(
    maps: np.ndarray,
    mirrored: np.ndarray | None,
    labels: Sequence[str],
    options: Sequence[DescriptorSpec],
    metrics: Sequence[str] = METRICS,
    curve: bool = False,
    features: Path | None = None,
) -> list[EvalRow]:
    """One row per option x metric, from maps already in memory (pure apart from timing); trained heads
    (`head:NAME` options) are read from `features`/heads/."""
    ks = sorted(set(TABLE_KS) | (set(range(1, PLOT_MAX_K + 1)) if curve else set()))
    maps = np.asarray(maps, dtype=np.float32).reshape(len(maps), *MAP_SHAPE)
    if mirrored is not None:
        mirrored = np.asarray(mirrored, dtype=np.float32).reshape(len(mirrored), *MAP_SHAPE)
    rows = []
    for spec in options:
        started = time.monotonic()
        vectors = set_vectors(maps, mirrored, spec, features)
        prepared = time.monotonic() - started
        for metric in metrics:
            started = time.monotonic()
            scores = leave_one_out(vectors, labels, metric, spec.qe_k if spec.qe else 0, ks)
            seconds = prepared + time.monotonic() - started
            dimension = vectors.shape[1]
            rows.append(EvalRow(spec.key(), metric, dimension, scores.precision, scores.mean_ap, seconds))
    return rows


def run_eval(
    folder: Path,
    settings: Settings,
    options: Sequence[DescriptorSpec],
    metrics: Sequence[str] = METRICS,
    curve: bool = False,
    network_factory: NetworkFactory | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Index `folder` (cached), then evaluate every option x metric leave-one-out."""
    report: EvalReport | None = None
    rows_by_option: dict[DescriptorSpec, list[EvalRow]] = {}
    for trim in sorted({spec.trim for spec in options}):
        group = [spec for spec in options if spec.trim == trim]
        part = _run_group(folder, settings, group, metrics, curve, network_factory, progress, trim)
        report = report or part
        for spec in group:
            rows_by_option[spec] = [row for row in part.rows if row.descriptor == spec.key()]
    if report is None:
        store, _, unreadable = load_maps(folder, settings, False, network_factory, progress)
        return _empty_report(folder, store, unreadable)
    report.rows = [row for spec in options for row in rows_by_option.get(spec, [])]
    return report


def _empty_report(folder: Path, store: FeatureStore, unreadable: dict[str, str]) -> EvalReport:
    labels = labels_of(store.names)
    kept = [label for label in labels if label is not None]
    return EvalReport(str(folder), len(kept), dict(sorted(Counter(kept).items())),
                      unlabeled=len(labels) - len(kept), unreadable=unreadable)


def _run_group(
    folder: Path,
    settings: Settings,
    options: Sequence[DescriptorSpec],
    metrics: Sequence[str],
    curve: bool,
    network_factory: NetworkFactory | None,
    progress: Callable[[str], None] | None,
    trim: bool,
) -> EvalReport:
    """The report of the options that share `trim`, from the maps of that kind."""
    need_mirrored = any(spec.flip for spec in options)
    store, mirrored, unreadable = load_maps(folder, settings, need_mirrored, network_factory, progress, trim)
    labels = labels_of(store.names)
    rows = [row for row, label in enumerate(labels) if label is not None]
    kept_labels = [labels[row] for row in rows]
    classes = dict(sorted(Counter(kept_labels).items()))
    unlabeled = len(labels) - len(rows)
    report = EvalReport(str(folder), len(rows), classes, unlabeled=unlabeled, unreadable=unreadable)
    if len(rows) < 2:
        return report
    maps = store.vectors[rows]
    mirrored_rows = mirrored[rows] if mirrored is not None else None
    if progress:
        progress(f"evaluating {plural(len(options), 'option')} x {plural(len(metrics), 'metric')} on "
                 f"{plural(len(rows), 'image')}")
    report.rows = evaluate(maps, mirrored_rows, kept_labels, options, metrics, curve, settings.features)
    return report
