"""The mapper: one batch of image sources in, descriptors out (decode + network + pooling).

It runs in the indexing process or on a cluster worker; it never touches a store. On a worker the
network is built once per worker process from the kernels the client sent once, through the project's
one entry point (`network.fast_network`), so a worker follows the engine choice of its own machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simages.extraction.describe import describe_images
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.network import Network, fast_network
from simages.extraction.pipeline import DecodedBatch, decode_batch
from simages.jobs.reader import BatchInput, SharedFile, read_verified

if TYPE_CHECKING:
    from simages.extraction.torch_vgg import ConvWeights

NetworkFactory = Callable[[], Network]


@dataclass
class MappedBatch:
    """The mapper's answer for one batch; names[i] belongs to vectors[i]."""

    index: int
    names: list[str]
    vectors: np.ndarray  # (k, d) float32, k == len(names)
    failures: list[tuple[str, str]]  # (name, reason) for files that could not be decoded
    network: str  # the network's description (which engine ran)
    where: str = "in-process"  # the cluster worker's address
    decode_seconds: float = 0.0
    network_seconds: float = 0.0  # network and pooling
    started: float = 0.0  # wall clock (time.time()) on the mapper's machine
    finished: float = 0.0
    # Filled in by the distributor: the client reading the files' bytes; the batch travelling (the
    # worker idle waiting for it, and the way back); the batch waiting behind others already sent.
    read_seconds: float = 0.0
    transfer_seconds: float = 0.0
    queue_seconds: float = 0.0

    @property
    def compute_seconds(self) -> float:
        return self.decode_seconds + self.network_seconds


def describe_decoded(
    index: int, decoded: DecodedBatch, network: Network, spec: DescriptorSpec, where: str = "in-process"
) -> MappedBatch:
    """Network and pooling for a decoded batch, timed; a batch of only failures needs no network."""
    started = time.perf_counter()
    if decoded.names:
        vectors = np.asarray(describe_images(network, decoded.images, spec), dtype=np.float32)
    else:
        vectors = np.zeros((0, spec.dimension), np.float32)
    return MappedBatch(
        index,
        list(decoded.names),
        vectors,
        list(decoded.failures),
        network.description,
        where,
        decode_seconds=decoded.seconds,
        network_seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class MapperJob:
    """What a cluster worker needs besides the batch and the kernels; small and picklable.

    `token` names the network: a worker process builds it once per token. `network_factory` replaces
    the VGG-16 kernels (tests' stand-in network); it must be picklable by cloudpickle.
    """

    spec: DescriptorSpec
    max_pixels: int
    token: str
    network_factory: NetworkFactory | None = None


@dataclass
class _WorkerNetworks:
    """The networks built in this worker process, by token (one thread builds, the others wait)."""

    networks: dict[str, Network] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, job: MapperJob, kernels: list[ConvWeights] | None) -> Network:
        with self.lock:
            network = self.networks.get(job.token)
            if network is None:
                if job.network_factory is not None:
                    network = job.network_factory()
                elif kernels is not None:
                    network = fast_network(kernels)
                else:
                    raise ValueError("a mapper job needs either VGG-16 kernels or a network factory")
                # One run's network at a time: an old token's kernels would only hold memory.
                self.networks = {job.token: network}
            return network


# Per worker process by design: Dask runs tasks as plain functions, and the whole point is that the
# network (about 60 MB of kernels, plus the engine's own set-up) is built once per process, not per batch.
_WORKER_NETWORKS = _WorkerNetworks()


def map_on_worker(batch: BatchInput, job: MapperJob, kernels: list[ConvWeights] | None) -> MappedBatch:
    """The Dask task: decode, network and pooling for one batch, in a worker process."""
    began = time.time()
    network = _WORKER_NETWORKS.get(job, kernels)
    setup = time.time() - began  # building the network: once per worker process and run
    started = time.perf_counter()
    # Files read here from a shared path are checked against what the client saw, then decoded from the
    # very bytes checked (a file changing in between cannot slip through).
    items = [(name, read_verified(source) if isinstance(source, SharedFile) else source)
             for name, source in batch.items]
    decoded = decode_batch(items, job.max_pixels)
    decoded.seconds = time.perf_counter() - started
    mapped = describe_decoded(batch.index, decoded, network, job.spec, _worker_address())
    mapped.network_seconds += setup
    mapped.started, mapped.finished = began, time.time()
    return mapped


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "in-process"
