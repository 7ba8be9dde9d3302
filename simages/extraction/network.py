"""The convolutional network that turns 224x224 RGB images into VGG-16's 7x7x512 map.

`Network` is what the rest of SIMages sees: a batch of uint8 RGB images in, float32 maps out, plus a
description of which computation path ran. Keras is always the source of the model and its weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from simages.extraction.keras_vgg import keras_vgg16
from simages.settings import (
    file_sha256,
)

if TYPE_CHECKING:
    from simages.extraction.torch_vgg import ConvWeights

MAP_SHAPE = (7, 7, 512)


class Network(Protocol):
    description: str

    def maps(self, images: np.ndarray) -> np.ndarray:
        """(n, 224, 224, 3) uint8 RGB -> (n, 7, 7, 512) float32."""
        ...


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


ENGINES = ("auto", "ncnn", "torch", "openvino")
PRECISIONS = ("auto", "fp32", "bf16", "int8")


def build_engine(
    convs: list[ConvWeights],
    engine: str,
    precision: str,
    cache_folder: Path | None = None,
    weights_id: str | None = None,
) -> Network:
    """VGG-16's conv stack on one engine ('ncnn', 'torch', 'openvino') in one precision ('fp32', 'bf16',
    'int8': OpenVINO only, quantised by NNCF on first use and kept in `cache_folder` under `weights_id`).

    Raises ValueError for a combination that does not exist (ncnn runs fp32 only: its bf16 mode was
    measured less accurate and not faster) and RuntimeError when the engine is missing or the CPU has
    no native bf16 or int8.
    """
    if precision == "int8":
        return _openvino_int8(convs, cache_folder, weights_id or _kernels_id(convs), engine)
    if engine == "ncnn":
        if precision != "fp32":
            raise ValueError("the ncnn engine runs fp32 only")
        from simages.extraction.ncnn_vgg import NcnnVGG16

        return NcnnVGG16(convs)
    if engine == "torch":
        from simages.extraction.torch_vgg import TorchVGG16, native_bf16

        if precision == "bf16" and native_bf16() is None:
            raise RuntimeError("torch has no native bf16 on this CPU (it needs AVX-512 BF16 or AMX)")
        return TorchVGG16(convs, precision=precision)
    if engine == "openvino":
        from simages.extraction.openvino_vgg import OpenVinoVGG16

        return OpenVinoVGG16(convs, precision=precision)
    raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


def _openvino_int8(
    convs: list[ConvWeights], cache_folder: Path | None, weights_id: str, engine: str
) -> Network:
    from simages.extraction.calibration import cpu_identity
    from simages.extraction.openvino_vgg import OpenVinoVGG16
    from simages.extraction.quantisation import int8_available, int8_instructions, quantised_model

    if engine != "openvino":
        raise ValueError(f"int8 runs on OpenVINO only, not {engine}")
    flags = cpu_identity()["flags"]
    if int8_instructions(flags) is None:
        raise RuntimeError(
            "this CPU has no int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI or AMX-INT8); "
            "int8 would be emulated, slower than fp32"
        )
    if not int8_available(flags):
        raise RuntimeError("int8 needs OpenVINO and NNCF: pip install 'simages[int8]'")
    quantised = quantised_model(convs, cache_folder, weights_id)
    network = OpenVinoVGG16(convs, "int8", model=quantised.model)
    network.quantisation_seconds = quantised.seconds
    network.description = network.description.replace("int8 (", f"int8 ({int8_instructions(flags)}, ", 1)
    return network


def load_network(
    weights: Path | None,
    fast: bool = True,
    engine: str | None = None,
    cache_folder: Path | None = None,
    precision: str | None = None,
) -> Network:
    """The network used for indexing and keys, loaded once per process (see describe.network_for).

    `fast` selects the optimised path: the engine and precision asked for (argument, else
    SIMAGES_ENGINE / SIMAGES_PRECISION, else auto), auto meaning the fastest faithful one calibrated on
    this CPU (calibration.py; kept in `cache_folder`, normally features/.cache). Its kernels come from
    Keras, or from `cache_folder` where an earlier process kept them. The description says which path
    runs and why. Raises ValueError for an unknown setting, RuntimeError for a missing engine,
    MissingWeightsError for missing weights.
    """
    if not fast:
        return PlainKerasNetwork(weights)
    from simages.extraction.calibration import available_candidates, matching, requested
    from simages.extraction.conv_cache import vgg16_convs

    # Before the kernels: a bad setting or a missing engine should not cost 5 s first.
    asked_engine, asked_precision = requested(engine, precision)
    if asked_engine != "auto":
        matching(available_candidates(asked_engine), asked_engine, asked_precision)
    convs = vgg16_convs(weights, cache_folder)
    weights_id = "keras-imagenet" if weights is None else file_sha256(str(Path(weights).resolve()))
    return fast_network(convs, engine, precision, cache_folder=cache_folder, weights_id=weights_id)


def calibration_pending_for(weights: Path | None, cache_folder: Path | None) -> bool:
    """Whether loading the network with these weights (the engine settings of the environment) will first
    calibrate the engines on this CPU: a caller can say so before the wait."""
    from simages.extraction.calibration import calibration_pending

    weights_id = "keras-imagenet" if weights is None else file_sha256(str(Path(weights).resolve()))
    try:
        return calibration_pending(weights_id, cache_folder)
    except ValueError:  # a bad setting: the load itself reports it
        return False


def fast_network(
    convs: list[ConvWeights],
    engine: str | None = None,
    precision: str | None = None,
    cache_folder: Path | None = None,
    weights_id: str | None = None,
    fresh: bool = False,
) -> Network:
    """The fast path for VGG-16's conv kernels: forced by `engine`/`precision`, else calibrated.

    Without `cache_folder` a needed calibration runs now and is not kept; `fresh` recalibrates even
    when one is kept. The returned network's `choice` (calibration.Choice) says which path and why, and
    its description ends with that reason.
    """
    from simages.extraction.calibration import calibrated_choice

    if weights_id is None:
        weights_id = _kernels_id(convs)
    network, choice = calibrated_choice(
        weights_id,
        cache_folder,
        lambda candidate: build_engine(
            convs, candidate.engine, candidate.precision, cache_folder=cache_folder, weights_id=weights_id
        ),
        engine,
        precision,
        fresh=fresh,
    )
    network.choice = choice
    network.description = f"{network.description} [{choice.reason}]"
    return network


def _kernels_id(convs: list[ConvWeights]) -> str:
    """A short fingerprint of the kernels themselves, when no weights file names them."""
    import hashlib

    digest = hashlib.sha256()
    for conv in convs:
        digest.update(np.ascontiguousarray(conv.kernel[:, :, 1, 1]).tobytes())
        digest.update(np.ascontiguousarray(conv.bias).tobytes())
    return digest.hexdigest()[:16]
