"""`simages bench page`: how soon the results page is usable with 30 results from 12-megapixel photos.

Generates large JPEGs in a temporary root (never in the repository), serves the app in a separate process
(stand-in network: the page's speed does not depend on the descriptors), and loads `/similar` with k=30
in headless Chromium (Debian's, via Playwright): once cold, when every thumbnail is made on demand, then
in fresh browser contexts (no browser cache) once the thumbnails exist. "Usable" means the ranked list
and all 30 result thumbnails are on screen.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from PIL import Image

from simages.bench.app_server import AppServer, wait_for
from simages.settings import Settings
from simages.store.npz_store import read_names_count

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# The key plus 30 results must be images that finished loading.
_ALL_LOADED = """n => {
  const images = [...document.querySelectorAll('img')].filter(i => i.src.includes('/image?'));
  return images.length >= n && images.every(i => i.complete && i.naturalWidth > 0);
}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--photos", type=int, default=40, help="12 MP photos in the set (default 40)")
    parser.add_argument("--loads", type=int, default=5, help="warm page loads to time (default 5)")


def _make_photos(folder: Path, count: int) -> None:
    """4000x3000 JPEGs that look like photos: smooth gradients, shapes and sensor-like noise."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:300, 0:400].astype(np.float32)
    for index in range(count):
        base = rng.uniform(40, 200, 3)
        waves = [np.sin(x / (20 + 7 * c) + index) * np.cos(y / 31) for c in range(3)]
        small = base + 50 * np.stack(waves, -1)
        image = Image.fromarray(np.clip(small, 0, 255).astype(np.uint8)).resize((4000, 3000), Image.BICUBIC)
        noise = rng.normal(0, 6, (3000, 4000, 1)).astype(np.float32)
        array = np.clip(np.asarray(image, np.float32) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(array).save(folder / f"photo_{index:03d}.jpg", quality=90)


def _timed_load(page, url: str, expected: int) -> float:
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(_ALL_LOADED, arg=expected, timeout=60_000)
    return time.perf_counter() - started


def _fresh_page(browser):
    return browser.new_context(viewport={"width": 1280, "height": 900}).new_page()


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("simages bench page needs playwright (pip install playwright) and Debian's chromium")
        return 2
    if not Path(CHROMIUM).exists():
        print(f"simages bench page needs Chromium at {CHROMIUM} (apt-get install chromium)")
        return 2
    with tempfile.TemporaryDirectory(prefix="simages-page-") as temp:
        root = Path(temp)
        print(f"Writing {args.photos} photos of 4000x3000 pixels ...", flush=True)
        _make_photos(root / "image_sets" / "photos", args.photos)
        (root / "features").mkdir()
        with AppServer("simages.bench.app_server", root, ["tiny"]) as server:
            store = Settings(root=root).store_path("photos")
            wait_for(lambda: read_names_count(store) == args.photos, 600, "indexing of the photos")
            query = {"key_set": "photos", "image": "photo_000.jpg", "set": "photos", "metric": "cosine",
                     "predicate": "knn", "param": "30"}
            url = f"{server.url}/similar?{urlencode(query)}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                cold = _timed_load(_fresh_page(browser), url, 31)
                # A new browser context each time: nothing cached in the browser, not even NiceGUI's scripts.
                fresh = [_timed_load(_fresh_page(browser), url, 31) for _ in range(args.loads)]
                # One tab loading the page again, as a user going back and forth does: scripts cached.
                tab = _fresh_page(browser)
                _timed_load(tab, url, 31)
                warm = [_timed_load(tab, url, 31) for _ in range(args.loads)]
                browser.close()
    print(f"\nResults page, k=30 of {args.photos} photos of 12 MP, headless Chromium:")
    print(f"  first load (thumbnails made on demand): {cold * 1000:8.0f} ms")
    for label, times in (("thumbnails cached, empty browser cache:", fresh),
                         ("thumbnails cached, browser cache warm:", warm)):
        print(f"  {label:<40} {statistics.median(times) * 1000:6.0f} ms median, "
              f"{max(times) * 1000:.0f} ms max over {len(times)}")
    print(f"  target: usable within 1000 ms once thumbnails exist (browser cache warm): "
          f"{'ok' if statistics.median(warm) < 1.0 else 'MISSED'}")
    return 0
