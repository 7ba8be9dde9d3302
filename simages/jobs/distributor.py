"""The distributor: where the mappers run. In this process, or on the workers of a Dask cluster.

Nothing else knows which: the indexer hands a distributor a reader and gets mapped batches back, in
whatever order they finish, and gives them to the writer. `Settings.cluster` picks the distributor:
None runs in-process, `local[:N]` starts a LocalCluster of N single-thread worker processes on 127.0.0.1
for the run, and `tcp://HOST:PORT` uses a running Dask scheduler (design after clip-retrieval's
distributor; the engine is Dask distributed, https://distributed.dask.org).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from simages.extraction.describe import network_for
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.image_errors import VANISHED
from simages.extraction.pipeline import DecodedBatch, Source, decode_ahead
from simages.jobs.mapper import MappedBatch, MapperJob, NetworkFactory, describe_decoded, map_on_worker
from simages.jobs.reader import WORKER_COPY_DIFFERS, BatchInput, Reader, read_bytes
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'simages[cluster]' (Dask distributed)"
# Batches in flight per worker thread: one computing, one already waiting there, so a worker never idles
# while the next batch travels; more would only hold images in memory.
IN_FLIGHT_PER_THREAD = 2


# Images per network call in-process, hence per progress step of an indexing run.
PROGRESS_STEP = 4


def progress_slices(batch: DecodedBatch, step: int = PROGRESS_STEP) -> Iterator[DecodedBatch]:
    """The batch's failures (a slice of their own: they need no network), then its decoded images in
    slices of at most `step`; the batch's decode time goes with the first slice."""
    seconds = batch.seconds
    if batch.failures or not batch.names:
        yield DecodedBatch([], batch.images[:0], list(batch.failures), seconds)
        seconds = 0.0
    for start in range(0, len(batch.names), step):
        yield DecodedBatch(batch.names[start : start + step], batch.images[start : start + step], [], seconds)
        seconds = 0.0


class ClusterError(RuntimeError):
    """The cluster cannot be used: the extra is not installed, the scheduler is unreachable, or a batch
    failed on every worker it was tried on. The message says what to do."""


class Distributor(Protocol):
    description: str

    def reader(
        self,
        folder: Path,
        names: list[str],
        batch_size: int,
        fingerprints: dict[str, Fingerprint] | None = None,
    ) -> Reader:
        """A reader whose batches the mappers can use where they run (paths or bytes); `fingerprints`, what
        this machine saw of each file, lets workers that read a shared path check they see the same."""
        ...

    def map(self, reader: Reader, spec: DescriptorSpec, max_pixels: int) -> Iterator[MappedBatch]:
        """Every batch of `reader` mapped, in any order; read_seconds/transfer_seconds filled in."""
        ...


@dataclass
class LocalDistributor:
    """The mappers run here, one batch after the other, decoding the next batches on threads meanwhile."""

    network_factory: NetworkFactory
    decode_threads: int = 2
    description: str = "in-process"

    def reader(
        self,
        folder: Path,
        names: list[str],
        batch_size: int,
        fingerprints: dict[str, Fingerprint] | None = None,
    ) -> Reader:
        return Reader(folder, names, batch_size)

    def map(self, reader: Reader, spec: DescriptorSpec, max_pixels: int) -> Iterator[MappedBatch]:
        network = self.network_factory()
        decoded = decode_ahead((batch.items for batch in reader), max_pixels, self.decode_threads)
        for index, batch in enumerate(decoded):
            # Decoding overlaps the network, so the time waited for a batch is its read + decode cost.
            # The network runs on a few images at a time, so progress moves (nearly) image by image
            # rather than in jumps of a whole batch; each slice still keeps both engine threads busy.
            for part in progress_slices(batch):
                yield describe_decoded(index, part, network, spec)


class DaskDistributor:
    """The mappers run on the workers of a Dask cluster; this process stays the only writer.

    Images travel as bytes read here, unless `worker_folder` says where the workers see the image sets.
    VGG-16's kernels are sent to every worker once per run (scattered, broadcast); each worker process
    builds its network from them once. A batch lost with a dying worker is run again on another by Dask.
    """

    def __init__(
        self,
        client: Any,
        settings: Settings,
        network_factory: NetworkFactory | None = None,
        worker_folder: Path | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.network_factory = network_factory
        self.worker_folder = worker_folder
        threads = sum(client.nthreads().values())
        self._where = f"Dask cluster {client.scheduler.address} ({threads} worker threads)"
        # Files a worker saw otherwise than this machine (--shared-path), by name: the worker's address.
        self.resent: dict[str, str] = {}

    @property
    def description(self) -> str:
        if not self.resent:
            return self._where
        workers = ", ".join(sorted(set(self.resent.values())))
        return (f"{self._where}; {len(self.resent):,} file(s) differed on {workers} (a stale mirror or a "
                "lagging share?) and were sent from here instead")

    def reader(
        self,
        folder: Path,
        names: list[str],
        batch_size: int,
        fingerprints: dict[str, Fingerprint] | None = None,
    ) -> Reader:
        if self.worker_folder is None:
            return Reader(folder, names, batch_size, send_bytes=True)
        image_sets = self.settings.image_sets.resolve()
        resolved = folder.resolve()
        # Workers see image_sets/ at worker_folder; a folder elsewhere only at its own path.
        inside = resolved.is_relative_to(image_sets)
        base = self.worker_folder / resolved.relative_to(image_sets) if inside else resolved
        return Reader(folder, names, batch_size, worker_folder=base, fingerprints=fingerprints)

    def _kernels(self) -> tuple[Any, str]:
        """The kernels' future on every worker, and the token naming the network built from them."""
        if self.network_factory is not None:
            return None, f"factory-{uuid.uuid4().hex}"
        from simages.extraction.conv_cache import vgg16_convs

        convs = vgg16_convs(self.settings.weights, self.settings.model_cache)
        # hash=True: the same kernels get the same key, so a long-lived worker keeps its network.
        [future] = self.client.scatter([convs], broadcast=True, hash=True)
        return future, f"kernels-{future.key}"

    def map(self, reader: Reader, spec: DescriptorSpec, max_pixels: int) -> Iterator[MappedBatch]:
        from distributed import as_completed

        kernels, token = self._kernels()
        job = MapperJob(spec, max_pixels, token, self.network_factory)
        window = max(2, IN_FLIGHT_PER_THREAD * sum(self.client.nthreads().values()))
        batches = iter(reader)
        extra = itertools.count(len(reader) // reader.batch_size + 1)  # indexes of batches sent again
        sent: dict[str, tuple[float, float]] = {}  # future key -> (read seconds, wall clock when sent)
        last_finished: dict[str, float] = {}  # worker -> when its previous batch ended (its clock)
        running = as_completed(loop=self.client.loop)

        def submit_next(batch: BatchInput | None = None) -> bool:
            batch = batch or next(batches, None)
            if batch is None:
                return False
            # pure=False: a batch resubmitted after a killed client is new work, not a cached result.
            future = self.client.submit(
                map_on_worker, batch, job, kernels, pure=False, key=f"simages-map-{token}-{batch.index}"
            )
            sent[future.key] = (batch.read_seconds, time.time())
            running.add(future)
            return True

        try:
            for _ in range(window):
                if not submit_next():
                    break
            for future in running:
                try:
                    mapped: MappedBatch = future.result()
                except Exception as error:
                    raise ClusterError(
                        f"a batch failed on the cluster ({type(error).__name__}: {error}); what was "
                        "computed so far is kept and the next run resumes from it"
                    ) from error
                received = time.time()
                self._check_workers_see_files(reader, mapped)
                again = self._take_differing(reader, mapped, next(extra))
                if again is not None:
                    submit_next(again)
                read_seconds, when = sent.pop(future.key)
                mapped.read_seconds = read_seconds
                _split_waiting(mapped, when, received, last_finished.get(mapped.where))
                last_finished[mapped.where] = mapped.finished
                future.release()
                submit_next()
                yield mapped
        finally:
            running.clear()
            for key in list(sent):
                self.client.cancel([key], force=True)

    def _take_differing(self, reader: Reader, mapped: MappedBatch, index: int) -> BatchInput | None:
        """The files whose worker copy differed from this machine's, taken out of the batch's failures and
        read here, as a batch of bytes to map again (None when there are none). Never stored as read there:
        a descriptor of another file under our name, with our fingerprint, would be "up to date" forever."""
        differing = [name for name, reason in mapped.failures if reason.startswith(WORKER_COPY_DIFFERS)]
        if not differing:
            return None
        mapped.failures = [(n, r) for n, r in mapped.failures if not r.startswith(WORKER_COPY_DIFFERS)]
        for name in differing:
            self.resent[name] = mapped.where
        log.warning("%d file(s) differ on the worker %s from this machine's (--shared-path: a stale mirror "
                    "or a lagging share?); sending their bytes instead: %s", len(differing), mapped.where,
                    ", ".join(differing[:5]) + (" ..." if len(differing) > 5 else ""))
        started = time.perf_counter()
        items: list[tuple[str, Source]] = [(name, read_bytes(reader.folder / name)) for name in differing]
        nbytes = sum(len(source) for _, source in items if isinstance(source, bytes))
        return BatchInput(index, items, time.perf_counter() - started, nbytes)

    def _check_workers_see_files(self, reader: Reader, mapped: MappedBatch) -> None:
        """Refuse a run whose workers do not see the shared files: "vanished" would drop them."""
        if self.worker_folder is None:
            return
        for name, reason in mapped.failures:
            if reason == VANISHED and (reader.folder / name).exists():
                raise ClusterError(
                    f"a worker ({mapped.where}) cannot see {name} under "
                    f"{reader.worker_folder or reader.folder}: --shared-path must be the folder where "
                    "the workers see image_sets/ (leave it out to send the files' bytes instead)"
                )


def _split_waiting(mapped: MappedBatch, sent: float, received: float, previous: float | None) -> None:
    """Split the time a batch spent outside its task into transfer and queue.

    Transfer: its worker sat idle waiting for it (since its previous batch ended, or since it was sent),
    plus the way back. Queue: the rest, i.e. waiting behind batches sent earlier. Client and worker
    clocks are one clock on one machine, NTP-close across machines.
    """
    ready = sent if previous is None else max(sent, previous)
    idle = max(0.0, mapped.started - ready)
    back = max(0.0, received - mapped.finished)
    outside = max(0.0, (received - sent) - (mapped.finished - mapped.started))
    mapped.transfer_seconds = min(outside, idle + back)
    mapped.queue_seconds = outside - mapped.transfer_seconds


def parse_cluster(value: str) -> tuple[str, int | str]:
    """("local", N workers) or ("scheduler", address) for a --cluster value; ValueError if malformed."""
    text = value.strip()
    if text == "local" or text.startswith("local:"):
        count = text.partition(":")[2]
        if count and (not count.isdigit() or int(count) < 1):
            raise ValueError(f"--cluster {value!r}: write local or local:N with N >= 1 worker processes")
        # One worker by default: each worker's network already spreads over every core.
        return "local", int(count) if count else 1
    if "://" not in text:
        if ":" not in text:
            raise ValueError(
                f"--cluster {value!r}: give a scheduler address such as tcp://HOST:8786, or local[:N]"
            )
        text = "tcp://" + text
    return "scheduler", text


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise ClusterError(
            f"--cluster needs Dask distributed, which is not installed: {INSTALL_HINT}"
        ) from error
    return distributed


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[str]:
    """A LocalCluster of `workers` single-thread worker processes on 127.0.0.1; yields its address."""
    distributed = _import_distributed()
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,  # no dashboard; the scheduler's small HTTP server (health checks)
        # still runs: on loopback, on a free port, so two clusters never compete for 8787.
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@contextlib.contextmanager
def open_distributor(
    settings: Settings, network_factory: NetworkFactory | None = None
) -> Iterator[Distributor]:
    """The distributor `settings.cluster` asks for, connected for the duration of the `with` block.

    Raises ClusterError (extra missing, scheduler unreachable) and ValueError (malformed value).
    """
    if not settings.cluster:
        default = lambda: network_for(settings.weights, settings.model_cache)  # noqa: E731
        yield LocalDistributor(network_factory or default)
        return
    kind, where = parse_cluster(settings.cluster)
    with contextlib.ExitStack() as stack:
        address = stack.enter_context(local_cluster(int(where))) if kind == "local" else str(where)
        client = stack.enter_context(_connect(address))
        yield DaskDistributor(client, settings, network_factory, settings.shared_path)


@contextlib.contextmanager
def _connect(address: str) -> Iterator[Any]:
    distributed = _import_distributed()
    try:
        client = distributed.Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            f"could not reach the Dask scheduler at {address} ({error}); start one with `dask scheduler` "
            "and workers with `dask worker ADDRESS` (README: Indexing on a cluster)"
        ) from error
    try:
        client.wait_for_workers(1, timeout=60)
    except (OSError, TimeoutError) as error:
        client.close()
        raise ClusterError(
            f"the Dask scheduler at {address} has no workers: start some with `dask worker {address}`"
        ) from error
    try:
        yield client
    finally:
        client.close()
