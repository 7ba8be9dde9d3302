"""VGG-16's convolution weights, read from Keras once per weights file and kept beside the features.

Building Keras' VGG-16 and reading its HDF5 weights takes about 5 s, which every new process paid before
its first descriptor: `simages query photo.jpg`, the app's first upload, an indexing run that finds two new
files. The 13 kernels Keras produces are what the fast engines use, so they are kept in
`features/.cache/` under the weights file's sha256; a later process loads them in a fraction of a second.
Keras stays their source: the cache is only ever written from a Keras model, and other weights (another
hash) or another cache layout (another version) simply miss it.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np

from simages.extraction import keras_vgg
from simages.extraction.torch_vgg import ConvWeights, conv_weights_from_keras
from simages.settings import MissingWeightsError, file_sha256, weights_problem
from simages.store.atomic import write_atomically

log = logging.getLogger(__name__)

CACHE_VERSION = 1
VGG16_CONVS = 13


def cache_path(folder: Path, weights: Path) -> Path:
    """Where the kernels of this weights file are kept (the name carries the file's sha256)."""
    return folder / f"vgg16-convs-v{CACHE_VERSION}-{file_sha256(str(weights.resolve()))}.npz"


def save_convs(path: Path, convs: list[ConvWeights]) -> None:
    """Write atomically: a crash leaves either no cache file or a whole one."""
    arrays: dict[str, np.ndarray] = {
        "names": np.array([conv.name for conv in convs]),
        "pool_after": np.array([conv.pool_after for conv in convs]),
    }
    for index, conv in enumerate(convs):
        arrays[f"kernel{index}"] = conv.kernel
        arrays[f"bias{index}"] = conv.bias
    # Uncompressed: float weights barely compress, and load faster.
    write_atomically(path, lambda stream: np.savez(stream, **arrays))


def load_convs(path: Path) -> list[ConvWeights] | None:
    """The kept kernels, or None when there is no usable cache file (then Keras is asked again)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            names = [str(name) for name in data["names"]]
            pools = [bool(flag) for flag in data["pool_after"]]
            kernels = [np.asarray(data[f"kernel{i}"], np.float32) for i in range(len(names))]
            biases = [np.asarray(data[f"bias{i}"], np.float32) for i in range(len(names))]
        convs = [ConvWeights(*fields) for fields in zip(names, kernels, biases, pools, strict=True)]
    except FileNotFoundError:
        return None
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        log.warning("ignoring the unreadable weights cache %s: %s", path, error)
        return None
    channels = 3
    for conv in convs:
        if conv.kernel.shape[1:] != (channels, 3, 3) or conv.bias.shape != (conv.kernel.shape[0],):
            log.warning("ignoring the weights cache %s: %s has the wrong shape", path, conv.name)
            return None
        channels = conv.kernel.shape[0]
    if len(convs) != VGG16_CONVS:
        return None
    return convs


def vgg16_convs(weights: Path | None, cache_folder: Path | None = None) -> list[ConvWeights]:
    """VGG-16's conv kernels for a weights file (None: Keras' own download), from the cache if it has them."""
    if weights is None or cache_folder is None:
        return conv_weights_from_keras(keras_vgg.keras_vgg16(weights))
    problem = weights_problem(weights)
    if problem:
        raise MissingWeightsError(problem)
    path = cache_path(cache_folder, weights)
    convs = load_convs(path)
    if convs is not None:
        return convs
    convs = conv_weights_from_keras(keras_vgg.keras_vgg16(weights))
    try:
        save_convs(path, convs)
    except OSError as error:  # a read-only features/ folder only costs the next process 5 s
        log.warning("could not keep the VGG-16 kernels in %s: %s", path.parent, error)
    return convs
