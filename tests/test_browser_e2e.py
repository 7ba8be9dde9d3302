"""Real-browser end-to-end test: Debian's headless Chromium drives the app served by a real process.

The server indexes its sets with the real IndexManager and the tiny stand-in network. Screenshots of
each page are saved under test-output/browser_e2e/ (git-ignored); the path is printed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from simages.bench import page_bench
from simages.bench.app_server import REPO, AppServer, wait_for
from tests.gui_fixtures import make_images
from tests.requirements import import_or_missing, missing

pytestmark = pytest.mark.browser

CHROMIUM = Path(page_bench.CHROMIUM)
OUTPUT = REPO / "test-output" / "browser_e2e"
POLISH = REPO / "test-output" / "polish"
CHROMIUM_ARGS = page_bench.CHROMIUM_ARGS
ALL_LOADED = "[...document.querySelectorAll('.thumb-tile img')].every(i => i.complete)"

if not CHROMIUM.is_file():
    missing("Debian chromium is not installed (apt-get install -y chromium)", module_level=True)
sync_api = import_or_missing("playwright.sync_api", "the playwright Python package is not installed")


@pytest.fixture
def server(tmp_path):
    demo = REPO / "image_sets" / "demo"
    if demo.is_dir():
        shutil.copytree(demo, tmp_path / "image_sets" / "demo")
    else:
        make_images(tmp_path, "demo", 10)
    with AppServer("tests.gui_serve", tmp_path) as app_server:
        wait_for(lambda: (tmp_path / "features" / "demo.npz").is_file(), 120, "the sets")
        yield app_server.url


@pytest.fixture
def layout_server(tmp_path):
    """The app on the sets of gui_fixtures.layout_demo, with a stand-in index manager."""
    with AppServer("tests.gui_fixtures", tmp_path) as app_server:
        yield app_server.url


def test_click_thumbnail_shows_ranked_results(server):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server + "/")
            tile = page.locator(".thumb-tile").first
            tile.wait_for(timeout=20_000)
            page.wait_for_function(ALL_LOADED)
            page.screenshot(path=str(OUTPUT / "home.png"), full_page=True)
            key_name = tile.get_attribute("title")

            tile.click()
            page.wait_for_url("**/similar?*", timeout=20_000)
            page.locator(".thumb-score").first.wait_for(timeout=20_000)
            query = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
            assert query["image"] == key_name and query["metric"] == "cosine"
            assert "tmp" not in page.url  # names only, never a file-system path
            scores = [float(text) for text in page.locator(".thumb-score").all_inner_texts()]
            assert scores and scores == sorted(scores, reverse=True)
            titles = [page.locator(".thumb-tile").nth(i).get_attribute("title") for i in range(len(scores))]
            assert key_name not in titles
            page.locator("canvas").first.wait_for(timeout=10_000)  # the score histogram
            page.wait_for_function(ALL_LOADED)
            page.screenshot(path=str(OUTPUT / "results.png"), full_page=True)

            page.locator(".thumb-tile").first.click()
            viewer = page.locator("img.viewer-image").last  # right of the key
            viewer.wait_for(timeout=10_000)
            shown = parse_qs(urlparse(viewer.get_attribute("src") or "").query)
            assert shown["name"] == [titles[0]] and shown["size"] == ["full"]
            first_src = viewer.get_attribute("src")
            page.wait_for_timeout(300)  # the keyboard listener is switched on by the dialog's open event
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "src => ![...document.querySelectorAll('img.viewer-image')].pop().src.endsWith(src)",
                arg=first_src,
            )
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUTPUT / "viewer.png"))
            page.keyboard.press("Escape")
            viewer.wait_for(state="hidden", timeout=10_000)
        finally:
            browser.close()
    print(f"\nscreenshots saved in {OUTPUT}")



def load_all_images(page) -> None:
    """Full-page screenshots: lazy thumbnails below the window would never load by themselves."""
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function(ALL_LOADED)


def check_layout(page) -> None:
    """Nothing wider than the window, and no card of the settings column overlaps the images."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal overflow"
    main = page.locator(".main-column").bounding_box()
    assert main
    for card in page.locator(".side-column > *").all():
        box = card.bounding_box()
        if not box:
            continue
        apart_x = box["x"] + box["width"] <= main["x"] + 1 or main["x"] + main["width"] <= box["x"] + 1
        apart_y = box["y"] + box["height"] <= main["y"] + 1 or main["y"] + main["height"] <= box["y"] + 1
        assert apart_x or apart_y, (box, main)


def test_layout_wide_and_narrow(layout_server, tmp_path):
    POLISH.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for width in (1280, 420):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(layout_server + "/?key_set=corel")
                page.locator(".thumb-tile").first.wait_for(timeout=20_000)
                load_all_images(page)
                check_layout(page)
                # The drop zone instead of Quasar's "label 0.0B / 0.00%" header.
                assert page.get_by_text("Drop an image here or click to choose").is_visible()
                assert "0.00%" not in page.inner_text("body")
                # Status names keep their width next to a long failure message.
                for name in page.locator(".status-name").all():
                    box = name.bounding_box()
                    assert box and box["width"] >= min(name.evaluate("e => e.scrollWidth"), 150), box
                # Captions carry the class folder: the whole name fits in a tile at this size.
                caption = page.locator("[title='dinosaurs/0_400.png'] .thumb-caption")
                assert caption.inner_text().replace("\n", "") == "dinosaurs/0_400.png"
                assert caption.evaluate("e => [...e.children].every(c => c.scrollWidth <= c.clientWidth)")
                page.screenshot(path=str(POLISH / f"home-{width}.png"), full_page=True)
                if width == 1280:  # the drop zone's own file input still uploads (and auto-uploads)
                    picture = tmp_path / "image_sets" / "corel" / "dinosaurs" / "0_413.png"
                    page.locator(".key-upload input[type=file]").set_input_files(str(picture))
                    page.wait_for_url("**/similar?*upload=*", timeout=20_000)
                    page.get_by_text("Uploaded: 0_413.png").wait_for(timeout=10_000)

                page.goto(layout_server + "/?key_set=fresh")  # still indexing: images and a note
                page.locator(".thumb-tile").first.wait_for(timeout=20_000)
                load_all_images(page)
                assert page.get_by_text("fresh is indexing 2 of 5").is_visible()
                check_layout(page)
                page.screenshot(path=str(POLISH / f"home-indexing-{width}.png"), full_page=True)

                page.goto(layout_server + "/similar?key_set=corel&image=dinosaurs/0_400.png&set=corel")
                page.locator(".thumb-score").first.wait_for(timeout=20_000)
                page.locator("canvas").first.wait_for(timeout=10_000)
                load_all_images(page)
                check_layout(page)
                page.screenshot(path=str(POLISH / f"results-{width}.png"), full_page=True)

                response = page.goto(layout_server + "/nope")
                assert response is not None and response.status == 404
                page.get_by_text("Page not found").wait_for(timeout=10_000)
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
                page.screenshot(path=str(POLISH / f"not-found-{width}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    print(f"\nscreenshots saved in {POLISH}")


@pytest.fixture
def join_server(tmp_path):
    """The demo set and a set of edited copies of six of its photos (resized, brightened, mirrored), both
    indexed by the app itself."""
    from PIL import Image, ImageEnhance, ImageOps

    demo = REPO / "image_sets" / "demo"
    if demo.is_dir():
        shutil.copytree(demo, tmp_path / "image_sets" / "demo")
    else:
        make_images(tmp_path, "demo", 10)
    copies = tmp_path / "image_sets" / "copies"
    copies.mkdir()
    originals = sorted((tmp_path / "image_sets" / "demo").rglob("*.*"))[:6]
    edits = [lambda im: im.resize((im.width // 2, im.height // 2)),
             lambda im: ImageEnhance.Brightness(im).enhance(1.15),
             ImageOps.mirror]
    for i, path in enumerate(originals):
        with Image.open(path) as image:
            edits[i % 3](image.convert("RGB")).save(copies / f"copy_of_{path.stem}.jpg", quality=90)
    with AppServer("tests.gui_serve", tmp_path) as app_server:
        for name in ("demo", "copies"):
            wait_for(lambda n=name: (tmp_path / "features" / f"{n}.npz").is_file(), 120, f"the set {name}")
        yield app_server.url, tmp_path


def test_join_two_sets_pairs_groups_csv_and_compare(join_server):
    import json
    import subprocess
    import sys
    from urllib.parse import parse_qs, urlparse

    url, root = join_server
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page.goto(url + "/")
            entry = page.get_by_text("Or join two sets / find duplicates")
            entry.wait_for(timeout=20_000)
            entry.scroll_into_view_if_needed()
            page.screenshot(path=str(OUTPUT / "join-entry.png"))

            page.goto(url + "/join?a=copies&b=demo&predicate=range")
            page.locator(".join-pair").first.wait_for(timeout=30_000)
            page.wait_for_function("() => location.search.includes('param=')")
            params = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
            assert params["a"] == "copies" and params["b"] == "demo" and params["predicate"] == "range"
            # "1 of 12 pairs ... has", "3 of 12 pairs ... have": the verb agrees with the count.
            summary = page.get_by_text(re.compile(r"pairs of copies × demo (has|have) similarity ≥"))
            assert summary.is_visible()
            scores = [float(t.split()[-1]) for t in page.locator(".join-score").all_inner_texts()]
            assert scores and scores == sorted(scores, reverse=True)
            assert min(scores) >= float(params["param"]) - 5e-4  # shown to 3 decimals
            page.locator("canvas").first.wait_for(timeout=10_000)
            load_all_images(page)
            page.screenshot(path=str(OUTPUT / "join-pairs.png"), full_page=True)

            with page.expect_download() as download_info:
                page.get_by_text("Download pairs (CSV)").click()
            downloaded = Path(download_info.value.path()).read_text()
            assert download_info.value.suggested_filename == "join-copies-demo.csv"
            cli = subprocess.run(
                [sys.executable, "-m", "simages", "--root", str(root), "join", "copies", "demo",
                 "--range", params["param"], "--output", "-"],
                cwd=REPO, capture_output=True, text=True, check=True,
            ).stdout
            assert downloaded == cli and downloaded.count("\n") == len(scores) + 1

            page.get_by_text("Matches per image").click()
            page.wait_for_function("() => location.search.includes('view=knn')")
            page.locator(".join-row").first.wait_for(timeout=10_000)
            load_all_images(page)
            page.screenshot(path=str(OUTPUT / "join-knn.png"), full_page=True)

            page.get_by_role("button", name="Groups").click()  # the view toggle, not the JSON link
            page.get_by_text("images", exact=False).first.wait_for(timeout=10_000)
            page.wait_for_function("() => location.search.includes('view=groups')")
            group_line = page.locator(".join-row .text-weight-medium").first
            group_line.wait_for(timeout=10_000)
            assert group_line.inner_text().startswith("Group 1: ")
            load_all_images(page)
            page.screenshot(path=str(OUTPUT / "join-groups.png"), full_page=True)
            # The groups download as a file; the join page stays.
            with page.expect_download() as download_info:
                page.get_by_text("Download groups (JSON)").click()
            assert download_info.value.suggested_filename == "join-copies-demo-groups.json"
            assert json.loads(Path(download_info.value.path()).read_text())["groups"]
            assert group_line.is_visible() and urlparse(page.url).path == "/join"

            page.get_by_role("button", name="Pairs").click()
            page.locator(".join-pair-images").first.click()
            viewer = page.locator("img.viewer-image")
            viewer.first.wait_for(timeout=10_000)
            page.wait_for_function("() => [...document.querySelectorAll('img.viewer-image')]"
                                   ".filter(i => i.complete && i.naturalWidth > 0).length >= 2")
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUTPUT / "join-compare.png"))
            page.keyboard.press("Escape")
            viewer.first.wait_for(state="hidden", timeout=10_000)

            # A click on the histogram sets the threshold: the URL and the summary follow.
            page.get_by_role("button", name="Pairs").click()
            box = page.locator("canvas").first.bounding_box()
            assert box
            page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
            page.wait_for_function("p => !location.search.includes('param=' + p)", arg=params["param"])
            clicked = float(parse_qs(urlparse(page.url).query)["param"][0])
            # Dragging moves the line and sets the threshold where the mouse is released: further right.
            page.locator("canvas").first.wait_for(timeout=10_000)
            box = page.locator("canvas").first.bounding_box()
            assert box
            y = box["y"] + box["height"] * 0.5
            page.mouse.move(box["x"] + box["width"] * 0.3, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
            page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
            page.mouse.up()
            page.wait_for_function("p => !location.search.includes('param=' + p)", arg=f"{clicked:.3f}")
            dragged = float(parse_qs(urlparse(page.url).query)["param"][0])
            assert dragged > clicked
        finally:
            browser.close()
    print(f"\nscreenshots saved in {OUTPUT}")


def test_a_non_image_upload_says_why_in_a_real_browser(layout_server, tmp_path):
    # The refusal comes from Quasar in the browser (accept / max-file-size): only a real browser shows
    # whether the page receives the reason (review finding 7: "too large ... (or it is not an image)").
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(layout_server + "/?key_set=corel")
            page.locator(".thumb-tile").first.wait_for(timeout=20_000)
            page.locator(".key-upload input[type=file]").set_input_files(str(notes))
            status = page.locator(".q-notification").first
            status.wait_for(timeout=10_000)
            text = page.inner_text("body")
            assert "notes.txt is not an image file" in text and "too large" not in text, text
        finally:
            browser.close()
