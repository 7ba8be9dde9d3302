"""`simages bench cluster`: what indexing on Dask costs per image, against in-process indexing in the
same run, and the scaling over more machines that the measured costs predict.

The same Corel images are indexed in-process and with `--cluster local:1` and `local:2` (worker
processes on this machine, 127.0.0.1), as a full set of N images and a half set of N/2, after one
warm-up run per mode (the network is built once per process, each cluster started once), in rotation.
On one machine a cluster cannot be faster: the workers share the cores the in-process path already uses.

Wall time on a machine shared with other work is noisy, so the overhead is also given in CPU time, which
others' load barely changes: the CPU of this process (the client, plus the local cluster's scheduler and
nannies) and of every worker process, read before and after each run. The difference between the full
and the half set gives the cost per image apart from the fixed cost per run (sending the kernels).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simages.bench.extract_bench import default_corel, sample_corel
from simages.jobs.batch_times import STAGES
from simages.jobs.distributor import local_cluster
from simages.jobs.indexer import index_set
from simages.jobs.summary import IndexSummary
from simages.settings import Settings

# Only used in the arithmetic, never measured here: the client's link to the worker machines, and
# Dask's own cost per task (its documentation gives about 1 ms of scheduler overhead per task).
ASSUMED_LINK_BYTES_PER_SECOND = 125e6  # 1 Gbit/s Ethernet
ASSUMED_SECONDS_PER_TASK = 1e-3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None, help="Corel-1k folder (class subfolders of JPEGs)")
    parser.add_argument("--images", type=int, default=32, help="Corel images in the full set (default 32)")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs per mode and set (default 2)")
    parser.add_argument(
        "--batch", type=int, default=8, help="images per batch (default 8: enough batches for 2 workers)"
    )


@dataclass
class Run:
    seconds: float  # wall clock of the whole index_set call
    client_cpu: float  # CPU seconds of this process (client, and the local cluster's scheduler)
    worker_cpu: float  # CPU seconds of all worker processes
    summary: IndexSummary

    @property
    def cpu(self) -> float:
        return self.client_cpu + self.worker_cpu


def _workers_cpu(client: Any | None) -> float:
    return sum(client.run(time.process_time).values()) if client is not None else 0.0


def _index_once(settings: Settings, set_name: str, client: Any | None) -> Run:
    """Index one set from scratch, measuring wall clock and CPU on both sides."""
    shutil.rmtree(settings.partial, ignore_errors=True)
    settings.store_path(set_name).unlink(missing_ok=True)
    workers = _workers_cpu(client)
    started, cpu = time.perf_counter(), time.process_time()
    summary = index_set(settings, set_name)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Run(seconds, cpu, _workers_cpu(client) - workers, summary)


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
        base = settings.with_(root=root, cluster=None, shared_path=None, batch_size=args.batch)
        if settings.model_cache.is_dir():  # the kernels Keras gave before: 5 s saved per process
            shutil.copytree(settings.model_cache, base.model_cache)
        modes: dict[str, tuple[Settings, Any]] = {"in-process": (base, None)}
        for workers in (1, 2):
            started = time.perf_counter()
            address = stack.enter_context(local_cluster(workers))
            print(f"local:{workers} cluster started in {time.perf_counter() - started:.1f} s", flush=True)
            client = stack.enter_context(distributed.Client(address, set_as_default=False))
            modes[f"local:{workers}"] = (base.with_(cluster=address), client)
        runs: dict[tuple[str, str], list[Run]] = {}
        for mode, client in modes.values():  # warm-up
            _index_once(mode, "half", client)
        for round_ in range(args.rounds):
            for label, (mode, client) in modes.items():
                for set_name in ("full", "half"):
                    run = _index_once(mode, set_name, client)
                    runs.setdefault((label, set_name), []).append(run)
                    print(f"  round {round_ + 1}: {label} {set_name}: {run.seconds:.1f} s, "
                          f"CPU {run.client_cpu:.1f} s here + {run.worker_cpu:.1f} s workers", flush=True)
    _report(runs, list(modes), len(paths), half, nbytes, args.batch)
    return 0


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def _report(
    runs: dict[tuple[str, str], list[Run]], labels: list[str], count: int, half: int, nbytes: int, batch: int
) -> None:
    extra = count - half
    best = {label: min(runs[label, "full"], key=lambda run: run.seconds) for label in labels}
    # CPU per image apart from the fixed cost per run: (full - half) / the images between them.
    per_image = {
        label: {
            field: (_median(runs[label, "full"], field) - _median(runs[label, "half"], field)) / extra
            for field in ("cpu", "client_cpu", "worker_cpu")
        }
        for label in labels
    }
    fixed = {label: _median(runs[label, "full"], "cpu") - count * per_image[label]["cpu"] for label in labels}
    local_wall, local_cpu = best["in-process"].seconds, per_image["in-process"]["cpu"]
    print(f"\nfull set ({count} images), best run; CPU per image from full minus half set (medians):")
    print(f"{'mode':<12}{'wall s':>8}{'vs in-process':>15}{'wall overhead':>15}{'CPU ms/img':>12}"
          f"{'CPU overhead':>14}{'fixed CPU s/run':>17}")
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

    cores = os.cpu_count() or 1
    worker = per_image["local:1"]["worker_cpu"]  # CPU a worker spends per image, all its threads
    client = per_image["local:2"]["client_cpu"]  # CPU the client (+ local scheduler) spends per image
    link = nbytes / count / ASSUMED_LINK_BYTES_PER_SECOND
    serial = client + link + ASSUMED_SECONDS_PER_TASK / batch
    limit = worker / cores / max(serial, 1e-9)
    print(
        f"\nscaling, one worker per machine like this one ({cores} cores, its network on all of them):\n"
        f"  a worker spends {worker * 1e3:.0f} ms of CPU per image (local:1), so at best "
        f"{worker / cores * 1e3:.0f} ms of wall time on {cores} cores. Per image the client spends "
        f"{client * 1e3:.1f} ms of CPU (local:2: reading, sending, receiving, checkpoints, and here also "
        f"the scheduler), sending {nbytes / count / 1e3:.0f} kB takes {link * 1e3:.2f} ms at 1 Gbit/s "
        f"and Dask's ~1 ms per task is {1 / batch:.2f} ms: {serial * 1e3:.1f} ms of serial work.\n"
        f"  W machines: speed-up = min(W, {worker / cores * 1e3:.0f} / {serial * 1e3:.1f}) = "
        f"min(W, {limit:.0f}); beyond that the client is the bottleneck."
    )
    for machines in (2, 4, 8, 16, 32, 64):
        speedup = min(machines, limit)
        hours = 1e6 * worker / cores / speedup / 3600
        print(f"  {machines:>2} machines: {speedup:5.1f}x, 1M images in {hours:5.1f} h")
