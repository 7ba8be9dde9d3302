"""`simages bench train SET`: how long training a head takes on the stored features of N photos.

The issue's floor: 500 photos with stored features trained in at most 2 minutes on this machine (the
augmented copies' one-off description is not part of it: it is the network's cost, cached after the first
run). SET must be indexed, its sub-folders the classes (e.g. Corel-1k linked into image_sets/). The
photos are a seeded per-class split of SET, as `simages train` makes; only the training itself is timed,
with the CPU model and the load average printed beside the figure, since the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from simages.operations.train import base_descriptor_of, labels_of
from simages.settings import Settings
from simages.store.npz_store import load_store
from simages.training.split import per_class_split
from simages.training.trainer import LOSSES, TrainConfig, train_head

FLOOR_SECONDS = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("set", metavar="SET", help="an indexed set whose sub-folders are the classes")
    parser.add_argument("--photos", type=int, default=500, help="photos to train on (default: 500)")
    parser.add_argument("--loss", choices=LOSSES, action="append", help="loss(es) to time (default: all)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed of the photos chosen and of the training (default 0)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="the figures as text (default) or as JSON")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            text = info.read()
    except OSError:
        return platform.processor() or "unknown CPU"
    models = (line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name"))
    name = next(models, "unknown CPU")
    return name + (" (amx_tile)" if "amx_tile" in text else "")


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    store = load_store(settings.store_path(args.set))
    labels_all = labels_of(list(store.names))
    rows = [row for row, label in enumerate(labels_all) if label is not None]
    names = [store.names[row] for row in rows]
    labels = [str(labels_all[row]) for row in rows]
    if not 0 < args.photos < len(rows):
        print(f"simages bench train: --photos must be between 1 and {len(rows) - 1}")
        return 2
    split = per_class_split(names, labels, 1 - args.photos / len(rows), args.seed)
    train_rows = list(split.train)
    vectors = np.asarray(store.vectors, np.float32)[rows][train_rows]
    train_labels = [labels[row] for row in train_rows]
    results = []
    # The first training in a process pays torch's one-off imports (seconds on a busy machine); it is
    # warmed up on a few photos so the figures are the training's own.
    warm = np.random.default_rng(0).permutation(len(train_rows))[:40]
    train_head(vectors[warm], [train_labels[i] for i in warm], TrainConfig(max_epochs=1))
    for loss in args.loss or LOSSES:
        load_before = os.getloadavg()
        started = time.monotonic()
        result = train_head(vectors, train_labels, TrainConfig(loss=loss, seed=args.seed))
        seconds = time.monotonic() - started
        results.append({
            "loss": loss,
            "photos": len(train_rows),
            "seconds": round(seconds, 2),
            "epochs": result.epochs_run,
            "best_epoch": result.best_epoch,
            "seconds_per_epoch": round(seconds / max(result.epochs_run, 1), 3),
            "floor_ratio": round(seconds / FLOOR_SECONDS, 3),
            "load_before": [round(value, 2) for value in load_before],
            "load_after": [round(value, 2) for value in os.getloadavg()],
        })
    header = {
        "set": args.set,
        "base_descriptor": base_descriptor_of(store).key(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "floor_seconds": FLOOR_SECONDS,
    }
    if args.format == "json":
        print(json.dumps({**header, "results": results}, indent=2))
        return 0
    print(f"training a head on {len(train_rows)} photos of {args.set} ({header['base_descriptor']} stored "
          f"features); {header['cpu']}, {header['cores']} cores")
    for row in results:
        verdict = "within" if row["seconds"] <= FLOOR_SECONDS else "OVER"
        print(
            f"  {row['loss']:8s} {row['seconds']:7.1f} s  {row['epochs']:4d} epochs "
            f"(kept {row['best_epoch']}), {row['seconds_per_epoch']:.3f} s/epoch, "
            f"{row['floor_ratio']:.2f} x the 2-minute floor ({verdict}); "
            f"load {row['load_before'][0]:.2f} before, {row['load_after'][0]:.2f} after"
        )
    return 0
