"""`simages bench cli [--size N] [--repeat R]`: how fast the command line answers, as ratios to
`python -c "import numpy"` measured in the same run.

Each command runs in a new process (`python -m simages ...`), as a user types it; each timing is the median
of R runs, interleaved with the baseline's so a load change hits both alike. Measured: `simages --help`,
every `simages COMMAND --help`, and `simages query` / `join` / `duplicates` on an indexed synthetic set of
N images (random unit 512-d descriptors, the default descriptor, the memory-mapped copy and duplicates
reading written as indexing leaves them). Floors (issue 22): help <= 2x, query <= 4x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP_FLOOR = 2.0
QUERY_FLOOR = 4.0
COMMANDS = ("serve", "index", "query", "join", "duplicates", "triage", "atlas", "eval", "train", "bench")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=1000, help="images in the indexed set (default: 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command, median kept (default: 5)")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="the figures as a table (default) or as JSON")


def _cpu() -> str:
    model, amx = "unknown CPU", False
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                amx = amx or "amx_tile" in line.split()
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {'AMX' if amx else 'no AMX'}"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def _seconds(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return elapsed


def _indexed_set(root: Path, size: int) -> None:
    """A set of `size` images as indexing leaves it: the store, its memory-mapped copy, its readings."""
    import numpy as np

    from simages.jobs.derived import refresh_derived
    from simages.settings import Settings
    from simages.store.fingerprint import Fingerprint
    from simages.store.npz_store import FeatureStore, save_store

    settings = Settings(root=root)
    (settings.image_sets / "photos").mkdir(parents=True)
    rng = np.random.default_rng(0)
    vectors = np.abs(rng.standard_normal((size, 512))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"img_{i:05d}.jpg" for i in range(size)]
    save_store(settings.store_path("photos"), FeatureStore(names, [Fingerprint(1, 1)] * size, vectors,
                                                           {"descriptor": str(settings.descriptor)}))
    refresh_derived(settings, "photos")


def run_bench(args: argparse.Namespace, settings) -> int:
    if args.size < 2 or args.repeat < 1:
        print("simages: error: --size must be at least 2 and --repeat at least 1", file=sys.stderr)
        return 2
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[2]),
                                                                      os.environ.get("PYTHONPATH")]))}
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="simages-bench-cli-") as tmp:
        root = Path(tmp)
        print(f"preparing an indexed set of {args.size} images...", file=sys.stderr)
        _indexed_set(root, args.size)
        simages = [python, "-m", "simages", "--root", str(root)]
        cases: dict[str, list[str]] = {"simages --help": [*simages, "--help"]}
        cases.update({f"simages {c} --help": [*simages, c, "--help"] for c in COMMANDS})
        cases["simages query (stored key)"] = [*simages, "query", "photos/img_00001.jpg", "--set", "photos"]
        cases["simages join (self, kNN-10)"] = [*simages, "join", "photos", "photos", "--output", os.devnull]
        cases["simages duplicates"] = [*simages, "duplicates", "photos", "--format", "csv"]
        baseline_argv = [python, "-c", "import numpy"]
        base: list[float] = []
        times: dict[str, list[float]] = {name: [] for name in cases}
        _seconds(baseline_argv, env)  # warm the file cache for both
        for argv in cases.values():
            _seconds(argv, env)
        for _ in range(args.repeat):
            for name, argv in cases.items():
                base.append(_seconds(baseline_argv, env))
                times[name].append(_seconds(argv, env))
    numpy_s = statistics.median(base)
    rows = []
    for name, values in times.items():
        seconds = statistics.median(values)
        floor = HELP_FLOOR if "--help" in name else QUERY_FLOOR if "query" in name else None
        rows.append({"command": name, "seconds": seconds, "ratio": seconds / numpy_s, "floor": floor})
    cpu, load = _cpu(), _load()
    if args.format == "json":
        json.dump({"cpu": cpu, "load_average": load, "numpy_seconds": numpy_s, "size": args.size,
                   "rows": rows}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"CPU: {cpu}; load average (1, 5, 15 min): {load}")
        print(f"baseline `python -c \"import numpy\"`: {numpy_s:.3f} s (median of {len(base)})")
        print(f"{'command':<34} {'s':>7} {'x numpy':>8}  floor")
        for row in rows:
            floor = f"<= {row['floor']:g}x {'ok' if row['ratio'] <= row['floor'] else 'MISSED'}" \
                if row["floor"] else ""
            print(f"{row['command']:<34} {row['seconds']:7.3f} {row['ratio']:8.2f}  {floor}")
    return 0
