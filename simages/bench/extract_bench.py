"""`simages bench extract`: the plain Keras path against the fast path, same images, same run.

Plain path (the original design): keras.utils.load_img (PIL, bilinear to 224x224), img_to_array,
vgg16.preprocess_input, model.predict in batches of 64. Fast path: the indexer's own loop, i.e. the
streaming decoder (draft-mode JPEG decoding on a thread pool), the fast network (ncnn or torch),
pooling and a store write (in memory here). Both are timed in steady state: one untimed warm-up batch,
then every image. Agreement compares the descriptors of the two paths image by image (GAP+L2 and the
flat 25088-d map) and the top-10 neighbours of every small image used as a query against the others.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.network import ENGINES, MAP_SHAPE, Network, fast_network
from simages.extraction.pooling import l2_normalise, pool
from simages.settings import Settings

ENV_COREL = "SIMAGES_COREL"
PLAIN_BATCH = 64
GAP_L2 = DescriptorSpec(pooling="gap", l2=True)
FLAT = DescriptorSpec(pooling="flat")
# The floor: a 12 MP photo may cost at most this many times a 384x256 one.
LARGE_FLOOR = 5.0


def default_corel() -> Path:
    if os.environ.get(ENV_COREL):
        return Path(os.environ[ENV_COREL])
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "corel1k"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None, help="Corel-1k folder (class subfolders of JPEGs)")
    parser.add_argument(
        "--images", type=int, default=128, help="small (384x256) images to time (default 128)"
    )
    parser.add_argument(
        "--large", type=int, default=32, help="generated 12 MP JPEGs to time (default 32; 0 skips)"
    )
    parser.add_argument(
        "--full-corel",
        action="store_true",
        help="time and compare all 1000 Corel images (top-10 agreement over every query; plain path ~5 min)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="fast path engine (default: $SIMAGES_ENGINE, else auto: ncnn if installed, else torch)",
    )
    parser.add_argument(
        "--precision", choices=("auto", "bf16", "fp32"), default=None, help="precision of the torch engine"
    )
    parser.add_argument(
        "--engines",
        action="store_true",
        help="instead: the network alone on each engine (Keras predict, torch fp32/bf16, ncnn) on --images",
    )


@dataclass
class PathRun:
    seconds: float
    count: int
    flat: np.ndarray  # (n, 25088) the raw maps, flattened, for agreement
    description: str

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def ms_per_image(self) -> float:
        return 1000 * self.seconds / self.count


def sample_corel(root: Path, count: int) -> list[Path]:
    """`count` images spread evenly over the classes, always the same ones."""
    files = sorted(root.glob("*/*.jpg"))
    if not files:
        raise SystemExit(f"no Corel images under {root}; pass --data or set {ENV_COREL}")
    if count >= len(files):
        return files
    step = len(files) / count
    return [files[int(i * step)] for i in range(count)]


def make_large_jpegs(
    sources: list[Path], count: int, folder: Path, size: tuple[int, int] = (4000, 3000)
) -> list[Path]:
    """Real-looking 12 MP JPEGs: Corel photos upscaled, with sensor-like noise so the JPEG is not smooth."""
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        with Image.open(sources[index % len(sources)]) as image:
            big = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
        noise = rng.integers(-12, 13, size=big.shape, dtype=np.int16)
        path = folder / f"large_{index:03d}.jpg"
        Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8)).save(path, quality=92)
        paths.append(path)
    return paths


def _batches(paths: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(paths), size):
        yield paths[start : start + size]


def _timed(
    run_all: Callable[[list[Path]], np.ndarray], paths: list[Path], warmup: list[Path]
) -> tuple[float, np.ndarray]:
    run_all(warmup)
    start = time.perf_counter()
    flat = run_all(paths)
    return time.perf_counter() - start, flat


def run_plain(model, paths: list[Path], spec: DescriptorSpec) -> PathRun:
    """The original design, exactly: Keras' image utilities and model.predict in batches of 64."""
    import keras
    from keras.applications.vgg16 import preprocess_input

    def run_all(files: list[Path]) -> np.ndarray:
        store, flats = [], []
        for batch in _batches(files, PLAIN_BATCH):
            arrays = [
                keras.utils.img_to_array(
                    keras.utils.load_img(p, target_size=(224, 224), interpolation="bilinear")
                )
                for p in batch
            ]
            maps = np.asarray(
                model.predict(preprocess_input(np.stack(arrays)), batch_size=PLAIN_BATCH, verbose=0)
            )
            store.append(pool(maps, spec))
            flats.append(maps.reshape(len(batch), -1).astype(np.float32))
        return np.concatenate(flats)

    seconds, flat = _timed(run_all, paths, paths[:PLAIN_BATCH])
    return PathRun(seconds, len(paths), flat, "keras predict fp32, batch 64")


def run_fast(network: Network, paths: list[Path], spec: DescriptorSpec, settings: Settings) -> PathRun:
    """The indexer's loop: streaming decode, network, pooling, store write (in memory).

    It calls network.maps and pool itself (what describe_images does) to keep the maps for agreement.
    """
    from simages.extraction.pipeline import iter_decoded_batches

    def run_all(files: list[Path]) -> np.ndarray:
        store, flats = [], []
        items = ((str(path), path) for path in files)
        for batch in iter_decoded_batches(items, settings.batch_size, settings.max_image_pixels):
            if batch.failures:
                raise SystemExit(f"benchmark image failed to decode: {batch.failures[0]}")
            maps = network.maps(batch.images)
            store.append(pool(maps, spec))
            flats.append(maps.reshape(len(batch.names), -1))
        return np.concatenate(flats)

    seconds, flat = _timed(run_all, paths, paths[: settings.batch_size])
    return PathRun(seconds, len(paths), flat, network.description)


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The worst agreement between row i of `a` and row i of `b`."""
    return float((l2_normalise(a) * l2_normalise(b)).sum(axis=1).min())


def _neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -np.inf)
    return np.sort(np.argpartition(-scores, k, axis=1)[:, :k], axis=1)


def top10_agreement(plain: np.ndarray, fast: np.ndarray, k: int = 10) -> tuple[float, float]:
    """(share of queries whose k nearest neighbours are the same set, mean share of neighbours in common).

    Neighbours by cosine of GAP+L2 descriptors, every image a query against all the others.
    """
    a, b = _neighbours(plain, k), _neighbours(fast, k)
    same = float((a == b).all(axis=1).mean())
    common = np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(a, b, strict=True)])
    return same, float(common)


def _maps(flat: np.ndarray) -> np.ndarray:
    return flat.reshape(-1, *MAP_SHAPE)


def run_engines(args: argparse.Namespace, settings: Settings) -> int:
    """The network alone, every engine on the same decoded images, against Keras' predict."""
    from simages.extraction.images import load_for_network
    from simages.extraction.ncnn_vgg import NcnnVGG16, ncnn_available
    from simages.extraction.network import PlainKerasNetwork, keras_vgg16
    from simages.extraction.torch_vgg import TorchVGG16, conv_weights_from_keras, native_bf16

    files = sample_corel(args.data or default_corel(), args.images)
    images = np.stack([load_for_network(path) for path in files])
    model = keras_vgg16(settings.weights)
    plain = PlainKerasNetwork(None, PLAIN_BATCH, model=model)
    convs = conv_weights_from_keras(model)
    engines: list[Network] = [plain, TorchVGG16(convs, precision="fp32")]
    if native_bf16():
        engines.append(TorchVGG16(convs, precision="bf16"))
    if ncnn_available():
        engines.append(NcnnVGG16(convs))
    print(f"{len(images)} Corel images, decoded once; the network alone, best of 2 runs after a warm-up")
    print("| engine | ms/img | speed-up over Keras predict | min cos flat | min cos GAP+L2 |")
    print("|---|---:|---:|---:|---:|")
    reference, baseline = None, None
    for network in engines:
        network.maps(images[:4])
        times = []
        for _ in range(2):
            start = time.perf_counter()
            maps = network.maps(images)
            times.append(time.perf_counter() - start)
        ms = 1000 * min(times) / len(images)
        if reference is None:
            reference, baseline = maps, ms
        flat = min_cosine(maps.reshape(len(maps), -1), reference.reshape(len(maps), -1))
        gap = min_cosine(pool(maps, GAP_L2), pool(reference, GAP_L2))
        print(f"| {network.description} | {ms:.1f} | {baseline / ms:.2f}x | {flat:.6f} | {gap:.6f} |")
    return 0


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    if args.engines:
        return run_engines(args, settings)
    import torch

    from simages.extraction.network import keras_vgg16
    from simages.extraction.torch_vgg import conv_weights_from_keras

    corel = args.data or default_corel()
    count = 1000 if args.full_corel else args.images
    small = sample_corel(corel, count)
    spec = settings.descriptor
    model = keras_vgg16(settings.weights)
    network = fast_network(conv_weights_from_keras(model), args.engine, args.precision)
    plain_threads = torch.get_num_threads()
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs; "
        f"plain path: keras on torch, {plain_threads} intra-op threads"
    )
    print(f"fast path: {network.description}; index batch {settings.batch_size}, descriptor {spec}")

    rows = []
    with tempfile.TemporaryDirectory(prefix="simages-bench-") as folder:
        sets = [("small 384x256", small)]
        if args.large > 0:
            print(f"writing {args.large} generated 4000x3000 JPEGs to a temporary folder...", flush=True)
            sets.append(("large 12 MP", make_large_jpegs(small, args.large, Path(folder))))
        for label, paths in sets:
            print(f"{label}: {len(paths)} images, plain path...", flush=True)
            plain = run_plain(model, paths, spec)
            print(f"{label}: fast path...", flush=True)
            fast = run_fast(network, paths, spec, settings)
            gap_plain, gap_fast = pool(_maps(plain.flat), GAP_L2), pool(_maps(fast.flat), GAP_L2)
            rows.append(
                {
                    "set": label,
                    "n": len(paths),
                    "plain": plain,
                    "fast": fast,
                    "cos_gap": min_cosine(gap_plain, gap_fast),
                    "cos_flat": min_cosine(plain.flat, fast.flat),
                    # With very few images, the neighbours there are (never the image itself).
                    "top10": top10_agreement(gap_plain, gap_fast, k=min(10, len(paths) - 2))
                    if label.startswith("small") and len(paths) >= 3
                    else None,
                }
            )

    print()
    print(
        "| photos | n | plain img/s | plain ms/img | fast img/s | fast ms/img | speed-up | min cos GAP+L2 "
        "| min cos flat | same top-10 set | top-10 overlap |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        plain, fast = row["plain"], row["fast"]
        top10 = "- | -"
        if row["top10"] is not None:
            same, common = row["top10"]
            top10 = f"{100 * same:.1f}% of {row['n']} queries | {100 * common:.2f}%"
        print(
            f"| {row['set']} | {row['n']} | {plain.per_second:.2f} | {plain.ms_per_image:.0f} | "
            f"{fast.per_second:.2f} | {fast.ms_per_image:.0f} | {plain.seconds / fast.seconds:.2f}x | "
            f"{row['cos_gap']:.5f} | {row['cos_flat']:.5f} | {top10} |"
        )
    print()
    print(f"fast path: {rows[0]['fast'].description}")
    ok = all(row["cos_gap"] >= 0.999 and row["cos_flat"] >= 0.999 for row in rows)
    if rows[0]["n"] >= 1000:
        # The neighbour criterion is about all Corel-1k queries; a sample only indicates it.
        ok = ok and rows[0]["top10"][0] >= 0.99
    if len(rows) == 2:
        ratio = rows[1]["fast"].ms_per_image / rows[0]["fast"].ms_per_image
        print(f"large/small fast ms per image: {ratio:.2f} (floor <= {LARGE_FLOOR:g})")
        ok = ok and ratio <= LARGE_FLOOR
    speedups = ", ".join(f"{row['set']} {row['plain'].seconds / row['fast'].seconds:.2f}x" for row in rows)
    print(f"speed-up (target 8x): {speedups}")
    print("agreement and large-photo floor:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    cli = argparse.ArgumentParser(prog="simages bench extract", description=__doc__)
    add_arguments(cli)
    cli.add_argument("--weights", type=Path, default=None)
    parsed = cli.parse_args()
    raise SystemExit(run_bench(parsed, Settings.from_env(weights=parsed.weights)))
