"""Real-browser end-to-end test: Debian's headless Chromium drives the app served by a real process.

The server indexes its sets with the real IndexManager and the tiny stand-in network. Screenshots of
each page are saved under test-output/browser_e2e/ (git-ignored); the path is printed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.gui_fixtures import make_images

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "test-output" / "browser_e2e"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

if not CHROMIUM.is_file():
    pytest.skip("Debian chromium is not installed (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.fixture
def server(tmp_path):
    demo = REPO / "image_sets" / "demo"
    if demo.is_dir():
        shutil.copytree(demo, tmp_path / "image_sets" / "demo")
    else:
        make_images(tmp_path, "demo", 10)
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    # NiceGUI treats a process with PYTEST_CURRENT_TEST as a test run and would ignore our port.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.gui_serve", str(tmp_path), str(port)], cwd=REPO, stdout=log,
        stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: urllib.request.urlopen(url + "/", timeout=2).status == 200, 60, "the server")
        wait_for(lambda: (tmp_path / "features" / "demo.npz").is_file(), 120, "indexing of the demo set")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_click_thumbnail_shows_ranked_results(server):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server + "/")
            tile = page.locator(".thumb-tile").first
            tile.wait_for(timeout=20_000)
            page.wait_for_function("[...document.querySelectorAll('.thumb-tile img')].every(i => i.complete)")
            page.screenshot(path=str(OUTPUT / "home.png"), full_page=True)
            key_name = tile.get_attribute("title")

            tile.click()
            page.wait_for_url("**/similar?*", timeout=20_000)
            page.locator(".thumb-score").first.wait_for(timeout=20_000)
            assert f"image={key_name}" in page.url and "metric=cosine" in page.url
            assert "tmp" not in page.url  # names only, never a file-system path
            scores = [float(text) for text in page.locator(".thumb-score").all_inner_texts()]
            assert scores and scores == sorted(scores, reverse=True)
            titles = [page.locator(".thumb-tile").nth(i).get_attribute("title") for i in range(len(scores))]
            assert key_name not in titles
            page.locator("canvas").first.wait_for(timeout=10_000)  # the score histogram
            page.wait_for_function("[...document.querySelectorAll('.thumb-tile img')].every(i => i.complete)")
            page.screenshot(path=str(OUTPUT / "results.png"), full_page=True)

            page.locator(".thumb-tile").first.click()
            viewer = page.locator("img.viewer-image")
            viewer.wait_for(timeout=10_000)
            assert titles[0] in (viewer.get_attribute("src") or "")
            first_src = viewer.get_attribute("src")
            page.wait_for_timeout(300)  # the keyboard listener is switched on by the dialog's open event
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "src => !document.querySelector('img.viewer-image').src.endsWith(src)", arg=first_src
            )
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUTPUT / "viewer.png"))
            page.keyboard.press("Escape")
            viewer.wait_for(state="hidden", timeout=10_000)
        finally:
            browser.close()
    print(f"\nscreenshots saved in {OUTPUT}")
