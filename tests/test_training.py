"""simages train: the split, determinism, the head as a descriptor everywhere, refusals, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simages.evaluation.leave_one_out import set_vectors
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.pooling import pool_with_mirror
from simages.nearest import DescriptorCache
from simages.nearest.core.set_index import DescriptorMismatch
from simages.operations.train import TrainingRefused, TrainRequest, train
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store
from simages.training import registry
from simages.training.split import held_out_classes, per_class_split
from simages.training.trainer import TrainConfig, train_head

DIM = 32


def labelled_vectors(classes: int = 6, per_class: int = 12, seed: int = 1, dim: int = DIM):
    """Unit vectors around one random centre per class, names CLASS/NNN.jpg."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim))
    names, labels, rows = [], [], []
    for c in range(classes):
        for i in range(per_class):
            names.append(f"class{c}/{i:03d}.jpg")
            labels.append(f"class{c}")
            rows.append(centres[c] + 1.2 * rng.normal(size=dim))
    vectors = np.asarray(rows, np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return names, labels, vectors


def write_store(settings: Settings, set_name: str, names, vectors, descriptor: str = "gap+l2+pca8+qe2"):
    store = FeatureStore(
        list(names), [Fingerprint(1, 1)] * len(names), np.asarray(vectors, np.float32),
        {"descriptor": DescriptorSpec.parse(descriptor).extraction_key(), "descriptor_spec": descriptor},
    )
    save_store(settings.store_path(set_name), store)
    (settings.image_sets / set_name).mkdir(parents=True, exist_ok=True)


@pytest.fixture
def labelled_root(tmp_path):
    settings = Settings(root=tmp_path)
    names, _, vectors = labelled_vectors()
    write_store(settings, "shop", names, vectors)
    return settings


def test_split_is_per_class_disjoint_and_independent_of_listing_order():
    names, labels, _ = labelled_vectors(classes=3, per_class=9)
    split = per_class_split(names, labels, 0.5, seed=7)
    assert not set(split.train) & set(split.test)
    assert sorted(split.train + split.test) == list(range(len(names)))
    for c in range(3):
        assert sum(labels[row] == f"class{c}" for row in split.test) in (4, 5)
    order = np.random.default_rng(0).permutation(len(names))
    shuffled = per_class_split([names[i] for i in order], [labels[i] for i in order], 0.5, seed=7)
    assert {names[order[row]] for row in shuffled.test} == {names[row] for row in split.test}
    assert per_class_split(names, labels, 0.5, seed=8).test != split.test
    held = held_out_classes(["a", "b", "c", "d"], 2, seed=3)
    assert held == held_out_classes(["d", "c", "b", "a"], 2, seed=3) and len(held) == 2


def test_a_class_of_one_photo_never_lands_in_test_alone():
    split = per_class_split(["a/1.jpg", "b/1.jpg", "b/2.jpg"], ["a", "b", "b"], 0.5, seed=0)
    assert split.train == (0, 1) or split.train == (0, 2)
    assert len(split.test) == 1


def test_training_is_deterministic_with_a_seed():
    _, labels, vectors = labelled_vectors()
    config = TrainConfig(loss="both", seed=3, max_epochs=8)
    first = train_head(vectors, labels, config)
    second = train_head(vectors, labels, config)
    other = train_head(vectors, labels, TrainConfig(loss="both", seed=4, max_epochs=8))
    # The whole trajectory repeats (loss and validation mAP of every epoch), and so does the head kept.
    assert first.curves == second.curves
    assert np.array_equal(first.projection, second.projection)
    assert first.curves["loss"] != other.curves["loss"]


def test_training_never_sees_a_test_photo_nor_its_augmented_copies(labelled_root, monkeypatch):
    seen: list[np.ndarray] = []
    augmented_names: list[str] = []
    import simages.operations.train as operation

    real = operation.train_head

    def spy(vectors, labels, config, progress=None, sources=None):
        seen.append(np.asarray(vectors).copy())
        return real(vectors, labels, config, progress, sources)

    def augmenter(names):
        augmented_names.extend(names)
        rows = [stored_names.index(name) for name in names]
        return stored[rows] * 0.99 + 0.01, list(range(len(names)))

    stored_names, _, stored = labelled_vectors()
    monkeypatch.setattr(operation, "train_head", spy)
    report = train(labelled_root, TrainRequest("shop", "h", max_epochs=3, augment=True), augmenter=augmenter)
    test_names = {stored_names[row] for row in report.split.test}
    assert augmented_names and not test_names & set(augmented_names)
    test_rows = stored[list(report.split.test)]
    test_copies = test_rows * 0.99 + 0.01
    for fitted in seen:
        for forbidden in (test_rows, test_copies):
            distances = np.abs(fitted[:, None, :] - forbidden[None, :, :]).max(axis=2)
            assert distances.min() > 1e-6


def test_validation_photos_copies_are_not_trained_on(monkeypatch):
    """Early stopping must not watch near-duplicates of training rows: a validation photo's augmented
    copies stay out of training with it."""
    import simages.training.trainer as trainer

    _, labels, vectors = labelled_vectors(classes=3, per_class=8)
    copies = vectors * 0.99 + 0.01
    fitted: list[np.ndarray] = []
    real_batches = trainer._batches

    def spy(batch_labels, config, rng):
        fitted.append(len(batch_labels))
        return real_batches(batch_labels, config, rng)

    monkeypatch.setattr(trainer, "_batches", spy)
    n = len(labels)
    trainer.train_head(np.concatenate([vectors, copies]), labels + labels, TrainConfig(max_epochs=1),
                       sources=list(range(n)) + list(range(n)))
    _, validation = trainer.validation_rows(labels, TrainConfig.validation_fraction, TrainConfig.seed)
    assert validation and fitted == [2 * (n - len(validation))]


def test_report_and_head_file_hold_what_the_issue_asks(labelled_root):
    report = train(labelled_root, TrainRequest("shop", "shopA", max_epochs=20))
    data = report.as_dict()
    for key in ("name", "loss", "split", "baseline", "trained", "unseen_classes"):
        assert key in data
    assert data["split"] == {"train": 36, "test": 36}
    # The command it suggests works as typed from anywhere: the root is named when it is not the cwd.
    from simages.cli.train_cmd import format_report

    assert f"Use it with: simages --root {labelled_root.root} --descriptor head:shopA query" in format_report(
        report, labelled_root)
    assert set(data["baseline"]) == {"mAP", "P@10"} and set(data["trained"]) == {"mAP", "P@10"}
    assert data["unseen_classes"]["classes"] and len(data["unseen_classes"]["classes"]) == 3
    head = registry.load_head(labelled_root.features, "shopA")
    for key in ("set", "classes", "split", "date", "metrics", "base_descriptor", "sha256"):
        assert key in head.meta
    assert head.meta["base_descriptor"] == "gap+l2+pca8+qe2"
    assert head.beats_baseline == (report.trained["mAP"] > report.baseline["mAP"])
    assert [h.name for h in registry.list_heads(labelled_root.features)] == ["shopA"]
    with pytest.raises(TrainingRefused, match="exists"):
        train(labelled_root, TrainRequest("shop", "shopA", max_epochs=2))
    assert registry.remove_head(labelled_root.features, "shopA")
    assert registry.list_heads(labelled_root.features) == []


def test_a_set_without_two_classes_is_refused_with_a_reason(tmp_path):
    settings = Settings(root=tmp_path)
    names, _, vectors = labelled_vectors(classes=1)
    write_store(settings, "one", names, vectors)
    with pytest.raises(TrainingRefused, match="at least two sub-folders"):
        train(settings, TrainRequest("one", "h"))


def test_head_applies_identically_in_queries_the_app_and_eval(tmp_path):
    """The cache (CLI query/join and the app's pages read sets through it) and `simages eval` (from maps)
    give the same vectors for `head:NAME`."""
    settings = Settings(root=tmp_path)
    rng = np.random.default_rng(5)
    maps = np.maximum(rng.normal(size=(40, 7, 7, 512)), 0).astype(np.float32)
    stored = pool_with_mirror(maps, None, DescriptorSpec.parse("gap+l2"))
    names = [f"c{i % 4}/{i:02d}.jpg" for i in range(40)]
    write_store(settings, "shop", names, stored, "gap+l2+pca8+qe2")
    projection = np.eye(512, dtype=np.float32) + 0.3 * rng.normal(size=(512, 512)).astype(np.float32)
    meta = {"base_descriptor": "gap+l2+pca8+qe2", "set": "shop"}
    registry.save_head(settings.features, "h", projection, meta)
    spec = registry.resolve_descriptor("head:h", settings.features)
    assert spec.key() == "gap+l2+head:h+pca8+qe2"
    assert Settings.from_env(root=tmp_path, descriptor="head:h").descriptor == spec
    index = DescriptorCache().get(settings, "shop", spec)
    from_eval = set_vectors(maps, None, spec, settings.features)
    assert np.allclose(index.vectors, from_eval, atol=1e-5)
    untrained = DescriptorCache().get(settings, "shop", DescriptorSpec.parse("gap+l2+pca8+qe2"))
    assert not np.allclose(index.vectors, untrained.vectors, atol=1e-3)
    key = stored[3]
    assert np.allclose(index.project(key), index.vectors[3], atol=1e-5)


def test_head_on_another_base_descriptor_is_refused_with_what_to_do(labelled_root):
    train(labelled_root, TrainRequest("shop", "h", max_epochs=2))
    names, _, vectors = labelled_vectors(seed=2)
    write_store(labelled_root, "other", names, vectors, "gem3+l2+pca8")
    spec = registry.resolve_descriptor("head:h", labelled_root.features)
    with pytest.raises(DescriptorMismatch, match=r"trained on 'gap\+l2' vectors.*'other' holds 'gem3\+l2'"):
        DescriptorCache().get(labelled_root, "other", spec)


def test_unknown_or_damaged_head_is_refused_clearly(labelled_root):
    with pytest.raises(registry.HeadError, match=r"no trained head 'nope'.*simages train"):
        registry.resolve_descriptor("head:nope", labelled_root.features)
    with pytest.raises(ValueError, match="no trained head 'nope'"):
        Settings.from_env(root=labelled_root.root, descriptor="head:nope")
    train(labelled_root, TrainRequest("shop", "h", max_epochs=2))
    path = registry.head_path(labelled_root.features, "h")
    with np.load(path) as data:
        meta = str(data["meta"])
        projection = data["projection"] * 1.5
    np.savez(path.with_suffix(".tmp.npz"), projection=projection, meta=np.array(meta))
    os.replace(path.with_suffix(".tmp.npz"), path)
    with pytest.raises(registry.HeadError, match="fails its hash check"):
        registry.load_head(labelled_root.features, "h")


def test_keyboard_interrupt_keeps_the_best_head_so_far(labelled_root):
    epochs = []

    def interrupt(report):
        epochs.append(report.epoch)
        if report.epoch == 2:
            raise KeyboardInterrupt

    report = train(labelled_root, TrainRequest("shop", "h", max_epochs=50), progress=interrupt)
    assert report.interrupted and epochs == [1, 2]
    head = registry.load_head(labelled_root.features, "h")
    assert head.meta["interrupted"] is True
    assert head.projection.shape == (DIM, DIM)


def test_sigint_during_training_leaves_a_usable_head_or_none(labelled_root):
    names, _, vectors = labelled_vectors(classes=8, per_class=60)
    write_store(labelled_root, "big", names, vectors)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-m", "simages", "--root", str(labelled_root.root), "train", "big", "--name", "big",
         "--max-epochs", "5000", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("epoch 1/"):
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert json.loads(out)["interrupted"] is True
    heads = registry.list_heads(labelled_root.features)
    assert [head.name for head in heads] == ["big"]
    folder = registry.heads_folder(labelled_root.features)
    assert [path.name for path in folder.iterdir() if path.name.startswith(".")] == []


class _StubNetwork:
    """Maps that depend on the pixels (so variants differ), counting the images it is shown."""

    description = "stub"

    def __init__(self) -> None:
        self.images = 0

    def maps(self, images: np.ndarray) -> np.ndarray:
        self.images += len(images)
        small = images.astype(np.float32).reshape(len(images), 7, 32, 7, 32, 3).mean(axis=(2, 4))
        return np.tile(small, (1, 1, 1, 171))[..., :512]


def test_augmented_copies_are_described_once_and_cached(tmp_path, monkeypatch):
    from PIL import Image

    from simages.training import augment

    settings = Settings(root=tmp_path)
    rng = np.random.default_rng(0)
    names = []
    for c in range(2):
        for i in range(3):
            path = settings.image_sets / "shop" / f"c{c}" / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(path)
            names.append(f"c{c}/{i}.png")
    write_store(settings, "shop", names, rng.normal(size=(6, 512)))
    network = _StubNetwork()
    monkeypatch.setattr(augment, "network_for", lambda *args: network)
    augmenter = augment.cached_augmenter(settings, "shop")
    vectors, sources = augmenter(names[:4])
    assert vectors.shape == (16, 512) and sources == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert network.images == 16 and len({tuple(np.round(row, 5)) for row in vectors}) == 16
    again, _ = augment.cached_augmenter(settings, "shop")(names[:4])
    assert network.images == 16 and np.array_equal(again, vectors)
    augment.cached_augmenter(settings, "shop")(names)
    assert network.images == 24  # only the two new photos' copies
    image = np.arange(224 * 224 * 3, dtype=np.uint8).reshape(224, 224, 3)
    for variant in augment.VARIANTS:
        assert augment.augmented(image, variant).shape == image.shape


def test_a_head_replaced_under_the_same_name_is_not_served_from_the_cache(tmp_path):
    settings = Settings(root=tmp_path)
    names, _, vectors = labelled_vectors()
    write_store(settings, "shop", names, vectors, "gap+l2")
    meta = {"base_descriptor": "gap+l2", "set": "shop"}
    rng = np.random.default_rng(0)
    registry.save_head(settings.features, "h", rng.normal(size=(DIM, DIM)), meta)
    cache = DescriptorCache()
    spec = registry.resolve_descriptor("head:h", settings.features)
    first = cache.get(settings, "shop", spec).vectors.copy()
    registry.save_head(settings.features, "h", rng.normal(size=(DIM, DIM)), meta)
    second = cache.get(settings, "shop", spec).vectors
    assert not np.allclose(first, second, atol=1e-3)
    assert np.allclose(second, DescriptorCache().get(settings, "shop", spec).vectors)
