"""The convolutional network that turns 224x224 RGB images into VGG-16's 7x7x512 map.

`Network` is what the rest of SIMages sees: a batch of uint8 RGB images in, float32 maps out, plus a
description of which computation path ran. Keras is always the source of the model and its weights.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from simages.settings import MissingWeightsError, weights_problem

if TYPE_CHECKING:
    from simages.extraction.torch_vgg import ConvWeights

MAP_SHAPE = (7, 7, 512)


class Network(Protocol):
    description: str

    def maps(self, images: np.ndarray) -> np.ndarray:
        """(n, 224, 224, 3) uint8 RGB -> (n, 7, 7, 512) float32."""
        ...


def keras_vgg16(weights: Path | None):  # -> keras.Model
    """Keras' VGG-16 without the classifier: from a local weights file, or Keras' own download."""
    # The simages package has set KERAS_BACKEND=torch before anything imports keras.
    import keras

    if weights is not None:
        # Our message names the setting to fix; Keras' own would be about an unreadable HDF5 file.
        problem = weights_problem(weights)
        if problem:
            raise MissingWeightsError(problem)
        return keras.applications.VGG16(include_top=False, weights=str(weights), input_shape=(224, 224, 3))
    try:
        return keras.applications.VGG16(include_top=False, weights="imagenet", input_shape=(224, 224, 3))
    except Exception as error:  # Keras raises a bare Exception when its download fails
        if "fetch failure" not in str(error) and "download" not in str(error).lower():
            raise
        raise MissingWeightsError(
            "Keras could not download the VGG-16 weights (no internet connection?). Download "
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 elsewhere and set SIMAGES_WEIGHTS "
            "(or --weights) to its path."
        ) from error


class PlainKerasNetwork:
    """The reference path: Keras' preprocessing and `model.predict` in fp32, as the original design did."""

    description = "keras predict fp32 (reference)"

    def __init__(self, weights: Path | None, batch_size: int = 64, model=None) -> None:
        self.model = model if model is not None else keras_vgg16(weights)
        self.batch_size = batch_size

    def maps(self, images: np.ndarray) -> np.ndarray:
        from keras.applications.vgg16 import preprocess_input

        batch = preprocess_input(np.asarray(images, dtype=np.float32))
        return np.asarray(self.model.predict(batch, batch_size=self.batch_size, verbose=0), dtype=np.float32)


class TinyNetwork:
    """A deterministic stand-in with VGG-16's output shape, for fast tests of everything around the model.

    Each 32x32 block of the image becomes one cell of the 7x7 map through a fixed random projection of its
    mean colour and texture, so similar images still get similar maps.
    """

    description = "tiny stand-in network (tests only)"

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.projection = rng.standard_normal((6, MAP_SHAPE[2])).astype(np.float32)

    def maps(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32) / 255.0
        n = x.shape[0]
        blocks = x.reshape(n, 7, 32, 7, 32, 3)
        features = np.concatenate([blocks.mean(axis=(2, 4)), blocks.std(axis=(2, 4))], axis=-1)
        return np.maximum(features @ self.projection, 0.0).astype(np.float32)


ENV_ENGINE = "SIMAGES_ENGINE"
ENGINES = ("auto", "ncnn", "torch")


def choose_engine(requested: str | None = None) -> str:
    """'ncnn' or 'torch': the request (argument, else SIMAGES_ENGINE, else auto).

    auto prefers ncnn (fp32 Winograd: as fast here as torch's bf16 path, and exact); torch is the
    fallback where the ncnn wheel is not installed.
    """
    from simages.extraction.ncnn_vgg import ncnn_available

    choice = (requested or os.environ.get(ENV_ENGINE) or "auto").strip().lower()
    if choice not in ENGINES:
        raise ValueError(f"{ENV_ENGINE}={choice!r}: choose one of {', '.join(ENGINES)}")
    if choice == "ncnn" and not ncnn_available():
        raise RuntimeError(f"{ENV_ENGINE}=ncnn, but the ncnn package is not installed (pip install ncnn)")
    if choice == "auto":
        return "ncnn" if ncnn_available() else "torch"
    return choice


def load_network(
    weights: Path | None, fast: bool = True, engine: str | None = None, cache_folder: Path | None = None
) -> Network:
    """The network used for indexing and keys. `fast` selects the optimised path, on `engine`; its
    kernels come from Keras, or from `cache_folder` where an earlier process kept them."""
    if not fast:
        return PlainKerasNetwork(weights)
    from simages.extraction.conv_cache import vgg16_convs

    chosen = choose_engine(engine)  # before the kernels: a bad setting should not cost 5 s first
    return fast_network(vgg16_convs(weights, cache_folder), chosen)


def fast_network(
    convs: list[ConvWeights], engine: str | None = None, precision: str | None = None
) -> Network:
    """The fast path for VGG-16's conv kernels on `engine` (see choose_engine); `precision` applies to
    the torch engine."""
    if choose_engine(engine) == "ncnn":
        from simages.extraction.ncnn_vgg import NcnnVGG16

        return NcnnVGG16(convs)
    from simages.extraction.torch_vgg import TorchVGG16

    return TorchVGG16(convs, precision=precision)
