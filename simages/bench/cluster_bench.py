"""`simages bench cluster`: what indexing on Dask costs per image, against in-process indexing in the
same run, and the scaling over more machines that the measured costs predict.

The same Corel images are indexed in-process, with `--cluster local:2` (two worker processes started
for the run), and on a scheduler and one worker started as separate processes the way the README starts
them on several machines (`separate:1`; everything on 127.0.0.1), as a full set of N images and a half
set of N/2, after one warm-up run per mode (the network is built once per process, each cluster started
once), in rotation.
On one machine a cluster cannot be faster: the workers share the cores the in-process path already uses.

Wall time on a machine shared with other work is noisy, so the overhead is also given in CPU time, which
others' load barely changes: the CPU of this process (the client, plus the local cluster's scheduler and
nannies) and of every worker process, read before and after each run. The difference between the full
and the half set gives the cost per image apart from the fixed cost per run (sending the kernels).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simages.bench.extract_common import default_corel, sample_corel
from simages.extraction.network import TinyNetwork
from simages.jobs.batch_times import STAGES
from simages.jobs.distributor import local_cluster
from simages.jobs.indexer import index_set
from simages.jobs.summary import IndexSummary
from simages.settings import Settings

# Only used in the arithmetic, never measured here: the client's link to the worker machines.
ASSUMED_LINK_BYTES_PER_SECOND = 125e6  # 1 Gbit/s Ethernet
# The near-free network's run uses the images this many times over, so it lasts long enough to time.
NULL_COPIES = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None, help="Corel-1k folder (class subfolders of JPEGs)")
    parser.add_argument("--images", type=int, default=32, help="Corel images in the full set (default 32)")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs per mode and set (default 2)")
    parser.add_argument(
        "--batch", type=int, default=8, help="images per batch (default 8: enough batches for 2 workers)"
    )


@contextmanager
def separate_cluster(folder: Path) -> Iterator[tuple[str, list[Any]]]:
    """`dask scheduler` and one `dask worker --nthreads 1`, as the README starts them on several
    machines, here as processes on 127.0.0.1; yields the address and the scheduler's process."""
    import psutil

    file = folder / "scheduler.json"
    common = ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--port",
            "0",
            "--scheduler-file",
            str(file),
            *common,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not file.exists():
            if time.monotonic() > deadline or scheduler.poll() is not None:
                raise RuntimeError("dask scheduler did not start")
            time.sleep(0.1)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                "--scheduler-file",
                str(file),
                "--nthreads",
                "1",
                *common,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        address = json.loads(file.read_text())["address"]
        yield address, [psutil.Process(scheduler.pid)]
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


def _cpu_of(processes: list[Any]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes)


@dataclass
class Run:
    seconds: float  # wall clock of the whole index_set call
    client_cpu: float  # CPU seconds of this process (client, and the local cluster's scheduler)
    worker_cpu: float  # CPU seconds of all worker processes
    summary: IndexSummary
    scheduler_cpu: float = 0.0  # CPU seconds of a scheduler in its own process

    @property
    def cpu(self) -> float:
        return self.client_cpu + self.worker_cpu + self.scheduler_cpu


def _workers_cpu(client: Any | None) -> float:
    return sum(client.run(time.process_time).values()) if client is not None else 0.0


def _index_once(
    settings: Settings, set_name: str, client: Any | None, scheduler: list[Any], network_factory: Any = None
) -> Run:
    """Index one set from scratch, measuring wall clock and CPU on every side."""
    shutil.rmtree(settings.partial, ignore_errors=True)
    settings.store_path(set_name).unlink(missing_ok=True)
    workers, scheduling = _workers_cpu(client), _cpu_of(scheduler)
    started, cpu = time.perf_counter(), time.process_time()
    summary = index_set(settings, set_name, network_factory=network_factory)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    workers = _workers_cpu(client) - workers
    return Run(seconds, cpu, workers, summary, _cpu_of(scheduler) - scheduling)


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    import distributed

    paths = sample_corel(args.data or default_corel(), args.images)
    half = len(paths) // 2
    nbytes = sum(path.stat().st_size for path in paths)
    print(
        f"{len(paths)} Corel images ({nbytes / len(paths) / 1e3:.0f} kB each) and a half set of {half}, "
        f"batch {args.batch}, {os.cpu_count()} CPUs; one warm-up per mode, then {args.rounds} timed runs "
        "per mode and set in rotation"
    )
    with tempfile.TemporaryDirectory(prefix="simages-bench-cluster-") as folder, ExitStack() as stack:
        root = Path(folder)
        for index, path in enumerate(paths):  # copies in a temporary folder, never in the repository
            for set_name in ("full", "half") if index < half else ("full",):
                target = root / "image_sets" / set_name / f"{path.parent.name}_{path.name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            for copy in range(NULL_COPIES):
                target = root / "image_sets" / "many" / f"{copy}_{path.parent.name}_{path.name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        base = settings.with_(root=root, cluster=None, shared_path=None, batch_size=args.batch)
        if settings.model_cache.is_dir():  # the kernels Keras gave before: 5 s saved per process
            shutil.copytree(settings.model_cache, base.model_cache)
        modes: dict[str, tuple[Settings, Any, list[Any]]] = {"in-process": (base, None, [])}
        for label in ("separate:1", "local:2"):
            started = time.perf_counter()
            if label == "local:2":
                address, scheduler = stack.enter_context(local_cluster(2)), []
            else:
                address, scheduler = stack.enter_context(separate_cluster(root))
            client = stack.enter_context(distributed.Client(address, set_as_default=False))
            client.wait_for_workers(1 if label == "separate:1" else 2, timeout=120)
            print(f"{label} cluster started in {time.perf_counter() - started:.1f} s", flush=True)
            modes[label] = (base.with_(cluster=address), client, scheduler)
        runs: dict[tuple[str, str], list[Run]] = {}
        for mode, client, scheduler in modes.values():  # warm-up
            _index_once(mode, "half", client, scheduler)
        for round_ in range(args.rounds):
            for label, (mode, client, scheduler) in modes.items():
                for set_name in ("full", "half"):
                    run = _index_once(mode, set_name, client, scheduler)
                    runs.setdefault((label, set_name), []).append(run)
                    print(
                        f"  round {round_ + 1}: {label} {set_name}: {run.seconds:.1f} s, "
                        f"CPU {run.client_cpu:.1f} s here + {run.worker_cpu:.1f} s workers",
                        flush=True,
                    )
        # The client side's own limit: the same pipeline with a network that costs almost nothing.
        mode, client, scheduler = modes["local:2"]
        _index_once(mode, "many", client, scheduler, TinyNetwork)
        null = _index_once(mode, "many", client, scheduler, TinyNetwork)
        many = NULL_COPIES * len(paths)
        print(
            f"  near-free network, {many} images on local:2: {null.seconds:.1f} s, "
            f"CPU {null.client_cpu:.1f} s here (client and scheduler) + {null.worker_cpu:.1f} s workers"
        )
    _report(runs, list(modes), len(paths), half, nbytes)
    _scaling(runs, len(paths), half, nbytes, null.client_cpu / many)
    return 0


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def _report(
    runs: dict[tuple[str, str], list[Run]], labels: list[str], count: int, half: int, nbytes: int
) -> None:
    extra = count - half
    best = {label: min(runs[label, "full"], key=lambda run: run.seconds) for label in labels}
    # CPU per image apart from the fixed cost per run: (full - half) / the images between them.
    per_image = {
        label: {
            field: (_median(runs[label, "full"], field) - _median(runs[label, "half"], field)) / extra
            for field in ("cpu", "client_cpu", "worker_cpu", "scheduler_cpu")
        }
        for label in labels
    }
    fixed = {label: _median(runs[label, "full"], "cpu") - count * per_image[label]["cpu"] for label in labels}
    local_wall, local_cpu = best["in-process"].seconds, per_image["in-process"]["cpu"]
    print(f"\nfull set ({count} images), best run; CPU per image from full minus half set (medians):")
    print(
        f"{'mode':<12}{'wall s':>8}{'vs in-process':>15}{'wall overhead':>15}{'CPU ms/img':>12}"
        f"{'CPU overhead':>14}{'fixed CPU s/run':>17}"
    )
    for label in labels:
        wall, cpu = best[label].seconds, per_image[label]["cpu"]
        print(
            f"{label:<12}{wall:>8.1f}{wall / local_wall:>14.2f}x{(wall - local_wall) / count * 1e3:>12.0f} ms"
            f"{cpu * 1e3:>12.0f}{(cpu - local_cpu) * 1e3:>11.0f} ms{fixed[label]:>17.2f}"
        )
    print("\nstage time per image in the best full run, summed over batches (local:2: 2 workers, 2 cores):")
    print(f"{'mode':<12}" + "".join(f"{stage:>10}" for stage in STAGES))
    for label in labels:
        stages = best[label].summary.stages
        print(f"{label:<12}" + "".join(f"{stages.get(s, 0) / count * 1e3:>8.0f}ms" for s in STAGES))


def _scaling(
    runs: dict[tuple[str, str], list[Run]], count: int, half: int, nbytes: int, client: float
) -> None:
    """The speed-up W machines would give: a machine's rate from the worker CPU per image of the
    separate:1 run, the client side's from its CPU per image with a near-free network (`client`), both
    in CPU time, which the machine's other load barely changes."""
    extra = count - half
    full, part = runs["separate:1", "full"], runs["separate:1", "half"]
    worker = (_median(full, "worker_cpu") - _median(part, "worker_cpu")) / extra
    cores = os.cpu_count() or 1
    link = ASSUMED_LINK_BYTES_PER_SECOND / (nbytes / count)  # images per second the link carries
    client_rate = min(1 / client, link)  # the client and scheduler are each one busy thread at most
    per_machine = cores / worker  # images per second one machine like this one computes, at best
    limit = client_rate / per_machine
    print(
        f"\nscaling, one worker per machine like this one ({cores} cores, its network on all of them):\n"
        f"  a worker spends {worker * 1e3:.0f} ms of CPU per image (separate:1 run), so one machine does at "
        f"best {per_machine:.1f} images/s. With a near-free network the client process (reading, sending, "
        f"receiving, checkpoints, and here the scheduler too) spent {client * 1e3:.1f} ms of CPU per image, "
        f"so it keeps up with {1 / client:.0f} images/s; a 1 Gbit/s link carries {link:.0f} images/s of "
        f"{nbytes / count / 1e3:.0f} kB.\n"
        f"  W machines: speed-up = min(W, {client_rate:.0f} / {per_machine:.1f}) = min(W, {limit:.0f})."
    )
    for machines in (2, 4, 8, 16, 32, 64):
        speedup = min(machines, limit)
        hours = 1e6 / per_machine / speedup / 3600
        print(f"  {machines:>2} machines: {speedup:5.1f}x, 1M images in {hours:5.1f} h")
