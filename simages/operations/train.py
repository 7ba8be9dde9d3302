"""Use case: `simages train SET --name NAME`, a descriptor learned from the user's labelled folders.

The labels are SET's sub-folders. The photos are split per class into train and test (seeded); a head
(simages.training.heads) is trained on the stored vectors of the training photos (and, with augmentation,
of their augmented copies, described once and cached), with early stopping on a validation part of the
training split; then the test split measures the untrained descriptor and the head. Where the set has
enough classes, a second head is trained without half of the classes and measured on them: a head that
only memorises its labels shows there. The head is kept under features/heads/ with all of it.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.naming import validate_set_name
from simages.nearest.sets.cache import NotIndexed
from simages.settings import Settings
from simages.store.atomic import write_atomically
from simages.store.npz_store import FeatureStore, load_store
from simages.training import registry
from simages.training.measure import retrieval_quality
from simages.training.split import Split, held_out_classes, per_class_split, unseen_class_count
from simages.training.trainer import LOSSES, EpochReport, TrainConfig, TrainResult, train_head
from simages.wording import plural

DEFAULT_TEST_SPLIT = 0.5


class TrainingRefused(ValueError):
    """A request that cannot be trained (too few classes, a name taken...); the message says why."""


@dataclass(frozen=True)
class TrainRequest:
    set_name: str
    name: str
    loss: str = "both"
    test_split: float = DEFAULT_TEST_SPLIT
    seed: int = 0
    augment: bool = False
    # Also train and measure the other losses (the head kept is still `loss`'s).
    compare_losses: bool = False
    replace: bool = False
    max_epochs: int = TrainConfig.max_epochs


@dataclass
class TrainReport:
    name: str
    set_name: str
    loss: str
    split: Split
    classes: dict[str, int]
    base_descriptor: str
    baseline: dict[str, float]
    trained: dict[str, float]
    losses: dict[str, dict[str, float]] = field(default_factory=dict)
    unseen_classes: dict[str, Any] | None = None
    beats_baseline: bool = False
    interrupted: bool = False
    best_epoch: int = 0
    epochs_run: int = 0
    seconds: float = 0.0
    augmented: int = 0
    head_path: Path | None = None
    curves_path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "set": self.set_name,
            "loss": self.loss,
            "split": self.split.as_dict(),
            "baseline": self.baseline,
            "trained": self.trained,
            "losses": self.losses,
            "unseen_classes": self.unseen_classes,
            "beats_baseline": self.beats_baseline,
            "base_descriptor": self.base_descriptor,
            "interrupted": self.interrupted,
            "best_epoch": self.best_epoch,
            "epochs": self.epochs_run,
            "seconds": round(self.seconds, 2),
            "augmented_images": self.augmented,
            "head": str(self.head_path) if self.head_path else None,
            "curves": str(self.curves_path) if self.curves_path else None,
        }


def labels_of(names: list[str]) -> list[str | None]:
    """Each image's class: its first folder inside the set (None for images directly in the set)."""
    return [name.split("/", 1)[0] if "/" in name else None for name in names]


def _load(settings: Settings, set_name: str) -> FeatureStore:
    validate_set_name(set_name)
    if not (settings.image_sets / set_name).is_dir():
        raise NotIndexed(set_name, exists=False, settings=settings)
    try:
        return load_store(settings.store_path(set_name))
    except FileNotFoundError:
        raise NotIndexed(set_name, settings=settings) from None


def base_descriptor_of(store: FeatureStore) -> DescriptorSpec:
    """The descriptor the set is searched with untrained (its store's), without any head."""
    stored = str(store.meta.get("descriptor_spec") or store.meta.get("descriptor", ""))
    return DescriptorSpec.parse(stored).with_(head=None)


def train(
    settings: Settings,
    request: TrainRequest,
    progress: Callable[[EpochReport], None] | None = None,
    note: Callable[[str], None] | None = None,
    augmenter: Callable[[list[str]], tuple[np.ndarray, list[int]]] | None = None,
) -> TrainReport:
    """Train, measure and keep a head; see the module docstring.

    `augmenter(names)` gives the stored-style vectors of augmented copies of those images (the training
    split's only) and, per row, the index in `names` it was made from (simages.training.augment); it is
    used only with `request.augment`. Raises NotIndexed, TrainingRefused, HeadError (invalid name),
    ValueError. A KeyboardInterrupt during training keeps the best head so far (`interrupted`); one
    elsewhere leaves the head that existed before, or none.
    """
    say = note or (lambda message: None)
    registry.check_name(request.name)
    if request.loss not in LOSSES:
        raise TrainingRefused(f"unknown loss {request.loss!r}; choose one of {', '.join(LOSSES)}")
    path = registry.head_path(settings.features, request.name)
    if path.exists() and not request.replace:
        raise TrainingRefused(
            f"a trained head called {request.name!r} exists; choose another --name, pass --replace, or "
            f"remove it with `simages train --remove {request.name}`"
        )
    store = _load(settings, request.set_name)
    base = base_descriptor_of(store)
    all_labels = labels_of(list(store.names))
    rows = [row for row, label in enumerate(all_labels) if label is not None]
    names = [store.names[row] for row in rows]
    labels = [str(all_labels[row]) for row in rows]
    vectors = np.asarray(store.vectors[rows], np.float32)
    classes = {label: labels.count(label) for label in sorted(set(labels))}
    usable = [label for label, count in classes.items() if count >= 2]
    if len(usable) < 2:
        raise TrainingRefused(
            f"set {request.set_name!r} needs at least two sub-folders (the classes) of at least two images "
            f"each to train on; it has {len(classes)} class(es): "
            + (", ".join(f"{label} ({count})" for label, count in classes.items()) or "none")
        )
    split = per_class_split(names, labels, request.test_split, request.seed)
    config = TrainConfig(loss=request.loss, seed=request.seed, max_epochs=request.max_epochs)
    test = list(split.test)
    test_labels = [labels[row] for row in test]
    baseline = retrieval_quality(vectors[test], test_labels, base)
    say(f"untrained {base.key()} on the test split ({plural(len(test), 'photo')}): "
        f"mAP {baseline['mAP']:.3f}, "
        f"P@10 {baseline['P@10']:.3f}")

    # Only training photos are augmented: a test photo's copy in training would leak it.
    train_rows = list(split.train)
    augmented_vectors, made_from = _augmented([names[row] for row in train_rows], request, augmenter, say)
    augmented_from = [train_rows[i] for i in made_from]

    def fit(
        train_rows: list[int], cfg: TrainConfig, report: Callable[[EpochReport], None] | None
    ) -> TrainResult:
        """Train on `train_rows` and the augmented copies of exactly those photos (never a test photo's)."""
        chosen = set(train_rows)
        extra = [i for i, source in enumerate(augmented_from) if source in chosen]
        x = np.concatenate([vectors[train_rows], augmented_vectors[extra]]) if extra else vectors[train_rows]
        y = [labels[row] for row in train_rows] + [labels[augmented_from[i]] for i in extra]
        position = {row: i for i, row in enumerate(train_rows)}
        sources = list(range(len(train_rows))) + [position[augmented_from[i]] for i in extra]
        return train_head(x, y, cfg, report, sources)

    result = fit(train_rows, config, progress)
    head_spec = base.with_(head=request.name)
    trained = retrieval_quality(vectors[test], test_labels, head_spec, result.projection)
    losses = {request.loss: trained}
    beats = trained["mAP"] > baseline["mAP"]
    report = TrainReport(
        request.name, request.set_name, request.loss, split, classes, base.key(), baseline, trained,
        losses, None, beats, result.interrupted, result.best_epoch, result.epochs_run, result.seconds,
        len(augmented_from),
    )
    meta = _meta(settings, request, report, result)
    report.head_path = registry.save_head(settings.features, request.name, result.projection, meta)
    report.curves_path = save_curves(settings.features, request.name, result, report)
    if result.interrupted:
        say("interrupted: the best head so far is kept; the comparisons below are skipped")
        return report
    if request.compare_losses:
        for loss in LOSSES:
            if loss != request.loss:
                say(f"training with loss {loss} to compare")
                other = fit(train_rows, TrainConfig(**{**config.__dict__, "loss": loss}), None)
                losses[loss] = retrieval_quality(vectors[test], test_labels, head_spec, other.projection)
    held_count = unseen_class_count(len(usable))
    if held_count:
        held = held_out_classes(usable, held_count, request.seed)
        say(f"unseen classes: training without {', '.join(held)} to measure the head on them")
        seen_rows = [row for row in train_rows if labels[row] not in held]
        probe = fit(seen_rows, config, None)
        unseen = [row for row, label in enumerate(labels) if label in held]
        unseen_labels = [labels[row] for row in unseen]
        report.unseen_classes = {
            "classes": held,
            "photos": len(unseen),
            "baseline": retrieval_quality(vectors[unseen], unseen_labels, base),
            "trained": retrieval_quality(vectors[unseen], unseen_labels, head_spec, probe.projection),
        }
    report.head_path = registry.save_head(
        settings.features, request.name, result.projection, _meta(settings, request, report, result)
    )
    return report


def _augmented(
    names: list[str],
    request: TrainRequest,
    augmenter: Callable[[list[str]], tuple[np.ndarray, list[int]]] | None,
    say: Callable[[str], None],
) -> tuple[np.ndarray, list[int]]:
    if not request.augment:
        return np.zeros((0, 0), np.float32), []
    if augmenter is None:
        raise TrainingRefused("augmentation needs the network to describe the augmented photos")
    vectors, sources = augmenter(names)
    say(f"augmentation: {len(sources)} augmented copies")
    return np.asarray(vectors, np.float32), list(sources)


def _meta(
    settings: Settings, request: TrainRequest, report: TrainReport, result: TrainResult
) -> dict[str, Any]:
    return {
        "set": request.set_name,
        "classes": report.classes,
        "split": {**report.split.as_dict(), "test_fraction": request.test_split, "seed": request.seed},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "loss": request.loss,
        "augment": request.augment,
        "base_descriptor": report.base_descriptor,
        "weights": settings.weights_id() if settings.weights else None,
        "metrics": {
            "baseline": report.baseline,
            "trained": report.trained,
            "losses": report.losses,
            "unseen_classes": report.unseen_classes,
        },
        "beats_baseline": report.beats_baseline,
        "interrupted": report.interrupted,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs_run,
        "curves": result.curves,
    }


def save_curves(features: Path, name: str, result: TrainResult, report: TrainReport) -> Path | None:
    """The training curves (loss, validation mAP per epoch) as features/heads/NAME.png; None without
    matplotlib (an optional dependency: pip install 'simages[plot]') or without any epoch."""
    if not result.curves.get("epoch"):
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = result.curves["epoch"]
    left.plot(epochs, result.curves["loss"], color="tab:blue")
    left.set_xlabel("epoch")
    left.set_ylabel(f"training loss ({report.loss})")
    left.grid(alpha=0.3)
    right.plot(epochs, result.curves["validation_map"], color="tab:green", label="trained (validation)")
    if result.best_epoch:
        kept = f"kept: epoch {result.best_epoch}"
        right.axvline(result.best_epoch, color="grey", linestyle=":", label=kept)
    right.set_xlabel("epoch")
    right.set_ylabel("validation mAP")
    right.grid(alpha=0.3)
    right.legend(fontsize="small")
    figure.suptitle(
        f"head {name!r} on {report.set_name}: test mAP {report.trained['mAP']:.3f} "
        f"(untrained {report.baseline['mAP']:.3f})"
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    path = registry.curves_path(features, name)
    write_atomically(path, lambda stream: stream.write(buffer.getvalue()), durable=False)
    return path


def list_heads(settings: Settings) -> list[registry.Head]:
    return registry.list_heads(settings.features)


def remove_head(settings: Settings, name: str) -> bool:
    return registry.remove_head(settings.features, name)
