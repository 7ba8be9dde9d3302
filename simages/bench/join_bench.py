"""`simages bench join`: how soon the join page shows its first page of pairs for a 10,000 x 10,000
self-join at the duplicate threshold, once the stores are loaded.

The descriptors are synthesized (no network, seconds instead of an hour of extraction), shaped like
VGG-16 `gap+l2` descriptors of photos: 512 non-negative values per image, L2-normalised, made of a part
shared by all photos, a sparse class part (100 classes) and a sparse part of the image's own, so that
distinct photos score about 0.35 (cosine), photos of one class about 0.47, and 2% of the images are
edited copies of another image (the original's values plus Gaussian noise, clipped at 0), scoring
0.87-0.98 with their original: some above the duplicate threshold, some not, as real edits do.

Printed, each measured in the same run:
  - loading the store (reading the .npz, building the index);
  - the join in process (the app's runner: blocked join, pairs kept, score histogram, groups), against a
    baseline doing only the unavoidable work: one dense BLAS product of all 10,000 x 10,000 scores,
    thresholded block by block;
  - in headless Chromium (Debian's, unless --no-browser): from navigating to /join until the first page of
    pairs and all its thumbnails in the window are on screen, in a tab that showed another join of the
    set before (the stores are loaded); then the same URL in a new browser context (the finished join
    comes from the cache, the browser has nothing cached: what the page itself costs).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from PIL import Image

from simages.gui.join.views import PAIRS_PER_PAGE
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

SET = "synth"
CLASSES = 100
FLOOR_SECONDS = 5.0
# The first page of the pairs view is drawn (n thumbnails, two per pair) and every thumbnail inside the
# window has loaded (those below it load lazily, as the user scrolls).
_FIRST_PAGE = """n => {
  const images = [...document.querySelectorAll('.join-pair img')];
  const visible = images.filter(i => i.getBoundingClientRect().top < window.innerHeight);
  return images.length >= n && visible.length > 0 && visible.every(i => i.complete && i.naturalWidth > 0);
}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=10_000, help="images in the set (default 10,000)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="cosine threshold (default: the duplicate threshold)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium measurement")


def synthesize(
    count: int, seed: int = 0, dim: int = 512, copies: float = 0.02
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(count, dim) float32 unit vectors shaped like `gap+l2` photo descriptors (see the module), and the
    planted (edited copy, original) row pairs."""
    rng = np.random.default_rng(seed)
    shared = rng.gamma(2.0, 1.0, dim)
    centres = rng.gamma(1.0, 1.0, (CLASSES, dim)) * (rng.random((CLASSES, dim)) < 0.3)
    labels = np.arange(count) % CLASSES
    own = rng.gamma(1.0, 1.0, (count, dim)) * (rng.random((count, dim)) < 0.15)
    raw = 0.25 * shared + centres[labels] + 3.0 * own
    edited = rng.choice(count, int(count * copies), replace=False)
    originals = rng.choice(np.setdiff1d(np.arange(count), edited), len(edited), replace=False)
    scale = np.linalg.norm(raw[originals], axis=1, keepdims=True) / np.sqrt(dim)
    noise = rng.normal(0.0, 1.0, (len(edited), dim)) * scale * rng.uniform(0.2, 0.7, (len(edited), 1))
    raw[edited] = np.maximum(raw[originals] + noise, 0.0)
    vectors = (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)
    return vectors, list(zip(edited.tolist(), originals.tolist(), strict=True))


def write_set(root: Path, vectors: np.ndarray, descriptor: str) -> list[str]:
    """Tiny JPEGs (the page shows their thumbnails) and a store whose fingerprints match them."""
    folder = root / "image_sets" / SET
    names = []
    for i in range(len(vectors)):
        name = f"class_{i % CLASSES:03d}/img_{i:05d}.jpg"
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        colour = (37 * (i % CLASSES) % 256, 91 * i % 256, 160)
        Image.new("RGB", (48, 36), colour).save(path, quality=80)
        names.append(name)
    settings = Settings(root=root)
    fingerprints = [Fingerprint.of((folder / n).stat()) for n in names]
    store = FeatureStore(names, fingerprints, vectors, {"descriptor": descriptor})
    save_store(settings.store_path(SET), store)
    return names


def dense_baseline(vectors: np.ndarray, threshold: float, rows: int = 1000) -> tuple[float, int]:
    """Seconds and passing pairs of the minimal work: all cosines by BLAS, thresholded, no bookkeeping."""
    started = time.perf_counter()
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    passed = 0
    for start in range(0, len(vectors), rows):
        block = vectors[start : start + rows] @ vectors.T
        np.fill_diagonal(block[:, start : start + rows], -1.0)
        passed += int(np.count_nonzero(block >= threshold))
    return time.perf_counter() - started, passed


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def join_url(threshold: float) -> str:
    params = {"a": SET, "b": SET, "intent": "duplicates", "metric": "cosine", "predicate": "range",
              "param": f"{threshold:g}"}
    return "/join?" + urlencode(params)


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    from simages.jobs.join_runner import DONE, JoinRequest, JoinRunner, run_join
    from simages.nearest.core.intents import DUPLICATES
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.duplicates.exact import duplicate_threshold
    from simages.nearest.sets.cache import DescriptorCache

    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs; load average now "
          f"{os.getloadavg()[0]:.1f} (wall times grow with it, CPU seconds do not)")
    with tempfile.TemporaryDirectory(prefix="simages-join-") as temp:
        root = Path(temp)
        (root / "features").mkdir()
        print(f"Synthesizing {args.images:,} descriptors and thumbnails-to-be ...", flush=True)
        vectors, planted = synthesize(args.images)
        local = Settings(root=root)
        # Stored as the app stores them (the default descriptor), read with the duplicates intent.
        names = write_set(root, vectors, settings.descriptor.key())

        cache = DescriptorCache()
        started = time.perf_counter()
        index = cache.get(local, SET, DUPLICATES)
        load = time.perf_counter() - started
        threshold = args.threshold if args.threshold is not None else duplicate_threshold("cosine", index)
        threshold = float(f"{threshold:g}")  # as the page's URL carries it
        runner = JoinRunner(local, cache)
        request = JoinRequest(SET, (SET,), QuerySpec.parse("cosine", "range", threshold), DUPLICATES.name)
        started, cpu_started = time.perf_counter(), time.process_time()
        job = run_join(runner, request)
        joined, joined_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if job.state != DONE or job.outcome is None:
            print(f"the join failed: {job.error}", file=sys.stderr)
            return 1
        outcome = job.outcome
        cpu_started = time.process_time()
        baseline, baseline_pairs = dense_baseline(index.vectors, threshold)
        baseline_cpu = time.process_time() - cpu_started
        found = {frozenset((p.a, p.b)) for p in outcome.pairs.pairs}
        hits = sum(frozenset((names[e], names[o])) in found for e, o in planted)
        print(f"\nSelf-join of {args.images:,} x {args.images:,} images, duplicates intent "
              f"({index.applied or index.descriptor}), cosine >= {threshold:g}:")
        print(f"  store loaded (read, square root, whitening learned): {load * 1000:6.0f} ms")
        # CPU seconds (all threads) do not grow with other processes' load as wall time does.
        print(f"  join in the app's runner (pairs, histogram, groups): {joined * 1000:6.0f} ms "
              f"({joined_cpu:.1f} s CPU; {outcome.pairs.passed:,} pairs, {len(outcome.groups):,} groups)")
        print(f"  baseline, dense BLAS scores + threshold only:  {baseline * 1000:8.0f} ms "
              f"({baseline_cpu:.1f} s CPU; {baseline_pairs:,} pairs)  ratio {joined / baseline:.1f}x")
        if baseline_pairs != outcome.pairs.passed:
            print("  PAIRS DIFFER from the baseline (scores within 1e-6 of the threshold can differ)")
        distinct = len(outcome.pairs.distinct)
        print(f"  planted edited copies found: {hits} of {len(planted)}; pairs of images found: {distinct} "
              f"(precision {hits / max(1, distinct):.2f})")
        if not args.no_browser:
            shown = _browser(root, threshold, 2 * min(PAIRS_PER_PAGE, len(outcome.pairs.pairs)))
            if shown is None:
                return 2
            first, again = shown
            print(f"  browser: first page of pairs shown (stores loaded): {first * 1000:6.0f} ms")
            print(f"  browser: the same join again in a new browser (join cached, no browser cache): "
                  f"{again * 1000:.0f} ms")
            verdict = "ok" if first <= FLOOR_SECONDS else "MISSED"
            print(f"  floor: first page within {FLOOR_SECONDS:g} s of the stores being loaded: {verdict}")
    return 0


def _browser(root: Path, threshold: float, thumbnails: int) -> tuple[float, float] | None:
    from simages.bench.app_server import AppServer
    from simages.bench.page_bench import CHROMIUM, CHROMIUM_ARGS

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("the browser measurement needs playwright and Debian's chromium (or pass --no-browser)")
        return None
    if not Path(CHROMIUM).exists():
        print(f"the browser measurement needs Chromium at {CHROMIUM} (or pass --no-browser)")
        return None
    with AppServer("simages.bench.join_bench", root, ["serve"]) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        # Another join of the same set first: the stores are then loaded, as the floor assumes, and the
        # tab has the app's scripts, as a user coming from the start page has.
        page.goto(server.url + join_url(min(0.999, threshold + 0.05)))
        # The headline of a self-join ("... pairs of images of SET ...") or of a join of two sets.
        page.get_by_text(re.compile(rf"pairs of (images of )?{SET}\b")).first.wait_for(timeout=300_000)
        times = []
        for fresh_browser in (False, True):  # the join computed now; then from the cache, in a new browser
            if fresh_browser:
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            started = time.perf_counter()
            page.goto(server.url + join_url(threshold))
            page.wait_for_function(_FIRST_PAGE, arg=thumbnails, timeout=120_000)
            times.append(time.perf_counter() - started)
        browser.close()
    return times[0], times[1]


class StaticManager:
    """The manager interface of the app for sets that are already indexed: nothing is ever indexed."""

    def __init__(self, settings: Settings) -> None:
        from simages.jobs.status import INDEXED, SetStatus
        from simages.naming import list_sets
        from simages.store.npz_store import read_names_count

        self._statuses = {
            name: SetStatus(name, INDEXED, read_names_count(settings.store_path(name)))
            for name in list_sets(settings.image_sets)
        }

    def statuses(self) -> list:
        return list(self._statuses.values())

    def status(self, set_name: str):
        return self._statuses[set_name]

    async def describe_upload(self, path: Path) -> np.ndarray:
        raise RuntimeError("this benchmark server describes no uploads")


def serve(argv: list[str]) -> None:
    """`python -m simages.bench.join_bench ROOT PORT serve`: the app over ROOT's ready stores."""
    from simages.gui.app import run_app

    settings = Settings(root=Path(argv[0]))
    run_app(settings, host="127.0.0.1", port=int(argv[1]), manager=StaticManager(settings))


if __name__ == "__main__":
    serve(sys.argv[1:])
