"""`simages bench load`: concurrent users querying while a 1,000-image set is being indexed.

A temporary root gets a small `query` set (one Corel class), indexed first; then the whole of Corel-1k is
moved in as the set `corel`, and while the app indexes it N simulated clients each run M queries:
GET /similar (NiceGUI runs the page function on that first GET, so the HTML already holds the ranked
results; no websocket is needed to time a query) plus GETs of the result thumbnails. Prints p50/p95/max
latency, the error count and how far indexing got during the load.
"""

from __future__ import annotations

import argparse
import html as html_lib
import os
import random
import re
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from simages.bench.app_server import AppServer, wait_for
from simages.naming import IMAGE_EXTENSIONS
from simages.settings import Settings

DEFAULT_COREL = Path(__file__).resolve().parents[3] / "shared" / "data" / "corel1k"
_THUMB = re.compile(r'"src":"(/image\?set=[^"]+)"')
# The status panel draws each set as a label with its name, then a label with its state.
_STATUS = (r'"text":"{name}".*?"text":"'
           r'(indexing [\d,]+ of [\d,]+|indexed, [\d,]+ images?|waiting[^"]*|failed[^"]*)"')


@dataclass
class LoadConfig:
    source: Path  # a folder of images (sub-folders allowed), e.g. Corel-1k
    clients: int = 20
    queries: int = 10
    images: int = 1000  # images of `source` indexed during the load
    query_images: int = 100  # size of the pre-indexed set the clients query
    thumbs: int = 8  # thumbnails fetched per query, as a browser fetches the visible ones
    network: str = "real"  # or "tiny": the stand-in network of the tests
    weights: Path | None = None


@dataclass
class Progress:
    state: str
    done: int
    total: int

    def __str__(self) -> str:
        return f"{self.state} ({self.done:,}/{self.total:,})"


@dataclass
class LoadReport:
    query_ms: list[float] = field(default_factory=list)
    thumb_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    before: Progress | None = None
    after: Progress | None = None
    seconds: float = 0.0
    load_average: float = 0.0  # of the machine just before the load: other work skews the figures


def _images(source: Path) -> list[Path]:
    return sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _copy(files: list[Path], source: Path, target: Path) -> None:
    for path in files:
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def progress_of(url: str, set_name: str) -> Progress:
    """The set's status as the start page's status panel shows it."""
    page = httpx.get(url + "/", timeout=60).text
    match = re.search(_STATUS.format(name=re.escape(set_name)), page, re.S)
    if match is None:
        return Progress("unknown", 0, 0)
    text = match.group(1)
    numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]
    if text.startswith("indexing"):
        return Progress("indexing", numbers[0], numbers[1])
    if text.startswith("indexed"):
        return Progress("indexed", numbers[0], numbers[0])
    return Progress(text.split()[0], 0, 0)


def _client(url: str, names: list[str], config: LoadConfig, seed: int, report: LoadReport,
            lock: threading.Lock) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=120) as http:
        for i in range(config.queries):
            params = {"key_set": "query", "image": rng.choice(names), "set": "query",
                      "metric": ("cosine", "euclidean")[i % 2], "predicate": "knn", "param": "20"}
            start = time.perf_counter()
            try:
                response = http.get("/similar", params=params)
                elapsed = (time.perf_counter() - start) * 1000
                page = response.text
                ok = response.status_code == 200 and re.search(r"The \d+ (most similar|nearest) of", page)
                problem = None if ok else f"query {params['image']}: HTTP {response.status_code}, no results"
            except httpx.HTTPError as error:
                elapsed, page, problem = (time.perf_counter() - start) * 1000, "", f"query: {error!r}"
            thumbs: list[float] = []
            for src in _THUMB.findall(page)[1:config.thumbs + 1]:  # [0] is the key image
                start = time.perf_counter()
                try:
                    got = http.get(html_lib.unescape(src))
                    if got.status_code != 200 or got.headers.get("content-type") != "image/jpeg":
                        problem = problem or f"thumbnail {src}: HTTP {got.status_code}"
                except httpx.HTTPError as error:
                    problem = problem or f"thumbnail {src}: {error!r}"
                thumbs.append((time.perf_counter() - start) * 1000)
            with lock:
                report.query_ms.append(elapsed)
                report.thumb_ms.extend(thumbs)
                if problem:
                    report.errors.append(problem)


def run_load(config: LoadConfig, workdir: Path) -> LoadReport:
    """Serve an app on `workdir`, index the query set, then load it while the big set indexes."""
    files = _images(config.source)
    if len(files) < config.images:
        raise ValueError(f"{config.source} holds {len(files)} images; {config.images} were asked for")
    _copy(files[:config.query_images], config.source, workdir / "image_sets" / "query")
    names = sorted(p.relative_to(workdir / "image_sets" / "query").as_posix()
                   for p in _images(workdir / "image_sets" / "query"))
    _copy(files[:config.images], config.source, workdir / "staging" / "corel")
    args = [config.network] + ([str(config.weights)] if config.weights else [])
    report = LoadReport()
    with AppServer("simages.bench.app_server", workdir, args) as server:
        wait_for(lambda: (workdir / "features" / "query.npz").is_file(), 1800, "indexing of the query set", 1)
        # One rename: the watcher sees the whole set at once instead of a folder still being copied.
        (workdir / "staging" / "corel").rename(workdir / "image_sets" / "corel")
        wait_for(lambda: progress_of(server.url, "corel").state in ("indexing", "indexed"), 300,
                 "indexing of the big set to start", 0.2)
        report.before = progress_of(server.url, "corel")
        report.load_average = os.getloadavg()[0]
        lock = threading.Lock()
        threads = [threading.Thread(target=_client, args=(server.url, names, config, seed, report, lock))
                   for seed in range(config.clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report.seconds = time.perf_counter() - start
        report.after = progress_of(server.url, "corel")
        log = server.log_path.read_text(errors="replace")
        if "Traceback" in log:
            report.errors.append(f"the server logged a traceback; see {server.log_path}")
    return report


def _percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def format_report(config: LoadConfig, report: LoadReport) -> str:
    lines = [f"{config.clients} clients x {config.queries} queries on a {config.query_images}-image set, "
             f"while {config.images:,} images index ({config.network} network), {report.seconds:.1f} s; "
             f"{os.cpu_count()} CPUs, load average {report.load_average:.1f} at the start"]
    for label, values in (("query GET /similar", report.query_ms), ("thumbnail GET /image", report.thumb_ms)):
        if values:
            lines.append(f"{label:22} n={len(values):5}  p50 {_percentile(values, 50):8.1f} ms  "
                         f"p95 {_percentile(values, 95):8.1f} ms  max {max(values):8.1f} ms")
    lines.append(f"errors: {len(report.errors)}" + "".join(f"\n  {e}" for e in report.errors[:10]))
    lines.append(f"indexing of the big set: before the load {report.before}, after {report.after}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corel", type=Path, default=DEFAULT_COREL, help="folder of images to index")
    parser.add_argument("--clients", type=int, default=20, help="concurrent simulated users")
    parser.add_argument("--queries", type=int, default=10, help="queries per user")
    parser.add_argument("--images", type=int, default=1000, help="images indexed during the load")
    parser.add_argument("--query-images", type=int, default=100, help="size of the pre-indexed query set")
    parser.add_argument("--thumbs", type=int, default=8, help="thumbnails fetched per query")
    parser.add_argument("--network", choices=("real", "tiny"), default="real",
                        help="real VGG-16 (needs the weights) or the tests' stand-in network")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    network = args.network
    if network == "real" and (settings.weights is None or not settings.weights.is_file()):
        print("note: no VGG-16 weights file (SIMAGES_WEIGHTS); indexing with the tiny stand-in network")
        network = "tiny"
    config = LoadConfig(args.corel, args.clients, args.queries, args.images, args.query_images, args.thumbs,
                        network, settings.weights if network == "real" else None)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = run_load(config, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="simages-load-") as folder:
            report = run_load(config, Path(folder))
    print(format_report(config, report))
    return 0 if not report.errors else 1
