"""VGG-16's convolutional stack run by OpenVINO (Intel's CPU inference runtime), from the Keras weights.

An optional engine (`pip install openvino`, about 50 MB): the calibration (calibration.py) only offers
it when the wheel is installed. Keras stays the source of the model: its 13 kernels become constants of
an OpenVINO graph built in memory (no model file, no converter), which OpenVINO compiles for this CPU.
Its speed comes from oneDNN kernels OpenVINO picks per layer, and, with `precision="bf16"`
(`INFERENCE_PRECISION_HINT`), from bf16 matrix tiles on CPUs with AMX. Preprocessing (uint8 RGB -> float,
ImageNet means) is part of the graph, and the RGB->BGR swap is folded into the first kernel (exact).
Images go through independent inference requests, one per core, as ncnn_vgg.py runs one per thread.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from simages.extraction.torch_vgg import BGR_MEANS, ConvWeights

INPUT_SIDE = 224
PRECISIONS = ("fp32", "bf16", "int8")
_HINTS = {"fp32": "f32", "bf16": "bf16"}


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def openvino_version() -> str:
    """The installed OpenVINO release, e.g. '2026.4.1' (build suffix dropped)."""
    import openvino

    return openvino.__version__.split("-")[0]


def openvino_bf16() -> bool:
    """Whether OpenVINO computes bf16 natively on this CPU (AMX or AVX-512 BF16); never emulated."""
    if not openvino_available():
        return False
    import openvino

    try:
        capabilities = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except RuntimeError:
        return False
    return "BF16" in capabilities


def openvino_graph(convs: list[ConvWeights], side: int = INPUT_SIDE):  # -> openvino.Model
    """VGG-16's conv stack as an OpenVINO model: (1, side, side, 3) uint8 RGB in, (1, 7, 7, 512) f32 out."""
    import openvino
    import openvino.opset13 as ops

    image = ops.parameter([1, side, side, 3], openvino.Type.u8, name="image")
    means = ops.constant(np.array(BGR_MEANS[::-1], dtype=np.float32).reshape(1, 1, 1, 3))
    x = ops.subtract(ops.convert(image, openvino.Type.f32), means)
    x = ops.transpose(x, ops.constant(np.array([0, 3, 1, 2], dtype=np.int64)))
    for index, conv in enumerate(convs):
        kernel = conv.kernel[:, ::-1] if index == 0 else conv.kernel  # RGB->BGR swap, folded in
        if kernel.shape[2:] != (3, 3):
            raise ValueError(f"{conv.name}: expected a 3x3 kernel, got {kernel.shape}")
        x = ops.convolution(
            x, ops.constant(np.ascontiguousarray(kernel, dtype=np.float32)), [1, 1], [1, 1], [1, 1], [1, 1]
        )
        x.set_friendly_name(f"{conv.name}/conv")  # how quantisation.KEEP_FLOAT names a layer
        bias = np.asarray(conv.bias, dtype=np.float32).reshape(1, -1, 1, 1)
        x = ops.relu(ops.add(x, ops.constant(bias)))
        if conv.pool_after:
            # 2x2 stride-2 max-pool with floor rounding, as Keras' MaxPooling2D ('valid')
            x = ops.max_pool(x, [2, 2], [1, 1], [0, 0], [0, 0], [2, 2], rounding_type="floor").output(0)
    x = ops.transpose(x, ops.constant(np.array([0, 2, 3, 1], dtype=np.int64)))
    return openvino.Model([ops.result(x)], [image], "vgg16_convs")


class OpenVinoVGG16:
    """`Network` implementation on OpenVINO, fp32, bf16 or int8, `workers` inference requests in flight.

    int8 needs `model`, the quantised graph (quantisation.quantised_model); its layers left in floating
    point run in bf16 where the CPU has it natively, else fp32."""

    def __init__(
        self,
        convs: list[ConvWeights],
        precision: str = "fp32",
        workers: int | None = None,
        model=None,  # openvino.Model: the int8 graph, for precision "int8"
    ) -> None:
        import openvino

        if precision not in PRECISIONS:
            raise ValueError(f"OpenVINO precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        if precision == "bf16" and not openvino_bf16():
            raise RuntimeError("OpenVINO has no native bf16 on this CPU; use precision fp32")
        if precision == "int8" and model is None:
            raise ValueError("OpenVINO int8 needs the quantised model (quantisation.quantised_model)")
        self.precision = precision
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        core = openvino.Core()
        hint = _HINTS.get(precision) or ("bf16" if openvino_bf16() else "f32")
        config = {
            "INFERENCE_PRECISION_HINT": hint,
            # One stream per worker with one thread each: whole images per core, as the other engines.
            "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": str(self.workers),
            "INFERENCE_NUM_THREADS": str(self.workers),
        }
        self._compiled = core.compile_model(
            model if model is not None else openvino_graph(convs), "CPU", config
        )
        self._queue = openvino.AsyncInferQueue(self._compiled, self.workers)
        self._lock = threading.Lock()
        kind = (
            precision if precision != "int8" else f"int8 (NNCF; other layers {hint.replace('f32', 'fp32')})"
        )
        self.description = f"openvino {openvino_version()} {kind}, {self.workers} requests x 1 thread"

    def maps(self, images: np.ndarray) -> np.ndarray:
        """(n, 224, 224, 3) uint8 RGB -> (n, 7, 7, 512) float32."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected (n, height, width, 3) RGB images, got shape {images.shape}")
        if images.shape[1:3] != (INPUT_SIDE, INPUT_SIDE):
            raise ValueError(
                f"expected {INPUT_SIDE}x{INPUT_SIDE} images, got {images.shape[2]}x{images.shape[1]}"
            )
        out = np.empty((images.shape[0], 7, 7, 512), dtype=np.float32)

        def done(request, index: int) -> None:
            out[index] = request.get_output_tensor(0).data[0]

        # One queue per network: overlapping callers (an upload during indexing) take turns.
        with self._lock:
            self._queue.set_callback(done)
            for index, image in enumerate(images):
                pixels = np.require(image[None], dtype=np.uint8, requirements=["C"])
                self._queue.start_async({0: pixels}, index)
            self._queue.wait_all()
        return out
