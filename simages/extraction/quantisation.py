"""VGG-16's conv stack in int8: NNCF post-training quantisation of the OpenVINO graph, made on this machine.

int8 dot products are the last hardware lever for the network (docs/speed.md): AVX-512 VNNI and AVX-VNNI
multiply-add twice as many values per instruction as bf16, and AMX-INT8 tiles four times as many as AMX
bf16. So on CPUs with one of them (`int8_instructions`), the calibration (calibration.py) offers an
`openvino int8` candidate, and takes it only when it is faithful and faster there.

Method: NNCF's post-training quantisation (`nncf.quantize`; Kozlov et al., "Neural Network Compression
Framework for fast model inference", arXiv:2002.08679): weights per output channel, symmetric; activations
per tensor, from their min/max over a calibration set, then a fast bias correction that restores each
layer's mean output. The layers in `KEEP_FLOAT` stay in floating point (bf16 where native): the first
convolution sees raw pixels (3 channels, 0.6% of the multiply-adds) and the last ones write the map the
descriptors are pooled from, where rounding errors reach the descriptor undamped.

Calibrated only on images SIMages may redistribute (calibration_photos.py: the demo set's photos, crops
and mirrors, and generated scenes), never on a benchmark set. The quantised model (an OpenVINO IR of
about 15 MB) is made on the user's machine at first use (NNCF is an optional extra, `pip install
simages[int8]`) and kept in features/.cache under a name made of the weights' id, the OpenVINO and NNCF
versions and `RECIPE_VERSION`: the same inputs give the same IR on any x86 CPU (OpenVINO picks kernels
at compile time), so machines sharing a features/ folder share it, while whether int8 is *used* is
decided per CPU by the calibration. It is never part of the repository (features/ is ignored).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

RECIPE_VERSION = 1
# Calibration images for the activation ranges: the demo set's views first, then generated scenes.
CALIBRATION_IMAGES = 48
# Convolutions (by Keras layer name) left in floating point; see the module docstring.
KEEP_FLOAT = ("block1_conv1",)
# CPU flags of int8 dot-product instructions; without one, int8 runs on emulation (AVX2 pmaddubsw) that
# is no faster than bf16/fp32 and is not offered.
INT8_FLAGS = {"amx_int8": "AMX-INT8", "avx512_vnni": "AVX-512 VNNI", "avx_vnni": "AVX-VNNI"}


def nncf_version() -> str | None:
    try:
        return metadata.version("nncf")
    except metadata.PackageNotFoundError:
        return None


def int8_instructions(flags: list[str] | set[str]) -> str | None:
    """The best int8 dot-product instruction set among CPU `flags` ('AMX-INT8', 'AVX-512 VNNI',
    'AVX-VNNI'), or None when the CPU has none (then int8 would be emulated, and is never offered)."""
    return next((name for flag, name in INT8_FLAGS.items() if flag in flags), None)


def int8_available(flags: list[str] | set[str]) -> bool:
    """Whether an int8 candidate can run here: native int8 dot products, OpenVINO and NNCF installed."""
    from simages.extraction.openvino_vgg import openvino_available

    return int8_instructions(flags) is not None and openvino_available() and nncf_version() is not None


@dataclass(frozen=True)
class QuantisedModel:
    """An int8 OpenVINO model and where it came from."""

    model: object  # openvino.Model
    path: Path | None  # the kept IR (.xml), None when it was not kept
    seconds: float  # what making it cost now (0.0 when it was read from the cache)


def ir_path(cache_folder: Path, weights_id: str) -> Path:
    """Where the quantised IR for these weights, OpenVINO and NNCF versions and recipe is kept (.xml;
    OpenVINO writes the weights beside it as .bin)."""
    from simages.extraction.openvino_vgg import openvino_version

    identity = f"{weights_id}|openvino {openvino_version()}|nncf {nncf_version()}|recipe {RECIPE_VERSION}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return cache_folder / f"vgg16-int8-r{RECIPE_VERSION}-{digest}.xml"


def quantise(convs, images: np.ndarray | None = None, keep_float: tuple[str, ...] = KEEP_FLOAT):
    """The int8 OpenVINO model of VGG-16's conv stack `convs` (list[ConvWeights]), calibrated on `images`
    ((n, 224, 224, 3) uint8 RGB; default: calibration_photos.calibration_set(CALIBRATION_IMAGES)).

    Raises ImportError when NNCF or OpenVINO is missing."""
    import nncf

    from simages.extraction.calibration_photos import calibration_set
    from simages.extraction.openvino_vgg import openvino_graph

    if images is None:
        images = calibration_set(CALIBRATION_IMAGES)
    graph = openvino_graph(convs)
    samples = [np.ascontiguousarray(image[None], dtype=np.uint8) for image in images]
    keep = [f"{name}/conv" for name in keep_float]
    # The first `simages index` runs this inside the engine calibration, which the CLI announces in one
    # line: NNCF's INFO lines and its progress bars (printed on stdout) would bury it and the index's bar.
    nncf.set_log_level(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()):
        return nncf.quantize(
            graph,
            nncf.Dataset(samples),
            preset=nncf.QuantizationPreset.PERFORMANCE,
            target_device=nncf.TargetDevice.CPU,
            subset_size=len(samples),
            fast_bias_correction=True,
            ignored_scope=nncf.IgnoredScope(names=keep, validate=True) if keep else None,
        )


def quantised_model(convs, cache_folder: Path | None, weights_id: str) -> QuantisedModel:
    """The kept int8 model for these weights, or a new one (tens of seconds), kept in `cache_folder`.

    A missing or unreadable IR is made again; a read-only folder only costs making it again next time.
    Raises ImportError when NNCF or OpenVINO is missing."""
    import openvino

    path = ir_path(cache_folder, weights_id) if cache_folder is not None else None
    if path is not None and path.exists() and path.with_suffix(".bin").exists():
        try:
            return QuantisedModel(openvino.Core().read_model(str(path)), path, 0.0)
        except RuntimeError as error:
            log.warning("ignoring the unreadable int8 model %s: %s", path, error)
    log.info("quantising VGG-16 to int8 on photos SIMages ships (once per weights file, about a minute)")
    start = time.perf_counter()
    model = quantise(convs)
    seconds = time.perf_counter() - start
    if path is None:
        return QuantisedModel(model, None, seconds)
    try:
        _save_atomically(model, path)
    except (OSError, RuntimeError) as error:
        log.warning("could not keep the int8 model in %s: %s", path.parent, error)
        return QuantisedModel(model, None, seconds)
    return QuantisedModel(model, path, seconds)


def _save_atomically(model, path: Path) -> None:
    """Write the IR's two files under temporary names, then rename the .bin before the .xml: a reader
    that finds the .xml finds its weights (a crash leaves at most an orphan .bin, overwritten later)."""
    import os

    import openvino

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.xml")
    openvino.save_model(model, str(temporary), compress_to_fp16=False)
    os.replace(temporary.with_suffix(".bin"), path.with_suffix(".bin"))
    os.replace(temporary, path)
