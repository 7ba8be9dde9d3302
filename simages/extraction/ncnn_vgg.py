"""VGG-16's convolutional stack run by ncnn, built from the Keras model's own weights.

Keras stays the source of the model: its 13 kernels are written once into an ncnn network description
(a text param file and a raw fp32 weights file, ncnn's own formats) and loaded by the `ncnn` wheel.
The speed comes from ncnn's fp32 Winograd kernels (F(6x6,3x3): 64 multiplications where a direct
convolution needs 324 per 6x6 output tile, packed for AVX-512), so this path is as fast on a CPU
without AMX as oneDNN's bf16 path while it computes in fp32: its maps agree with Keras' predict to about
1e-6 relative, so neighbour lists do not change. docs/speed.md has the measurements.
"""

from __future__ import annotations

import os
import struct
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simages.extraction.torch_vgg import BGR_MEANS, ConvWeights

INPUT_SIDE = 224
# The magic of ncnn's model file: 0 before a weight array means "raw little-endian float32 follows".
_RAW_FP32 = struct.pack("<I", 0)


@dataclass(frozen=True)
class NcnnModel:
    """An ncnn network in its two file formats, and the name of the blob that holds the 7x7x512 map."""

    param: str
    weights: bytes
    output: str


def ncnn_model(convs: list[ConvWeights], side: int = INPUT_SIDE) -> NcnnModel:
    """VGG-16's conv stack (3x3 same convolutions + ReLU, 2x2 max-pools) as ncnn param and model files.

    The input is RGB as decoded; the RGB->BGR swap the network was trained with is folded into the
    first kernel, which is exact.
    """
    lines = [f"Input data 0 1 data 0={side} 1={side} 2=3"]
    weights = bytearray()
    previous = "data"
    for index, conv in enumerate(convs):
        kernel = conv.kernel[:, ::-1] if index == 0 else conv.kernel
        kernel = np.ascontiguousarray(kernel, dtype="<f4")
        if kernel.shape[2:] != (3, 3):
            raise ValueError(f"{conv.name}: expected a 3x3 kernel, got {kernel.shape}")
        # Convolution: 0=outputs 1=kernel size 4=padding 5=has bias 6=weight count 9=activation (1: ReLU)
        lines.append(
            f"Convolution {conv.name} 1 1 {previous} {conv.name} "
            f"0={kernel.shape[0]} 1=3 4=1 5=1 6={kernel.size} 9=1"
        )
        weights += _RAW_FP32 + kernel.tobytes() + np.asarray(conv.bias, dtype="<f4").tobytes()
        previous = conv.name
        if conv.pool_after:
            # Pooling: 0=max 1=kernel 2=stride 5=valid padding (floor, as Keras' MaxPooling2D)
            pooled = f"{conv.name}_pool"
            lines.append(f"Pooling {pooled} 1 1 {previous} {pooled} 0=0 1=2 2=2 5=1")
            previous = pooled
    header = f"7767517\n{len(lines)} {len(lines)}\n"
    return NcnnModel(header + "\n".join(lines) + "\n", bytes(weights), previous)


def ncnn_available() -> bool:
    try:
        import ncnn  # noqa: F401
    except ImportError:
        return False
    return True


class NcnnVGG16:
    """`Network` implementation on ncnn: fp32 Winograd convolutions, one image per core at a time.

    Each worker thread runs whole images with a single-threaded ncnn extractor (ncnn releases the GIL
    while it computes): on a small machine shared with other work this is steadier than splitting every
    layer across cores, where each layer waits for the slowest core.
    """

    def __init__(self, convs: list[ConvWeights], workers: int | None = None) -> None:
        import ncnn

        self._ncnn = ncnn
        model = ncnn_model(convs)
        self._output = model.output
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self._net = ncnn.Net()
        self._net.opt.num_threads = 1
        self._net.opt.use_packing_layout = True
        self._net.opt.use_winograd_convolution = True
        # fp16/bf16 storage would round activations; fp32 is what keeps neighbour lists unchanged.
        self._net.opt.use_fp16_storage = False
        self._net.opt.use_fp16_packed = False
        self._net.opt.use_fp16_arithmetic = False
        self._net.opt.use_bf16_storage = False
        # ncnn reads its model from files; they are only needed while it loads them.
        with tempfile.TemporaryDirectory(prefix="simages-ncnn-") as folder:
            param, weights = Path(folder) / "vgg16.param", Path(folder) / "vgg16.bin"
            param.write_text(model.param)
            weights.write_bytes(model.weights)
            if self._net.load_param(str(param)) != 0:
                raise RuntimeError("ncnn refused the VGG-16 network description")
            self._net.load_model(str(weights))
        self._means = [float(m) for m in BGR_MEANS[::-1]]  # RGB order: the swap is in the first kernel
        self._pool = None
        if self.workers > 1:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="simages-ncnn")
        self.description = f"ncnn {ncnn.__version__} fp32 Winograd, {self.workers} workers x 1 thread"

    def _one(self, image: np.ndarray) -> np.ndarray:
        ncnn = self._ncnn
        pixels = np.require(image, dtype=np.uint8, requirements=["C"])
        height, width = pixels.shape[:2]
        if (height, width) != (INPUT_SIDE, INPUT_SIDE):
            raise ValueError(f"expected {INPUT_SIDE}x{INPUT_SIDE} images, got {width}x{height}")
        mat = ncnn.Mat.from_pixels(pixels, ncnn.Mat.PixelType.PIXEL_RGB, width, height)
        mat.substract_mean_normalize(self._means, [])
        extractor = self._net.create_extractor()
        extractor.input("data", mat)
        status, out = extractor.extract(self._output)
        if status != 0:
            raise RuntimeError(f"ncnn failed to run VGG-16 (status {status})")
        return np.array(out).transpose(1, 2, 0)  # (512, 7, 7) -> (7, 7, 512)

    def maps(self, images: np.ndarray) -> np.ndarray:
        """(n, 224, 224, 3) uint8 RGB -> (n, 7, 7, 512) float32."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected (n, height, width, 3) RGB images, got shape {images.shape}")
        out = np.empty((images.shape[0], 7, 7, 512), dtype=np.float32)
        results = map(self._one, images) if self._pool is None else self._pool.map(self._one, images)
        for index, maps in enumerate(results):
            out[index] = maps
        return out
