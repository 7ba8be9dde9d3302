"""VGG-16's convolutional stack run directly in PyTorch, built from the Keras model's own weights.

The fallback engine where the ncnn wheel is missing (ncnn_vgg.py is the default). Keras stays the source
of the model: its layers and weights are copied once into plain torch tensors. The speed comes from
running the same convolutions the way oneDNN runs them fastest on a CPU: channels-last (NHWC)
activations and, where the CPU has native bfloat16 dot products (AVX-512 BF16 or AMX), bf16 weights and
activations with fp32 accumulation; one chunk of images per core. Elsewhere, or with
SIMAGES_PRECISION=fp32, the same code runs in fp32. docs/speed.md has the measurements.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simages.extraction.cpuinfo import cpu_flags
from simages.settings import ENV_PRECISION, environment_setting

PRECISIONS = ("auto", "bf16", "fp32")
# Caffe-style preprocessing VGG-16 was trained with: BGR channel order, ImageNet means subtracted.
BGR_MEANS = (103.939, 116.779, 123.68)
# Images per forward pass: enough to keep oneDNN's kernels busy, small enough that the 224x224x64
# activations (about 13 MB per image in fp32) stay in a bounded few hundred MB.
DEFAULT_CHUNK = 4


@dataclass(frozen=True)
class ConvWeights:
    """One 3x3 'same' convolution + ReLU, torch layout (out, in, 3, 3); `pool_after` marks a 2x2 max-pool."""

    name: str
    kernel: np.ndarray
    bias: np.ndarray
    pool_after: bool


@dataclass
class _Layer:
    kernel: object  # torch (out, in, 3, 3) channels-last, for oneDNN's direct convolution
    bias: object
    pool_after: bool


def conv_weights_from_keras(model) -> list[ConvWeights]:
    """The conv layers of a Keras VGG-16 (include_top=False), in order, with torch-layout kernels."""
    import keras

    layers = list(model.layers)
    convs: list[ConvWeights] = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, keras.layers.Conv2D):
            continue
        kernel, bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
        if kernel.shape[:2] != (3, 3) or layer.strides != (1, 1) or layer.padding != "same":
            raise ValueError(f"{layer.name}: expected a 3x3 stride-1 'same' convolution as in VGG-16")
        following = layers[index + 1] if index + 1 < len(layers) else None
        pool_after = isinstance(following, keras.layers.MaxPooling2D)
        # Keras kernels are (kh, kw, in, out); torch wants (out, in, kh, kw).
        torch_kernel = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
        convs.append(ConvWeights(layer.name, torch_kernel, bias, pool_after))
    if len(convs) != 13:
        raise ValueError(f"expected VGG-16's 13 conv layers, found {len(convs)}")
    return convs




@lru_cache(maxsize=1)
def native_bf16() -> str | None:
    """The CPU feature that makes bf16 convolutions fast here ("AMX" / "AVX-512 BF16"), or None.

    Without native bf16 instructions oneDNN emulates bf16 and is slower than fp32, so we only take the
    bf16 path when the hardware has it, oneDNN says so, and a small convolution actually runs.
    """
    import torch

    flags = cpu_flags()
    feature = "AMX" if "amx_bf16" in flags else "AVX-512 BF16" if "avx512_bf16" in flags else None
    if feature is None or not torch.backends.mkldnn.is_available():
        return None
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return None
        probe = torch.ones(1, 8, 6, 6, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
        weight = torch.ones(8, 8, 3, 3, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
        result = torch.nn.functional.conv2d(probe, weight, padding=1)
        if float(result[0, 0, 2, 2]) != 72.0:
            return None
    except (RuntimeError, AttributeError):
        return None
    return feature


def choose_precision(requested: str | None = None) -> str:
    """'bf16' or 'fp32': the request (argument, else SIMAGES_PRECISION, else auto), if the CPU allows."""
    choice = (requested or environment_setting(ENV_PRECISION) or "auto").strip().lower()
    if choice not in PRECISIONS:
        raise ValueError(f"{ENV_PRECISION}={choice!r}: choose one of {', '.join(PRECISIONS)}")
    if choice == "fp32":
        return "fp32"
    # bf16 is never forced onto a CPU without it: emulated bf16 is slower and no more exact.
    return "bf16" if native_bf16() else "fp32"


class TorchVGG16:
    """`Network` implementation: VGG-16's conv stack in PyTorch, NHWC, bf16 where the CPU has it.

    Images are split into chunks that `workers` threads run concurrently, each with one intra-op
    thread: whole images per core instead of every op split across cores. On a small machine shared
    with other work this matters a lot, since an op split across cores waits for its slowest core.
    """

    def __init__(
        self,
        convs: list[ConvWeights],
        precision: str | None = None,
        chunk: int = DEFAULT_CHUNK,
        workers: int | None = None,
    ) -> None:
        import torch

        self.precision = choose_precision(precision)
        self.dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        self.chunk = max(1, int(chunk))
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        # Folding the RGB->BGR swap into the first kernel is exact and saves a pass over the input.
        first = convs[0]
        swapped = ConvWeights(first.name, first.kernel[:, ::-1].copy(), first.bias, first.pool_after)
        convs = [swapped, *convs[1:]]
        self._layers = [self._prepare(conv) for conv in convs]
        self._means = torch.tensor(BGR_MEANS[::-1], dtype=torch.float32)  # in RGB order, before the swap
        self._pool = None
        if self.workers > 1:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="simages-cnn")
        feature = f" ({native_bf16()})" if self.precision == "bf16" else ""
        threads = f"{self.workers} workers x 1 thread"
        if self.workers == 1:
            threads = f"{torch.get_num_threads()} intra-op threads"
        self.description = f"torch {self.precision} channels-last{feature}, {threads}"

    def _prepare(self, conv: ConvWeights) -> _Layer:
        import torch

        bias = torch.from_numpy(conv.bias).to(self.dtype)
        kernel = torch.from_numpy(conv.kernel).to(self.dtype).contiguous(memory_format=torch.channels_last)
        return _Layer(kernel, bias, conv.pool_after)

    def _forward(self, x):
        """NHWC (n, h, w, c) in the working dtype -> NHWC (n, 7, 7, 512)."""
        import torch
        import torch.nn.functional as F

        for layer in self._layers:
            # An NHWC tensor viewed as NCHW is torch's channels-last layout: oneDNN's fast path.
            x = torch.relu_(F.conv2d(x.permute(0, 3, 1, 2), layer.kernel, layer.bias, padding=1))
            x = x.permute(0, 2, 3, 1)
            if layer.pool_after:
                x = F.max_pool2d(x.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        return x

    def _run_chunk(self, images: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            # Decoded images may be read-only views of Pillow's buffer; torch wants memory it may write.
            x = torch.from_numpy(np.require(images, requirements=["C", "W"])).to(torch.float32) - self._means
            y = self._forward(x.to(self.dtype))
            return y.to(torch.float32).numpy()

    def maps(self, images: np.ndarray) -> np.ndarray:
        """(n, 224, 224, 3) uint8 RGB -> (n, 7, 7, 512) float32, in chunks so memory stays bounded."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected (n, height, width, 3) RGB images, got shape {images.shape}")
        out = np.empty((images.shape[0], 7, 7, 512), dtype=np.float32)
        starts = range(0, images.shape[0], self.chunk)
        chunks = [images[start : start + self.chunk] for start in starts]
        if self._pool is None:
            results = map(self._run_chunk, chunks)
        else:
            results = self._with_one_thread(lambda: list(self._pool.map(self._run_chunk, chunks)))
        for start, maps in zip(starts, results, strict=True):
            out[start : start + maps.shape[0]] = maps
        return out

    def _with_one_thread(self, run):
        """torch's intra-op thread count is process-wide: 1 while any of our workers run, then restored."""
        with _ONE_THREAD:
            return run()


class _OneThread:
    """Reference-counted, so overlapping `maps` calls (an upload during indexing) restore the right count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved = 1

    def __enter__(self) -> None:
        import torch

        with self._lock:
            if self._active == 0:
                self._saved = torch.get_num_threads()
                torch.set_num_threads(1)
            self._active += 1

    def __exit__(self, *exc: object) -> None:
        import torch

        with self._lock:
            self._active -= 1
            if self._active == 0:
                torch.set_num_threads(self._saved)


_ONE_THREAD = _OneThread()
