"""The app's side of indexing: a queue of sets, one background worker process, live statuses.

One IndexManager belongs to one running app. It starts an indexing worker process, feeds it one set at a
time (a set asked for again while it runs is run once more afterwards, so no change is missed), and keeps
a status per set from the worker's events. Key images uploaded in the browser are described by a second
worker process, so an upload never waits behind a long indexing job.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from simages.extraction.image_errors import UnreadableImage
from simages.extraction.network import Network
from simages.jobs import status as st
from simages.jobs.distributor import local_cluster, parse_cluster
from simages.jobs.summary import IndexSummary
from simages.jobs.watcher import FolderWatcher
from simages.jobs.worker import worker_main
from simages.naming import list_sets
from simages.settings import Settings
from simages.store.npz_store import read_names_count

_CONTEXT = multiprocessing.get_context("spawn")
# A set whose worker died this many times in a row is reported failed instead of retried forever.
_MAX_CRASHES = 2


@contextlib.contextmanager
def _interrupt_blocked() -> Iterator[None]:
    """Start a worker with SIGINT blocked. A terminal's Ctrl+C reaches every process of its group: a
    worker must not die of it half way through a run, nor print a KeyboardInterrupt traceback; the app
    stops its workers itself (`IndexManager.stop`). The blocked mask is inherited by the spawned process
    from its first instruction, before its imports; `worker_main` then ignores SIGINT and unblocks it."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _Worker:
    def __init__(
        self, settings: Settings, events: Any, network_factory: Callable[[], Network] | None
    ) -> None:
        self.requests = _CONTEXT.Queue()
        self.process = _CONTEXT.Process(
            target=worker_main,
            args=(settings, self.requests, events, network_factory),
            name="simages-worker",
            daemon=True,
        )
        with _interrupt_blocked():
            self.process.start()

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.requests.put(None)
        self.process.join(timeout=3)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=3)


class IndexManager:
    def __init__(
        self,
        settings: Settings,
        network_factory: Callable[[], Network] | None = None,
        watch: bool = True,
        debounce_ms: int = 1500,
        build_atlas: bool = True,
        calibrate: bool = True,
    ) -> None:
        self.settings = settings
        # When indexing has drained, the duplicate threshold's estimate on the collection's own photos
        # (simages.copies.calibration), measured in the indexing process when its space has none.
        self._calibrate = calibrate
        self._calibration: tuple[str, str] = ("", "")  # (state, message) of the last calibration event
        self._calibrations_ended = 0
        # The atlas map after each run (jobs.derived.refresh_atlas): the app's background work; a one-shot
        # `simages index` would only start a UMAP fit it then stops.
        self._build_atlas = build_atlas
        self.network_factory = network_factory
        self._lock = threading.RLock()
        self._statuses: dict[str, st.SetStatus] = {}
        self._rate_start: dict[str, tuple[int, float]] = {}  # (done, time) at the first progress of a run
        self._summaries: dict[str, IndexSummary] = {}
        # Sets whose run waits for the network to be built, with what to say meanwhile ("" for nothing).
        self._preparing: dict[str, str] = {}
        # What the derived-files step after each run did (jobs.derived), by set; absent until it ends.
        self._derived: dict[str, str] = {}
        self._queue: list[str] = []
        self._current: str | None = None
        self._indexed_since_calibration = False
        self._again: set[str] = set()
        self._crashes: dict[str, int] = {}
        self._events = _CONTEXT.Queue()
        self._indexer: _Worker | None = None
        self._describer: _Worker | None = None
        self._describer_warm = False  # its network is built (after "warmed", or a described image)
        self._futures: dict[int, Future[np.ndarray]] = {}
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._cluster = contextlib.ExitStack()  # a local Dask cluster this manager started, if any
        self._reader = threading.Thread(target=self._read_events, name="simages-events", daemon=True)
        self._watcher = FolderWatcher(settings.image_sets, self.request, debounce_ms) if watch else None

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self, set_names: list[str] | None = None) -> None:
        """Start the workers and index `set_names` (default: every set).

        A `local[:N]` cluster setting starts its LocalCluster here, for as long as the manager runs:
        the indexing process is a daemon, and daemons may not start the cluster's worker processes.
        Raises ClusterError when that cluster cannot start.
        """
        self.settings.image_sets.mkdir(parents=True, exist_ok=True)
        kind, workers = parse_cluster(self.settings.cluster) if self.settings.cluster else ("", 0)
        if kind == "local":
            address = self._cluster.enter_context(local_cluster(int(workers)))
            self.settings = self.settings.with_(cluster=address)
        self._reader.start()
        if self._watcher:
            self._watcher.start()
        self.request(set(list_sets(self.settings.image_sets)) if set_names is None else set_names)

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher:
            self._watcher.stop()
        for worker in (self._indexer, self._describer):
            if worker:
                worker.stop()
        if self._reader.is_alive():
            self._reader.join(timeout=5)
        for future in self._futures.values():
            future.cancel()
        self._cluster.close()

    # -- statuses -----------------------------------------------------------------------------------------
    def statuses(self) -> list[st.SetStatus]:
        with self._lock:
            return [self._statuses[name] for name in sorted(self._statuses)]

    def status(self, set_name: str) -> st.SetStatus:
        with self._lock:
            return self._statuses.get(set_name) or st.SetStatus(set_name)

    def summary(self, set_name: str) -> IndexSummary | None:
        """The summary of the last finished run for the set, if any."""
        with self._lock:
            return self._summaries.get(set_name)

    def preparing(self, set_name: str) -> str | None:
        """While the set's run waits for the network to be built: what to say about it ("" when it is only
        loaded; the engine calibration's notice when it calibrates), else None."""
        with self._lock:
            return self._preparing.get(set_name)

    def derived(self, set_name: str) -> str | None:
        """What refreshing the set's memory-mapped copy and ANN index after its last run did ("" for
        nothing), or None while it has not ended."""
        with self._lock:
            return self._derived.get(set_name)

    def calibration(self) -> tuple[str, str]:
        """(state, message) of the background calibration: ("", "") before any, "running", "done" or
        "failed" with why."""
        with self._lock:
            return self._calibration

    def calibrations_ended(self) -> int:
        """How many background calibrations have ended (done or failed) since the manager started."""
        with self._lock:
            return self._calibrations_ended

    def indexer_alive(self) -> bool:
        """Whether the indexing worker process runs (it also builds the derived files)."""
        with self._lock:
            return self._indexer is not None and self._indexer.alive()

    def wait_until_idle(self, timeout: float = 60.0) -> bool:
        """Block until no set is queued or running (used by tests and the CLI); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stopping.is_set():
            with self._lock:
                if self._current is None and not self._queue:
                    return True
            time.sleep(0.05)
        return False

    # -- requests -----------------------------------------------------------------------------------------
    def request(self, set_names: set[str] | list[str]) -> None:
        """Queue sets for indexing; sets that no longer exist are dropped from the statuses."""
        present = set(list_sets(self.settings.image_sets))
        # Smallest sets first: a freshly dropped folder of ten photos should not wait behind 10,000.
        order = sorted(set_names, key=lambda name: (_entries_below(self.settings.image_sets / name), name))
        with self._lock:
            for name in order:
                if name not in present:
                    self._statuses.pop(name, None)
                    continue
                if name == self._current:
                    self._again.add(name)
                elif name not in self._queue:
                    self._queue.append(name)
                    previous = self._statuses.get(name) or st.SetStatus(
                        name, count=read_names_count(self.settings.store_path(name))
                    )
                    self._statuses[name] = replace(previous, state=st.WAITING, done=0, total=0)
            self._dispatch()

    def _dispatch(self) -> None:
        if self._current is not None or not self._queue or self._stopping.is_set():
            return
        if self._indexer is None or not self._indexer.alive():
            self._indexer = _Worker(self.settings, self._events, self.network_factory)
        self._current = self._queue.pop(0)
        self._indexer.requests.put(("index", self._current, self._build_atlas))

    async def describe_upload(self, path: Path, timeout: float = 300.0) -> np.ndarray:
        """The descriptor of an uploaded image, computed in the describer process."""
        return await asyncio.wait_for(asyncio.wrap_future(self._submit_describe(path)), timeout)

    async def describe_upload_oriented(self, path: Path, timeout: float = 300.0) -> np.ndarray:
        """The descriptors (5, d) of an uploaded image as it is, turned by 90/180/270 degrees and mirrored
        (simages.extraction.describe.describe_image_file_oriented), in one batch of the describer."""
        return await asyncio.wait_for(asyncio.wrap_future(self._submit_describe(path, True)), timeout)

    def warm_up(self) -> None:
        """Start the describing process and have it build the network now, in the background: the first
        key image uploaded after the app starts is then described in about a second instead of waiting
        for the network's load (~15 s). Returns at once."""
        with self._lock:
            self._describer_for_request().requests.put(("warm",))

    def describer_ready(self) -> bool:
        """Whether the describing process has its network built (a key image is described at once)."""
        with self._lock:
            return self._describer_warm and self._describer is not None and self._describer.alive()

    def _describer_for_request(self) -> _Worker:
        if self._describer is None or not self._describer.alive():
            self._describer = _Worker(self.settings, self._events, self.network_factory)
            self._describer_warm = False
        return self._describer

    def describe_upload_sync(self, path: Path, timeout: float = 300.0) -> np.ndarray:
        return self._submit_describe(path).result(timeout)

    def _submit_describe(self, path: Path, oriented: bool = False) -> Future[np.ndarray]:
        future: Future[np.ndarray] = Future()
        with self._lock:
            describer = self._describer_for_request()
            request_id = next(self._ids)
            self._futures[request_id] = future
            describer.requests.put(("describe", request_id, str(path), oriented))
        return future

    # -- events -------------------------------------------------------------------------------------------
    def _read_events(self) -> None:
        while not self._stopping.is_set():
            try:
                event = self._events.get(timeout=0.2)
            except queue.Empty:
                self._check_workers()
                continue
            except (EOFError, OSError):
                return
            self._handle(event)

    def _handle(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "warmed":
            with self._lock:
                self._describer_warm = True  # a failure is reported by the describe that needs it
            return
        if kind == "calibration":
            with self._lock:
                self._calibration = (event[1], event[2])
                self._calibrations_ended += event[1] != "running"
            return
        if kind == "vector":
            _, request_id, vector, error = event
            with self._lock:
                self._describer_warm = True
                future = self._futures.pop(request_id, None)
            if future is not None and not future.done():
                if error is None:
                    future.set_result(vector)
                else:
                    future.set_exception(UnreadableImage(error))
            return
        with self._lock:
            name = event[1]
            current = self._statuses.get(name) or st.SetStatus(name)
            if kind == "derived":
                self._derived[name] = event[2]
                return
            if kind == "preparing":
                # Building the network (and calibrating the engines, which takes a while): said in the
                # status until the first images are done, and kept out of the rate.
                self._preparing[name] = event[2]
                self._statuses[name] = replace(current, state=st.INDEXING, message=event[2],
                                               seconds_left=None)
                return
            if kind == "ready":
                self._preparing.pop(name, None)
                self._rate_start.pop(name, None)
                self._statuses[name] = replace(current, message="")
                return
            if kind == "started":
                self._derived.pop(name, None)
                self._statuses[name] = replace(
                    current, state=st.INDEXING, done=0, total=0, message="", seconds_left=None
                )
                self._rate_start.pop(name, None)
            elif kind == "waiting":
                self._statuses[name] = replace(
                    current, state=st.WAITING, message="waiting for another indexer (e.g. the CLI) to finish"
                )
            elif kind == "progress":
                done, total = event[2], event[3]
                now = time.monotonic()
                # Measured from the first progress event: model loading is not part of the rate.
                first_done, since = self._rate_start.setdefault(name, (done, now))
                left = st.estimate_seconds_left(done, total, first_done, now - since)
                self._statuses[name] = replace(
                    current, state=st.INDEXING, done=done, total=total, seconds_left=left
                )
            elif kind == "done":
                self._preparing.pop(name, None)
                summary = IndexSummary.from_dict(event[2])
                self._summaries[name] = summary
                self._statuses[name] = st.SetStatus(
                    name, st.INDEXED, summary.total, message=summary.describe(), unreadable=summary.unreadable
                )
                self._finish(name, indexed=True)
            elif kind == "failed":
                self._preparing.pop(name, None)
                self._statuses[name] = replace(current, state=st.FAILED, message=event[2], done=0, total=0)
                self._finish(name)

    def _finish(self, name: str, indexed: bool = False) -> None:
        self._crashes.pop(name, None)
        if self._current == name:
            self._current = None
        if name in self._again:
            self._again.discard(name)
            if name not in self._queue:
                self._queue.append(name)
        self._indexed_since_calibration = self._indexed_since_calibration or indexed
        self._dispatch()
        if self._current is None and self._indexed_since_calibration and self._calibrate:
            # Queued after the last set's derived files, in the same process: never before or beside a run.
            self._indexed_since_calibration = False
            if self._indexer is not None and self._indexer.alive():
                self._indexer.requests.put(("calibrate",))

    def _check_workers(self) -> None:
        with self._lock:
            if self._current is not None and self._indexer is not None and not self._indexer.alive():
                name = self._current
                code = self._indexer.process.exitcode
                self._current = None
                self._crashes[name] = self._crashes.get(name, 0) + 1
                if self._crashes[name] >= _MAX_CRASHES:
                    self._statuses[name] = replace(
                        self.status(name),
                        state=st.FAILED,
                        message=f"the indexing process stopped unexpectedly (exit code {code}); "
                        "fix the cause (e.g. memory) and touch the folder to retry",
                    )
                else:
                    self._queue.insert(0, name)
                self._dispatch()
            if self._describer is not None and not self._describer.alive() and self._futures:
                for future in self._futures.values():
                    future.set_exception(UnreadableImage("the describing process stopped unexpectedly"))
                self._futures.clear()


def _entries_below(folder: Path) -> int:
    """How many files and folders a set holds (cheap: names only, no stat), 0 if it is gone."""
    count = 0
    for _, dirs, files in os.walk(folder):
        count += len(dirs) + len(files)
    return count
